using ChainMargin.Core;
using static ChainMargin.Risk.Tests.Fixtures;

namespace ChainMargin.Risk.Tests;

/// <summary>
/// Options under a cross-chain price disagreement (issue #5): each leg is valued and margined at whichever of the low
/// and high spot gives it the lower value q x V, so a short call and a long put at the high, a long call and a short
/// put at the low. With both sides one price the result is the single-price one, exactly.
/// </summary>
public class TwoSidedOptionTests
{
    private static readonly string[] GridAndStandard = [MarginMethods.Isolated, MarginMethods.Cross, MarginMethods.Dynamic, MarginMethods.Portfolio];

    private static MarketSnapshot Disagreeing(decimal low, decimal high) =>
        Market(extra: [new AssetPrice(Eth, low, PriceStatus.Unsafe, "prices disagree", []) { UsdHigh = high }]);

    private static Portfolio OneOption(bool isCall, decimal size) =>
        Portfolio(collateral: [Collateral(ChainA, "USDC", 100_000m, 6)], options: [Option(ChainA, "ETH", 3050m, 30, isCall, size)]);

    [Theory]
    [InlineData(true, -2, 3100)]
    [InlineData(true, 2, 3000)]
    [InlineData(false, -2, 3000)]
    [InlineData(false, 2, 3100)]
    public void Compute_ChainsDisagree_OptionLegAtTheSideWorseForItsHolder(bool isCall, int size, int side)
    {
        var portfolio = OneOption(isCall, size);
        var split = Compute(portfolio, Prepare(Disagreeing(3000m, 3100m)));
        var atSide = Compute(portfolio, Prepare(Market(eth: side)));
        var atOther = Compute(portfolio, Prepare(Market(eth: side == 3000 ? 3100m : 3000m)));

        foreach (var method in GridAndStandard)
        {
            var option = split.Method(method).Positions.Single(p => p.Kind == "option");
            var expected = atSide.Method(method).Positions.Single(p => p.Kind == "option");
            var other = atOther.Method(method).Positions.Single(p => p.Kind == "option");
            Assert.Equal(expected.Equity, option.Equity);
            Assert.True(option.Equity < other.Equity, $"{method}: {option.Equity} is not below the other side's {other.Equity}");

            // The margin is the chosen side's too (SPAN-style short requirement, grid scan), and the totals agree.
            // Exception: portfolio margin's naked-short contingency is a notional, always at the high spot.
            Assert.Equal(atSide.Method(method).Equity, split.Method(method).Equity);
            if (method == MarginMethods.Portfolio && size < 0 && side == 3000)
            {
                Assert.True(option.Requirement > expected.Requirement);
                Assert.True(split.Method(method).Maintenance > atSide.Method(method).Maintenance);
            }
            else
            {
                Assert.Equal(expected.Requirement, option.Requirement);
                Assert.Equal(atSide.Method(method).Maintenance, split.Method(method).Maintenance);
                Assert.Equal(atSide.Method(method).Initial, split.Method(method).Initial);
            }

            Assert.Equal(split.Method(method).Maintenance, split.Method(method).Positions.Sum(p => p.Requirement));
            Assert.Equal(split.Method(method).Equity, split.Method(method).Positions.Sum(p => p.Equity));
        }
    }

    [Fact]
    public void Compute_ShortCallUnderDisagreement_PortfolioRequirementAtLeastBothChainsAtTheHigh()
    {
        var portfolio = OneOption(true, -3m);

        var split = Compute(portfolio, Prepare(Disagreeing(3000m, 3100m))).Method(MarginMethods.Portfolio);
        var atHigh = Compute(portfolio, Prepare(Market(eth: 3100m))).Method(MarginMethods.Portfolio);
        var atLow = Compute(portfolio, Prepare(Market(eth: 3000m))).Method(MarginMethods.Portfolio);

        Assert.True(split.Maintenance >= atHigh.Maintenance, $"{split.Maintenance} < {atHigh.Maintenance} (both chains at 3100)");
        Assert.True(split.Maintenance > atLow.Maintenance);
        Assert.True(split.Health <= atHigh.Health);
    }

    [Fact]
    public void Compute_MixedBookUnderDisagreement_GridLossesAddTheLegsAtTheirSides()
    {
        var shortCall = Option(ChainA, "ETH", 3200m, 20, true, -2m);
        var longPut = Option(ChainB, "ETH", 2900m, 20, false, 1m);
        var market = Prepare(Disagreeing(3000m, 3100m));

        // Both legs take the high side here; the scenario losses are those of the book at 3100 on every chain.
        var both = MarginEngine.GridLosses(Portfolio(options: [shortCall, longPut]), market)[Eth];
        var call = MarginEngine.GridLosses(Portfolio(options: [shortCall]), Prepare(Market(eth: 3100m)))[Eth];
        var put = MarginEngine.GridLosses(Portfolio(options: [longPut]), Prepare(Market(eth: 3100m)))[Eth];

        for (var k = 0; k < both.Length; k++)
        {
            Assert.Equal(call[k] + put[k], both[k], 9);
        }
    }

    [Fact]
    public void Compute_SidesEqual_OptionsAreTheSinglePriceResultExactly()
    {
        var portfolio = Portfolio(
            collateral: [Collateral(ChainA, "ETH", 5m), Collateral(ChainB, "USDC", 30_000m, 6)],
            perps: [Perp(ChainC, "ETH", -1m, 3000m)],
            options:
            [
                Option(ChainA, "ETH", 3300m, 30, true, -2m), Option(ChainB, "ETH", 2800m, 30, false, 1m),
                Option(ChainC, "ETH", 3000m, 7, true, 1.5m), Option(ChainA, "ETH", 2900m, 60, false, -1m),
            ],
            debts: [Debt(ChainB, "USDC", 4_000m)]);

        var single = Compute(portfolio, Prepare(Market(eth: 3100m)), liquidation: true);
        var twoSidedMarket = Prepare(Market(extra: [new AssetPrice(Eth, 3100m, PriceStatus.Safe, null, []) { UsdHigh = 3100m }]));
        var twoSided = Compute(portfolio, twoSidedMarket, liquidation: true);

        foreach (var method in MarginMethods.All)
        {
            var a = single.Method(method);
            var b = twoSided.Method(method);
            Assert.Equal(a.Status, b.Status);
            Assert.Equal(a.Equity, b.Equity);
            Assert.Equal(a.Maintenance, b.Maintenance);
            Assert.Equal(a.Initial, b.Initial);
            Assert.Equal(a.Positions, b.Positions);
            Assert.Equal(a.LiquidationPrices, b.LiquidationPrices);
        }

        // One price: the high side is the low side's arrays, not a second valuation.
        Assert.All(twoSidedMarket.Series, s => Assert.Same(s.Grid, s.GridHigh));
        Assert.All(twoSidedMarket.Series, s => Assert.Equal(s.Value, s.ValueHigh));
    }
}
