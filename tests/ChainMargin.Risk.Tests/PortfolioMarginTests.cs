using static ChainMargin.Risk.Tests.Fixtures;

namespace ChainMargin.Risk.Tests;

public class PortfolioMarginTests
{
    [Fact]
    public void Compute_LongPerp_WorstScenarioIsTheLargestDownShock()
    {
        var portfolio = Portfolio(collateral: [Collateral(ChainA, "USDC", 10_000m, 6)], perps: [Perp(ChainA, "ETH", 5m, 3000m)]);
        var pm = Compute(portfolio).Method(MarginMethods.Portfolio);
        Assert.Equal(2250m, pm.Maintenance);
        Assert.Equal(2812.5m, pm.Initial);
        Assert.Equal(Eth, pm.Scenario!.Underlying);
        Assert.Equal(-0.15, pm.Scenario.SpotShock!.Value, 12);
        Assert.Equal(2250m, pm.Scenario.Loss);
        Assert.Equal(2250m, pm.Positions.Single(p => p.Kind == "perp").Requirement);
    }

    [Fact]
    public void Compute_VolatileCollateral_IsShocked_StableIsNot()
    {
        var portfolio = Portfolio(collateral: [Collateral(ChainA, "ETH", 10m), Collateral(ChainA, "USDC", 1000m, 6)], perps: [Perp(ChainA, "BTC", 0.1m, 60000m)]);
        var pm = Compute(portfolio).Method(MarginMethods.Portfolio);
        Assert.Equal((10 * 3000 * 0.85 * 0.15) + (6000 * 0.15), D(pm.Maintenance), 6);
    }

    [Fact]
    public void Compute_NakedShortCall_IsWorstGridLossPlusContingency()
    {
        var years = 20 / 365.25;
        var v0 = BlackScholes.Price(true, 3000, 3200, years, 0.8, 0);
        var worst = double.NegativeInfinity;
        foreach (var volShock in new[] { -0.3, 0, 0.3 })
        {
            for (var i = 0; i < 21; i++)
            {
                var spot = 3000 * (1 - 0.15 + (0.3 * i / 20));
                worst = Math.Max(worst, 3 * (BlackScholes.Price(true, spot, 3200, years, 0.8 * (1 + volShock), 0) - v0));
            }
        }

        var portfolio = Portfolio(collateral: [Collateral(ChainA, "USDC", 50_000m, 6)], options: [Option(ChainA, "ETH", 3200m, 20, true, -3m)]);
        var pm = Compute(portfolio).Method(MarginMethods.Portfolio);
        Assert.Equal(worst + (3 * 3000 * 0.01), D(pm.Maintenance), 5);
        Assert.Equal(0.15, pm.Scenario!.SpotShock!.Value, 12);
        Assert.Equal(0.3, pm.Scenario.VolShock!.Value, 12);
        Assert.Equal(pm.Maintenance, pm.Positions.Sum(p => p.Requirement));
    }

    [Fact]
    public void Compute_HedgedAcrossChains_NeedsOnlyTheBasisContingency()
    {
        var portfolio = Portfolio(
            collateral: [Collateral(ChainA, "USDC", 1000m, 6), Collateral(ChainB, "USDC", 1000m, 6)],
            perps: [Perp(ChainA, "ETH", 5m, 3000m), Perp(ChainB, "ETH", -5m, 3000m)]);
        var report = Compute(portfolio);
        Assert.Equal(5 * 3000 * 0.005, D(report.Method(MarginMethods.Portfolio).Maintenance), 9);
        Assert.Equal(900m - 75m, report.Efficiency.PortfolioSaving);
    }

    [Fact]
    public void GridLosses_CoveredCall_AreOffsetByTheUnderlying()
    {
        var portfolio = Portfolio(
            collateral: [Collateral(ChainA, "USDC", 1000m, 6)],
            perps: [Perp(ChainA, "ETH", 1m, 3000m)],
            options: [Option(ChainB, "ETH", 3000m, 30, true, -1m)]);
        var market = Prepare();
        var losses = MarginEngine.GridLosses(portfolio, market)[Eth];
        var pm = Compute(portfolio, market).Method(MarginMethods.Portfolio);

        // A covered call loses less than the perp alone in every down scenario and gains capped upside.
        Assert.All(losses, l => Assert.True(l < 3000 * 0.15 + 1e-9));
        Assert.Equal(losses.Max(), D(pm.Scenario!.Loss), 5);
        Assert.True(D(pm.Maintenance) < D(Compute(Portfolio(collateral: [Collateral(ChainA, "USDC", 1000m, 6)], perps: [Perp(ChainA, "ETH", 1m, 3000m)])).Method(MarginMethods.Portfolio).Maintenance));
    }
}
