using ChainMargin.Core;
using static ChainMargin.Risk.Tests.Fixtures;

namespace ChainMargin.Risk.Tests;

/// <summary>
/// When chains disagree on a price, collateral and long exposure are valued at the low side and debts and short
/// exposure at the high side (issue #5: value conservatively); when they agree both sides are one price.
/// </summary>
public class TwoSidedPriceTests
{
    private static MarketSnapshot Disagreeing(decimal low, decimal high) =>
        Market(extra: [new AssetPrice(Eth, low, PriceStatus.Unsafe, "prices disagree", []) { UsdHigh = high }]);

    [Fact]
    public void Compute_ChainsDisagree_ShortPerpAndDebtAtTheHighCollateralAndLongAtTheLow()
    {
        var portfolio = Portfolio(
            collateral: [Collateral(ChainA, "ETH", 10m)],
            perps: [Perp(ChainB, "ETH", -5m, 3000m), Perp(ChainC, "ETH", 1m, 3000m)],
            debts: [Debt(ChainA, "ETH", 2m, 18)]);

        var cross = Compute(portfolio, Prepare(Disagreeing(3000m, 3300m))).Method(MarginMethods.Cross);

        // Collateral 10 x 3000 x 0.85; debt -2 x 3300; short perp -5 x (3300 - 3000); long perp 1 x (3000 - 3000).
        Assert.Equal(MarginStatus.PriceUnsafe, cross.Status);
        Assert.Equal(25_500m - 6_600m - 1_500m, cross.Equity);
        Assert.Equal(-1_500m, cross.Positions.Single(p => p.Kind == "perp" && p.Chain == ChainB).Equity);
        Assert.Equal(0m, cross.Positions.Single(p => p.Kind == "perp" && p.Chain == ChainC).Equity);
        Assert.Equal(-6_600m, cross.Positions.Single(p => p.Kind == "debt").Equity);

        // The net short of 4 ETH is margined on its notional at the high; the debt by its fraction of 6600.
        Assert.Equal((4m * 3300m * 0.03m) + (6_600m * 0.05m), cross.Maintenance);
    }

    [Fact]
    public void Compute_SidesEqual_IsTheSinglePriceResult()
    {
        var portfolio = Portfolio(
            collateral: [Collateral(ChainA, "ETH", 10m)],
            perps: [Perp(ChainB, "ETH", -5m, 2900m)],
            debts: [Debt(ChainA, "ETH", 2m, 18)]);

        var single = Compute(portfolio, Prepare(Market(eth: 3100m)));
        var twoSided = Compute(portfolio, Prepare(Market(extra: [new AssetPrice(Eth, 3100m, PriceStatus.Safe, null, []) { UsdHigh = 3100m }])));

        foreach (var method in MarginMethods.All)
        {
            Assert.Equal(single.Method(method).Equity, twoSided.Method(method).Equity);
            Assert.Equal(single.Method(method).Maintenance, twoSided.Method(method).Maintenance);
        }
    }

    [Fact]
    public void Compute_ShortPerpUnderDisagreement_NeverHealthierThanAtEitherPrice()
    {
        var portfolio = Portfolio(collateral: [Collateral(ChainA, "USDC", 20_000m, 6)], perps: [Perp(ChainB, "ETH", -10m, 3000m)]);
        var market = Prepare(Disagreeing(3000m, 3300m));

        var split = Compute(portfolio, market);
        var atHigh = Compute(portfolio, Prepare(Market(eth: 3300m)));
        var atLow = Compute(portfolio, Prepare(Market(eth: 3000m)));

        foreach (var method in new[] { MarginMethods.Cross, MarginMethods.Portfolio, MarginMethods.Dynamic, MarginMethods.Isolated })
        {
            // A short is worth least to the account at the high price: the disagreement values it exactly there.
            Assert.Equal(atHigh.Method(method).Equity, split.Method(method).Equity);
            Assert.True(split.Method(method).Health <= atLow.Method(method).Health);
        }

        // The what-if and liquidation-price paths move both sides together.
        var liquidation = Compute(portfolio, market, liquidation: true).Method(MarginMethods.Cross).LiquidationPrices.Single(p => p.Underlying == Eth);
        var reference = Compute(portfolio, Prepare(Market(eth: 3300m)), liquidation: true).Method(MarginMethods.Cross).LiquidationPrices.Single(p => p.Underlying == Eth);
        Assert.Equal(reference.Above!.Value / 3300m, liquidation.Above!.Value / 3000m, 3);
    }
}
