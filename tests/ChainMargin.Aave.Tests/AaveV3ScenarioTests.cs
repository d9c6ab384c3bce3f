using System.Numerics;
using ChainMargin.Core;
using ChainMargin.Host.Aave;
using ChainMargin.Indexing.Aave;
using ChainMargin.Risk.Aave;
using Xunit;
using Xunit.Abstractions;

namespace ChainMargin.Aave.Tests;

/// <summary>
/// The real Aave V3 on anvil, several users and reserves (6, 8 and 18 decimals), borrows (variable and stable),
/// repays (partial, below the accrued interest, full), weeks of interest, price moves, e-mode (with and without a
/// category price source), isolation mode, collateral switched off, and three liquidations (close factor 50% and 100%,
/// one capped by the user's collateral and handing aTokens to the liquidator, one in e-mode with the category's bonus
/// and price source, two paying the protocol fee). After every step the
/// indexer's numbers equal Pool.getUserAccountData for every user at the same block, to the last unit.
/// </summary>
public sealed class AaveV3ScenarioTests(ITestOutputHelper output)
{
    private const long Day = 24 * 3600;

    [Fact]
    public async Task Scenario_EveryStep_IndexerEqualsGetUserAccountDataForEveryUser()
    {
        await using var m = await AaveTestMarket.StartAsync(31_402, output);

        await m.AddUserAsync("dave", ("USDC", 200_000m), ("WETH", 50m), ("WBTC", 2m));
        await m.AddUserAsync("alice", ("USDC", 2_000m), ("WETH", 10m));
        await m.AddUserAsync("bob", ("WBTC", 1m), ("USDC", 10m));
        await m.AddUserAsync("carol", ("WETH", 20m), ("USDC", 10_000m));
        await m.AddUserAsync("erin", ("WETH", 5m), ("USDC", 100m));
        await m.AddUserAsync("frank", ("WETH", 1m), ("USDC", 1_000m));
        await m.AddUserAsync("gina", ("WBTC", 2m));
        await m.AddUserAsync("liz", ("USDC", 100_000m), ("WETH", 20m));

        // Supplies.
        await m.SupplyAsync("dave", "USDC", 200_000m);
        await m.SupplyAsync("dave", "WETH", 50m);
        await m.SupplyAsync("dave", "WBTC", 2m);
        await m.SupplyAsync("alice", "WETH", 10m);
        await m.SupplyAsync("alice", "USDC", 2_000m);
        await m.SupplyAsync("bob", "WBTC", 1m);
        await m.SupplyAsync("carol", "WETH", 20m);
        await m.SupplyAsync("carol", "USDC", 10_000m);
        await m.SupplyAsync("erin", "WETH", 5m);
        await m.SupplyAsync("frank", "WETH", 1m);
        await m.SupplyAsync("frank", "USDC", 1_000m);
        await m.SupplyAsync("gina", "WBTC", 2m);
        var afterSupplies = await m.AssertIndexerMatchesPoolAsync("supplies");

        // WBTC is isolated (debt ceiling): V3.0.2 does not switch an isolated asset on as collateral when supplied
        // (only the isolated-collateral-supplier role does); its holders switch it on themselves.
        Assert.False(AaveV3Inputs.User(afterSupplies, m.Address("bob")).Configuration.IsUsingAsCollateral(m.Reserve("WBTC").Id));
        await m.SetCollateralAsync("bob", "WBTC", true);
        await m.SetCollateralAsync("gina", "WBTC", true);

        // E-mode, collateral switched off, borrows (variable and stable).
        await m.SetEModeAsync("carol", 1);
        await m.SetEModeAsync("gina", 2);
        await m.SetCollateralAsync("frank", "USDC", false);
        await m.BorrowAsync("alice", "USDC", 24_000m);
        await m.BorrowAsync("bob", "USDC", 40_000m);
        await m.BorrowAsync("carol", "WETH", 20m);
        await m.BorrowAsync("erin", "USDC", 3_000m, rateMode: 1);
        await m.BorrowAsync("frank", "USDC", 100m);
        await m.BorrowAsync("gina", "WBTC", 1m);
        var afterBorrows = await m.AssertIndexerMatchesPoolAsync("borrows");
        var frank = AaveV3Inputs.User(afterBorrows, m.Address("frank"));
        Assert.False(frank.Configuration.IsUsingAsCollateral(m.Reserve("USDC").Id));
        Assert.True(frank.For(m.Reserve("USDC").Id)!.ScaledATokenBalance > 0, "frank holds aUSDC that must not count");

        // Isolation: WBTC has a debt ceiling. Bob's only collateral is WBTC, so he is isolated; dave's aWBTC was never
        // switched on as collateral (and must not count).
        var market = AaveV3Inputs.Market(afterBorrows);
        Assert.Equal(m.Reserve("WBTC").Asset, AaveV3AccountCalculator.IsolationOf(market, AaveV3Inputs.User(afterBorrows, m.Address("bob"))));
        var dave = AaveV3Inputs.User(afterBorrows, m.Address("dave"));
        Assert.False(dave.Configuration.IsUsingAsCollateral(m.Reserve("WBTC").Id));
        Assert.True(dave.For(m.Reserve("WBTC").Id)!.ScaledATokenBalance > 0);
        Assert.Null(AaveV3AccountCalculator.IsolationOf(market, dave));

        await m.JumpAsync(21 * Day);
        await m.AssertIndexerMatchesPoolAsync("3 weeks of interest");

        // Repays: partial variable, one unit (less than the interest: the token emits a Mint), partial stable.
        await m.RepayAsync("alice", "USDC", m.Units("USDC", 5_000m));
        await m.RepayAsync("bob", "USDC", 1);
        await m.RepayAsync("erin", "USDC", m.Units("USDC", 1_000m), rateMode: 1);
        await m.AssertIndexerMatchesPoolAsync("repays");
        Assert.Contains(m.Indexer.Facts.OfType<AaveScaledMint>(), f => f.Contract == m.Reserve("USDC").VariableDebtToken && f.Value < f.BalanceIncrease);

        await m.WithdrawAsync("dave", "WETH", m.Units("WETH", 10m));
        await m.WithdrawAsync("frank", "USDC", AaveTestMarket.MaxUint);
        await m.JumpAsync(14 * Day);
        await m.AssertIndexerMatchesPoolAsync("withdrawals and 5 weeks");

        // WBTC falls: bob's health drops between 0.95 and 1, so only half his debt may be repaid.
        await m.SetPriceAsync(m.Reserve("WBTC").Asset, 52_000_0000_0000);
        var beforeFirst = await m.AssertIndexerMatchesPoolAsync("WBTC at 52,000");
        var bob = AaveV3Inputs.User(beforeFirst, m.Address("bob"));
        var bobHealth = AaveV3AccountCalculator.Calculate(AaveV3Inputs.Market(beforeFirst), bob).Data!.HealthFactor;
        Assert.InRange(bobHealth, AaveV3LiquidationRules.CloseFactorHealthThreshold + 1, AaveV3Math.Wad - 1);

        var quote = await LiquidateAndCompareAsync(m, beforeFirst, "bob", "WBTC", "USDC", receiveAToken: false);
        Assert.Equal(AaveV3LiquidationRules.DefaultCloseFactor, quote.CloseFactor);
        Assert.Equal(AaveV3Math.PercentMul(quote.UserDebt, 5_000), quote.DebtToRepay);
        Assert.False(quote.SeizesAllCollateral);
        await m.AssertIndexerMatchesPoolAsync("after partial liquidation of bob");

        // WETH falls hard: alice below 0.95, the whole debt may be repaid; the best pair takes her WETH (fee path),
        // capped by what she has, and the liquidator receives aWETH (BalanceTransfer, collateral enabled for it).
        await m.SetPriceAsync(m.Reserve("WETH").Asset, 1_500_0000_0000);
        var beforeSecond = await m.AssertIndexerMatchesPoolAsync("WETH at 1,500");
        var best = AaveV3LiquidationRules.BestPair(AaveV3Inputs.Market(beforeSecond), AaveV3Inputs.User(beforeSecond, m.Address("alice")));
        Assert.NotNull(best);
        Assert.Equal(m.Reserve("WETH").Asset, best.CollateralAsset);
        var second = await LiquidateAndCompareAsync(m, beforeSecond, "alice", "WETH", "USDC", receiveAToken: true);
        Assert.Equal(AaveV3LiquidationRules.MaxCloseFactor, second.CloseFactor);
        Assert.True(second.SeizesAllCollateral);
        Assert.True(second.ProtocolFee > 0);
        var afterSecond = await m.AssertIndexerMatchesPoolAsync("after full liquidation of alice");
        var liz = AaveV3Inputs.User(afterSecond, m.Address("liz"));
        Assert.True(liz.Configuration.IsUsingAsCollateral(m.Reserve("WETH").Id));
        var treasury = afterSecond.Users.Single(u => u.User == m.Deployment.Treasury);
        Assert.True(treasury.Balances.Single(b => b.ReserveId == m.Reserve("WETH").Id).ScaledATokenBalance > 0);

        // USDC falls to $0.30: carol (e-mode 1, WETH priced by the category's own source at 2,990, USDC outside the
        // category) drops just below 1. Her WETH-for-WETH liquidation takes the category's bonus and price source.
        await m.SetPriceAsync(m.Reserve("USDC").Asset, 3000_0000);
        var beforeThird = await m.AssertIndexerMatchesPoolAsync("USDC at 0.30");
        var third = await LiquidateAndCompareAsync(m, beforeThird, "carol", "WETH", "WETH", receiveAToken: false);
        Assert.Equal(AaveV3LiquidationRules.DefaultCloseFactor, third.CloseFactor);
        Assert.Equal(10100, third.LiquidationBonus);
        Assert.True(third.ProtocolFee > 0);
        await m.AssertIndexerMatchesPoolAsync("after e-mode liquidation of carol");

        // Stable debt repaid in full: the borrowing bit clears with the balance.
        await m.RepayAsync("erin", "USDC", AaveTestMarket.MaxUint, rateMode: 1);
        await m.JumpAsync(7 * Day);
        var last = await m.AssertIndexerMatchesPoolAsync("stable repaid, one more week");
        Assert.False(AaveV3Inputs.User(last, m.Address("erin")).Configuration.IsBorrowing(m.Reserve("USDC").Id));
        output.WriteLine($"{m.Checks} user checks, {m.Indexer.Facts.Count} facts indexed");
    }

    /// <summary>
    /// Quotes the liquidation for the block it will land in (timestamp pinned), sends it asking for all the debt, and
    /// checks that the contract repaid and seized exactly what the rules said.
    /// </summary>
    private static async Task<AaveV3LiquidationQuote> LiquidateAndCompareAsync(
        AaveTestMarket m, AaveV3Snapshot before, string user, string collateral, string debt, bool receiveAToken)
    {
        var landsAt = before.Market.Timestamp + 12;
        var quote = AaveV3LiquidationRules.Quote(
            AaveV3Inputs.Market(before, landsAt), AaveV3Inputs.User(before, m.Address(user)),
            m.Reserve(collateral).Asset, m.Reserve(debt).Asset, AaveTestMarket.MaxUint);
        Assert.True(quote.Allowed, quote.RefusedBecause);

        await m.Chain.SetNextTimestampAsync(landsAt);
        var receipt = await m.LiquidateAsync("liz", collateral, debt, user, AaveTestMarket.MaxUint, receiveAToken);
        await m.Indexer.SyncAsync((long)receipt.BlockNumber.Value, CancellationToken.None);
        var executed = m.Indexer.Facts.OfType<AaveLiquidationCall>().Last();
        Assert.Equal((long)receipt.BlockNumber.Value, executed.Block.Number);
        Assert.Equal(m.Address(user), executed.User);
        Assert.Equal(quote.DebtToRepay, executed.DebtToCover);
        Assert.Equal(quote.CollateralToLiquidator, executed.LiquidatedCollateralAmount);
        m.Output.WriteLine(
            $"liquidation of {user}: close factor {quote.CloseFactor} bp, repaid {executed.DebtToCover} {debt}, seized {executed.LiquidatedCollateralAmount} {collateral}, fee {quote.ProtocolFee}");
        return quote;
    }
}
