using static ChainMargin.Risk.Tests.Fixtures;

namespace ChainMargin.Risk.Tests;

public class CrossMarginTests
{
    [Fact]
    public void Compute_CollateralAndPerp_MatchesHandComputation()
    {
        // 10 ETH x 3000 x 0.85 + 5000 USDC x 0.98 + 5 x (3000 - 2900) = 25500 + 4900 + 500; maintenance 5 x 3000 x 3%.
        var portfolio = Portfolio(
            collateral: [Collateral(ChainA, "ETH", 10m), Collateral(ChainB, "USDC", 5000m, 6)],
            perps: [Perp(ChainB, "ETH", 5m, 2900m)]);
        var cross = Compute(portfolio).Method(MarginMethods.Cross);
        Assert.Equal(MarginStatus.Ok, cross.Status);
        Assert.Equal(30900m, cross.Equity);
        Assert.Equal(450m, cross.Maintenance);
        Assert.Equal(750m, cross.Initial);
        Assert.Equal(Math.Round(30900m / 450m, 6), cross.Health);
        Assert.Equal(cross.Maintenance, cross.Positions.Sum(p => p.Requirement));
        Assert.Equal(cross.Equity, cross.Positions.Sum(p => p.Equity));
        Assert.Equal(450m, cross.Chains.Single(c => c.Chain == ChainB).Requirement);
        Assert.Equal(25500m, cross.Chains.Single(c => c.Chain == ChainA).Equity);
    }

    [Fact]
    public void Compute_LargePerp_UsesItsSizeTier()
    {
        var portfolio = Portfolio(collateral: [Collateral(ChainA, "USDC", 1_000_000m, 6)], perps: [Perp(ChainA, "ETH", -500m, 3000m)]);
        var cross = Compute(portfolio).Method(MarginMethods.Cross);
        Assert.Equal(1_500_000m * 0.05m, cross.Maintenance);
        Assert.Equal(1_500_000m * 0.08m, cross.Initial);
    }

    [Fact]
    public void Compute_ShortAndLongOptions_SpanMinimumAndHaircut()
    {
        var years = 30 / 365.25;
        var call = BlackScholes.Price(true, 3000, 3300, years, 0.8, 0);
        var put = BlackScholes.Price(false, 3000, 2800, years, 0.8, 0);
        var portfolio = Portfolio(
            collateral: [Collateral(ChainA, "USDC", 10_000m, 6)],
            options: [Option(ChainA, "ETH", 3300m, 30, true, -2m), Option(ChainA, "ETH", 2800m, 30, false, 1m)]);
        var cross = Compute(portfolio).Method(MarginMethods.Cross);

        // Short call 300 out of the money: max(0.10 x 3000 - 300, 0.05 x 3000) + mark per unit; the long put at 75%.
        Assert.Equal(2 * (150 + call), D(cross.Maintenance), 5);
        Assert.Equal(2 * (300 + call), D(cross.Initial), 5);
        Assert.Equal(9800 - (2 * call) + (0.75 * put), D(cross.Equity), 5);
    }

    [Fact]
    public void Compute_Debt_CountsInFullAndIsMargined()
    {
        var portfolio = Portfolio(collateral: [Collateral(ChainA, "ETH", 1m)], debts: [Debt(ChainA, "USDC", 1000m)]);
        var cross = Compute(portfolio).Method(MarginMethods.Cross);
        Assert.Equal(2550m - 1000m, cross.Equity);
        Assert.Equal(50m, cross.Maintenance);
        Assert.Equal(100m, cross.Initial);
    }

    [Fact]
    public void Compute_OppositePerpsOnTwoChains_NetInCrossButNotInIsolated()
    {
        var portfolio = Portfolio(
            collateral: [Collateral(ChainA, "USDC", 1000m, 6), Collateral(ChainB, "USDC", 1000m, 6)],
            perps: [Perp(ChainA, "ETH", 5m, 3000m), Perp(ChainB, "ETH", -5m, 3000m)]);
        var report = Compute(portfolio);
        Assert.Equal(0m, report.Method(MarginMethods.Cross).Maintenance);
        Assert.Equal(MarginStatus.NoRequirement, report.Method(MarginMethods.Cross).Status);
        Assert.Null(report.Method(MarginMethods.Cross).Health);
        Assert.Equal(900m, report.Method(MarginMethods.Isolated).Maintenance);
        Assert.Equal(900m, report.Efficiency.CrossSaving);
        Assert.Equal(1m, report.Efficiency.CrossSavingFraction);
    }

    [Fact]
    public void Isolated_CollateralOnAnotherChain_DoesNotCount()
    {
        var portfolio = Portfolio(
            collateral: [Collateral(ChainA, "USDC", 10_000m, 6)],
            perps: [Perp(ChainB, "ETH", 1m, 3100m)]);
        var report = Compute(portfolio);
        var isolated = report.Method(MarginMethods.Isolated);

        // Chain B holds only the perp: equity = its loss of 100 against 90 of maintenance.
        var chainB = isolated.Chains.Single(c => c.Chain == ChainB);
        Assert.Equal(-100m, chainB.Equity);
        Assert.Equal(90m, chainB.Requirement);
        Assert.Equal(Math.Round(-100m / 90m, 6), isolated.Health);
        Assert.True(report.Method(MarginMethods.Cross).Health > 100);
    }

    [Fact]
    public void Headline_IsConfigurable()
    {
        var config = Config();
        Assert.Equal(MarginMethods.Portfolio, Compute(Portfolio(perps: [Perp(ChainA, "ETH", 1m, 3000m)])).Headline.Method);
        config.HeadlineMethod = MarginMethods.Cross;
        var report = Compute(Portfolio(perps: [Perp(ChainA, "ETH", 1m, 3000m)]), Prepare(config: config));
        Assert.Equal(MarginMethods.Cross, report.Headline.Method);
    }

    [Fact]
    public void LiquidationPrice_LongPerp_MatchesClosedForm()
    {
        // Cross: 980 + (P - 3000) = 0.03 P  =>  P = 2020 / 0.97. Portfolio margin: the -15% scenario loss is 0.15 P.
        var portfolio = Portfolio(collateral: [Collateral(ChainA, "USDC", 1000m, 6)], perps: [Perp(ChainA, "ETH", 1m, 3000m)]);
        var report = Compute(portfolio, liquidation: true);
        var cross = report.Method(MarginMethods.Cross).LiquidationPrices.Single();
        Assert.Equal(Eth, cross.Underlying);
        Assert.Equal(2020 / 0.97, D(cross.Below), 4);
        Assert.Null(cross.Above);
        Assert.False(cross.AlreadyBelow);
        var pm = report.Method(MarginMethods.Portfolio).LiquidationPrices.Single();
        Assert.Equal(2020 / 0.85, D(pm.Below), 4);
    }
}
