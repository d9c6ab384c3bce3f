using System.Numerics;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Contracts.Erc20;
using ChainMargin.Contracts.Reference;
using ChainMargin.Testing;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Contracts;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Web3;
using Nethereum.Web3.Accounts;
using Xunit;

namespace ChainMargin.Contracts.Tests;

/// <summary>
/// Shared plumbing for tests against one deployed protocol per test class: each test runs inside an evm snapshot that
/// is reverted afterwards, so tests in a class do not see each other's trades or prices.
/// </summary>
public abstract class ProtocolTestBase : IAsyncLifetime
{
    protected static readonly BigInteger OneUnit = BigInteger.Pow(10, 18);

    private string? _snapshot;

    protected ProtocolTestBase(AnvilProtocolFixture fixture) => Fixture = fixture;

    protected AnvilProtocolFixture Fixture { get; }

    protected DeployedProtocol P => Fixture.Protocol;

    protected static DevAccount Deployer => DevAccounts.Deployer;

    protected static DevAccount Keeper => DevAccounts.Keeper;

    protected static DevAccount Alice => DevAccounts.Traders[0];

    protected static DevAccount Bob => DevAccounts.Traders[1];

    public async Task InitializeAsync() => _snapshot = await Fixture.Rpc.SnapshotAsync();

    public async Task DisposeAsync()
    {
        if (_snapshot is not null)
        {
            Assert.True(await Fixture.Rpc.RevertAsync(_snapshot));
        }
    }

    protected Web3 Web3For(DevAccount account) => new(new Account(account.PrivateKey, Fixture.ChainId), Fixture.RpcUrl);

    /// <summary>Sends a transaction (gas estimated, so a revert throws here with its reason) and returns its receipt.</summary>
    protected async Task<TransactionReceipt> SendAsync<T>(DevAccount from, string contract, T message)
        where T : FunctionMessage, new()
    {
        var web3 = Web3For(from);
        var hash = await web3.Eth.GetContractTransactionHandler<T>().SendRequestAsync(contract, message);
        // Anvil automines, so the receipt normally exists by the time the send returns.
        for (var attempt = 0; ; attempt++)
        {
            var receipt = await web3.Eth.Transactions.GetTransactionReceipt.SendRequestAsync(hash);
            if (receipt is not null)
            {
                Assert.True(receipt.Status.Value == 1, $"{typeof(T).Name} reverted");
                return receipt;
            }

            Assert.True(attempt < 200, $"{typeof(T).Name} was not mined");
            await Task.Delay(10);
        }
    }

    /// <summary>Asserts that the transaction reverts with <paramref name="reason"/> (seen at gas estimation).</summary>
    protected async Task ExpectRevertAsync<T>(DevAccount from, string contract, T message, string reason)
        where T : FunctionMessage, new()
    {
        var before = await Fixture.Rpc.BlockNumberAsync();
        var error = await Assert.ThrowsAnyAsync<Exception>(() => SendAsync(from, contract, message));
        Assert.Contains(reason, error.ToString(), StringComparison.Ordinal);
        Assert.Equal(before, await Fixture.Rpc.BlockNumberAsync());
    }

    protected Task<TOut> QueryAsync<T, TOut>(string contract, T message)
        where T : FunctionMessage, new() =>
        Web3For(Deployer).Eth.GetContractQueryHandler<T>().QueryAsync<TOut>(contract, message);

    protected Task<TOut> QueryDtoAsync<T, TOut>(string contract, T message)
        where T : FunctionMessage, new()
        where TOut : IFunctionOutputDTO, new() =>
        Web3For(Deployer).Eth.GetContractQueryHandler<T>().QueryDeserializingToObjectAsync<TOut>(message, contract);

    protected Task<BigInteger> TokenBalanceAsync(string token, string holder) =>
        QueryAsync<BalanceOfFunction, BigInteger>(token, new BalanceOfFunction { Account = holder });

    protected Task<BigInteger> VaultBalanceAsync(string account, string token) =>
        QueryAsync<VaultBalanceOfFunction, BigInteger>(P.Vault, new VaultBalanceOfFunction { Account = account, Token = token });

    /// <summary>Mints from the faucet, approves the vault and deposits.</summary>
    protected async Task<TransactionReceipt> FundAndDepositAsync(DevAccount account, string token, BigInteger amount)
    {
        await SendAsync(account, token, new MintFunction { To = account.Address, Amount = amount });
        await SendAsync(account, token, new ApproveFunction { Spender = P.Vault, Amount = amount });
        return await SendAsync(account, P.Vault, new DepositFunction { Token = token, Amount = amount });
    }

    /// <summary>Publishes a new round on a feed (8 decimals), as its owner.</summary>
    protected Task<TransactionReceipt> SetPriceAsync(string feed, decimal value) =>
        SendAsync(Deployer, feed, new SetAnswerFunction { Answer = ReferenceProtocolDeployer.ToFeedUnits(value) });

    protected static BigInteger Usdc(decimal amount) => new(decimal.Round(amount * 1_000_000m));

    protected static BigInteger Units18(decimal amount) => new(decimal.Round(amount * 1_000_000_000_000_000_000m));

    protected static List<EventLog<TEvent>> Events<TEvent>(TransactionReceipt receipt)
        where TEvent : IEventDTO, new() => receipt.DecodeAllEvents<TEvent>();
}
