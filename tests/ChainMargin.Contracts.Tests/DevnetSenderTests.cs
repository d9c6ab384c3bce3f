using System.Numerics;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Contracts.Erc20;
using ChainMargin.Contracts.Reference;
using ChainMargin.Testing;
using Xunit;

namespace ChainMargin.Contracts.Tests;

public sealed class DevnetSenderTests(AnvilProtocolFixture fixture) : ProtocolTestBase(fixture), IClassFixture<AnvilProtocolFixture>
{
    [Fact]
    public async Task VerifyAsync_RevertedTransaction_NamesItsLabel()
    {
        var tx = await DevnetSender.CreateAsync(Fixture.RpcUrl, Alice.PrivateKey, Fixture.ChainId);
        tx.QueueCall(P.Usdc, new MintFunction { To = Alice.Address, Amount = 5 }, "mint");
        tx.QueueCall(P.Vault, new WithdrawFunction { Token = P.Usdc, Amount = 1 }, "withdraw what is not there");
        tx.QueueCall(P.Usdc, new MintFunction { To = Alice.Address, Amount = 7 }, "mint again");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => tx.VerifyAsync());
        Assert.Contains("withdraw what is not there", error.Message, StringComparison.Ordinal);
        Assert.Contains("reverted", error.Message, StringComparison.Ordinal);
        // The transactions around it were mined and applied in order.
        Assert.Equal(new BigInteger(12), await TokenBalanceAsync(P.Usdc, Alice.Address));
    }

    [Fact]
    public async Task SignCall_InjectedByAReorg_LandsInTheReplacementBlock()
    {
        await SendAsync(Alice, P.Usdc, new MintFunction { To = Alice.Address, Amount = Usdc(40m) });
        await SendAsync(Alice, P.Usdc, new ApproveFunction { Spender = P.Vault, Amount = Usdc(40m) });
        await Fixture.Rpc.MineBlocksAsync(2);
        var tip = await Fixture.Rpc.BlockAsync();

        var tx = await DevnetSender.CreateAsync(Fixture.RpcUrl, Alice.PrivateKey, Fixture.ChainId);
        var raw = tx.SignCall(P.Vault, new DepositFunction { Token = P.Usdc, Amount = Usdc(40m) }, tx.NextNonce);
        Assert.Equal(BigInteger.Zero, await VaultBalanceAsync(Alice.Address, P.Usdc));

        await Fixture.Rpc.ReorgAsync(2, [(raw, 1)]);

        Assert.Equal(Usdc(40m), await VaultBalanceAsync(Alice.Address, P.Usdc));
        var replaced = await Fixture.Rpc.BlockAsync(tip.Number);
        Assert.NotEqual(tip.Hash, replaced.Hash);
        var receipt = await Web3For(Deployer).Eth.Transactions.GetTransactionReceipt.SendRequestAsync(
            Nethereum.Util.Sha3Keccack.Current.CalculateHashFromHex(raw));
        Assert.Equal(tip.Number, (long)receipt.BlockNumber.Value);
        Assert.Single(Events<DepositedEventDto>(receipt));
    }
}
