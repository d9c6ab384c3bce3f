using FsCheck.Xunit;
using static ChainMargin.Risk.Tests.Fixtures;

namespace ChainMargin.Risk.Tests;

public class PropertyTests
{
    private static readonly string[] StandardRuleMethods = [MarginMethods.Isolated, MarginMethods.Cross, MarginMethods.Dynamic];

    private static MarginReport Run(Core.Portfolio portfolio) =>
        MarginEngine.Compute(new MarginParameters(portfolio, RandomPortfolios.Market) { IncludeLiquidationPrices = false });

    // Stable collateral adds equity and no risk, so no method's health may fall. (Volatile collateral adds risk under
    // the risk-based methods, so there the property is stated for the standard rules only, below.)
    [Property(MaxTest = 60)]
    public void MoreStableCollateral_NeverLowersHealth(int seed, FsCheck.PositiveInt extra)
    {
        var portfolio = RandomPortfolios.Create(seed);
        var chain = portfolio.Chains.DefaultIfEmpty(ChainA).First();
        var richer = portfolio with { Collateral = [.. portfolio.Collateral, Collateral(chain, "USDC", extra.Get % 100_000, 6)] };
        var before = Run(portfolio);
        var after = Run(richer);
        foreach (var method in MarginMethods.All)
        {
            var b = before.Method(method).Health;
            var a = after.Method(method).Health;
            if (b is not null && a is not null)
            {
                Assert.True(a >= b, $"{method}: {b} -> {a}");
            }
        }
    }

    [Property(MaxTest = 60)]
    public void MoreCollateralOfAnyAsset_NeverLowersStandardRuleHealth(int seed, bool eth)
    {
        var portfolio = RandomPortfolios.Create(seed);
        var chain = portfolio.Chains.DefaultIfEmpty(ChainA).Last();
        var added = eth ? Collateral(chain, "ETH", 1.5m) : Collateral(chain, "BTC", 0.05m, 8);
        var before = Run(portfolio);
        var after = Run(portfolio with { Collateral = [.. portfolio.Collateral, added] });
        foreach (var method in StandardRuleMethods)
        {
            var b = before.Method(method).Health;
            var a = after.Method(method).Health;
            if (b is not null && a is not null)
            {
                Assert.True(a >= b, $"{method}: {b} -> {a}");
            }
        }
    }

    [Property(MaxTest = 60)]
    public void Results_DoNotDependOnTheOrderOfPositionsOrChains(int seed, int shuffleSeed)
    {
        var portfolio = RandomPortfolios.Create(seed);
        var random = new Random(shuffleSeed);
        var shuffled = portfolio with
        {
            Collateral = RandomPortfolios.Shuffle(portfolio.Collateral, random),
            Debts = RandomPortfolios.Shuffle(portfolio.Debts, random),
            Perps = RandomPortfolios.Shuffle(portfolio.Perps, random),
            Options = RandomPortfolios.Shuffle(portfolio.Options, random),
        };
        var a = Run(portfolio);
        var b = Run(shuffled);
        foreach (var method in MarginMethods.All)
        {
            var x = a.Method(method);
            var y = b.Method(method);
            Assert.Equal(x.Status, y.Status);
            Assert.Equal(x.Equity, y.Equity);
            Assert.Equal(x.Maintenance, y.Maintenance);
            Assert.Equal(x.Initial, y.Initial);
            Assert.Equal(x.Health, y.Health);
            Assert.Equal(x.Chains, y.Chains);
            Assert.Equal(x.Positions.Select(p => p.ToString()).Order(StringComparer.Ordinal), y.Positions.Select(p => p.ToString()).Order(StringComparer.Ordinal));
        }
    }

    [Property(MaxTest = 60)]
    public void HedgedAcrossChains_NeedsLessPortfolioMarginThanIsolated(FsCheck.PositiveInt size, bool btc, int entrySeed)
    {
        var units = 0.01m + (size.Get % 1000 / 10m);
        var underlying = btc ? "BTC" : "ETH";
        var entry = (btc ? 60000m : 3000m) * (0.9m + (Math.Abs(entrySeed % 200) / 1000m));
        var portfolio = Portfolio(
            collateral: [Collateral(ChainA, "USDC", 5000m, 6), Collateral(ChainB, "USDC", 5000m, 6)],
            perps: [Perp(ChainA, underlying, units, entry), Perp(ChainB, underlying, -units, entry)]);
        var report = Run(portfolio);
        var isolated = report.Method(MarginMethods.Isolated).Chains.Sum(c => c.Requirement);
        Assert.True(report.Method(MarginMethods.Portfolio).Maintenance < isolated);
        Assert.True(report.Efficiency.PortfolioSaving > 0);
    }

    [Property(MaxTest = 60)]
    public void GridRequirement_IsAtLeastEveryScenarioLoss(int seed)
    {
        var portfolio = RandomPortfolios.Create(seed);
        var pm = Run(portfolio).Method(MarginMethods.Portfolio);
        var losses = MarginEngine.GridLosses(portfolio, RandomPortfolios.Market);
        var scenarios = RandomPortfolios.Market.SpotShockList.Count * RandomPortfolios.Market.VolShockList.Count;
        for (var k = 0; k < scenarios; k++)
        {
            var total = losses.Values.Sum(l => l[k]);
            Assert.True(D(pm.Maintenance) >= total - 1e-6, $"scenario {k}: loss {total} > requirement {pm.Maintenance}");
        }
    }

    [Property(MaxTest = 60)]
    public void ExpectedShortfall_IsAtLeastVar(int seed)
    {
        var report = Run(RandomPortfolios.Create(seed));
        foreach (var method in new[] { report.Method(MarginMethods.VarHistorical), report.Method(MarginMethods.VarMonteCarlo) })
        {
            foreach (var confidence in method.Measures.Select(m => m.Confidence).Distinct())
            {
                var var = method.Measures.Single(m => m.Measure == "VaR" && m.Confidence == confidence).Value;
                var es = method.Measures.Single(m => m.Measure == "ES" && m.Confidence == confidence).Value;
                Assert.True(es >= var, $"{method.Method} {confidence}: ES {es} < VaR {var}");
            }
        }
    }

    [Property(MaxTest = 60)]
    public void Contributions_AddUpToTheTotals(int seed)
    {
        var report = Run(RandomPortfolios.Create(seed));
        foreach (var method in report.Methods.Where(m => m.Equity is not null && m.Method != MarginMethods.Credit))
        {
            Assert.Equal(D(method.Equity), (double)method.Positions.Sum(p => p.Equity), 3);
            Assert.Equal(D(method.Maintenance), (double)method.Positions.Sum(p => p.Requirement), 3);
            Assert.Equal((double)method.Positions.Sum(p => p.Requirement), (double)method.Chains.Sum(c => c.Requirement), 3);
        }
    }
}
