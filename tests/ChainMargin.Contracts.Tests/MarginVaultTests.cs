using System.Numerics;
using ChainMargin.Contracts.Erc20;
using ChainMargin.Contracts.Reference;
using ChainMargin.Testing;
using Xunit;

namespace ChainMargin.Contracts.Tests;

public sealed class MarginVaultTests(AnvilProtocolFixture fixture) : ProtocolTestBase(fixture), IClassFixture<AnvilProtocolFixture>
{
    [Fact]
    public async Task Deposit_ListedToken_MovesTokensAndEmitsDeposited()
    {
        var amount = Units18(2.5m);
        var vaultBefore = await TokenBalanceAsync(P.Weth, P.Vault);

        var receipt = await FundAndDepositAsync(Alice, P.Weth, amount);

        Assert.Equal(amount, await VaultBalanceAsync(Alice.Address, P.Weth));
        Assert.Equal(vaultBefore + amount, await TokenBalanceAsync(P.Weth, P.Vault));
        Assert.Equal(BigInteger.Zero, await TokenBalanceAsync(P.Weth, Alice.Address));
        var deposited = Assert.Single(Events<DepositedEventDto>(receipt));
        Assert.Equal(Alice.Address, deposited.Event.Account.ToLowerInvariant());
        Assert.Equal(P.Weth, deposited.Event.Token.ToLowerInvariant());
        Assert.Equal(amount, deposited.Event.Amount);
        Assert.Equal(P.Vault, deposited.Log.Address.ToLowerInvariant());
        // (account, token) are the first two indexed topics of every balance event, so a log filter can select by them.
        Assert.EndsWith(Alice.Address[2..], deposited.Log.Topics[1].ToString(), StringComparison.OrdinalIgnoreCase);
        Assert.EndsWith(P.Weth[2..], deposited.Log.Topics[2].ToString(), StringComparison.OrdinalIgnoreCase);
        Assert.Empty(Events<WithdrawnEventDto>(receipt));
    }

    [Fact]
    public async Task Withdraw_PartOfBalance_ReturnsTokensAndEmitsWithdrawn()
    {
        await FundAndDepositAsync(Alice, P.Usdc, Usdc(1_000m));
        await FundAndDepositAsync(Alice, P.Wbtc, 50_000_000); // 0.5 WBTC

        var receipt = await SendAsync(Alice, P.Vault, new WithdrawFunction { Token = P.Usdc, Amount = Usdc(250.5m) });

        Assert.Equal(Usdc(749.5m), await VaultBalanceAsync(Alice.Address, P.Usdc));
        Assert.Equal(Usdc(250.5m), await TokenBalanceAsync(P.Usdc, Alice.Address));
        Assert.Equal(new BigInteger(50_000_000), await VaultBalanceAsync(Alice.Address, P.Wbtc));
        var withdrawn = Assert.Single(Events<WithdrawnEventDto>(receipt)).Event;
        Assert.Equal(Alice.Address, withdrawn.Account.ToLowerInvariant());
        Assert.Equal(P.Usdc, withdrawn.Token.ToLowerInvariant());
        Assert.Equal(Usdc(250.5m), withdrawn.Amount);
        Assert.Single(Events<TransferEventDto>(receipt));
    }

    [Fact]
    public async Task Withdraw_MoreThanBalance_Reverts()
    {
        await FundAndDepositAsync(Alice, P.Usdc, Usdc(10m));
        await ExpectRevertAsync(Alice, P.Vault, new WithdrawFunction { Token = P.Usdc, Amount = Usdc(10.000001m) }, "insufficient balance");
        // Another account's deposit is not Bob's to withdraw.
        await ExpectRevertAsync(Bob, P.Vault, new WithdrawFunction { Token = P.Usdc, Amount = 1 }, "insufficient balance");
    }

    [Fact]
    public async Task Deposit_UnlistedToken_Reverts()
    {
        await ExpectRevertAsync(Alice, P.Vault, new DepositFunction { Token = P.SpotFeed("ETH"), Amount = 1 }, "not collateral");
        await ExpectRevertAsync(Alice, P.Vault, new DepositFunction { Token = P.Usdc, Amount = 0 }, "zero amount");
    }

    [Fact]
    public async Task SettleAndSeize_FromAnAccountThatIsNotAMarket_Revert()
    {
        await FundAndDepositAsync(Alice, P.Usdc, Usdc(10m));
        await ExpectRevertAsync(Bob, P.Vault, new SettlePnlFunction { Account = Bob.Address, Amount = Usdc(1m) }, "not a market");
        await ExpectRevertAsync(Bob, P.Vault, new SeizeFunction { Account = Alice.Address, Token = P.Usdc, Amount = 1, To = Bob.Address }, "not a market");
        await ExpectRevertAsync(Bob, P.Vault, new SetMarketFunction { Market = Bob.Address, Enabled = true }, "not owner");
    }

    [Fact]
    public async Task FundInsurance_AddsToTheInsuranceBalance()
    {
        var before = await QueryAsync<InsuranceBalanceFunction, BigInteger>(P.Vault, new InsuranceBalanceFunction { Token = P.Usdc });
        await SendAsync(Bob, P.Usdc, new MintFunction { To = Bob.Address, Amount = Usdc(5m) });
        await SendAsync(Bob, P.Usdc, new ApproveFunction { Spender = P.Vault, Amount = Usdc(5m) });
        var receipt = await SendAsync(Bob, P.Vault, new FundInsuranceFunction { Token = P.Usdc, Amount = Usdc(5m) });

        Assert.Equal(before + Usdc(5m), await QueryAsync<InsuranceBalanceFunction, BigInteger>(P.Vault, new InsuranceBalanceFunction { Token = P.Usdc }));
        Assert.Equal(Usdc(5m), Assert.Single(Events<InsuranceFundedEventDto>(receipt)).Event.Amount);
        // Insurance is not an account balance: no account-balance event.
        Assert.Empty(Events<DepositedEventDto>(receipt));
    }
}
