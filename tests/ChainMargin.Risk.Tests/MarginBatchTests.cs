using ChainMargin.Core;
using static ChainMargin.Risk.Tests.Fixtures;

namespace ChainMargin.Risk.Tests;

public class MarginBatchTests
{
    private static EvmAddress Address(int i) => EvmAddress.Parse("0x" + i.ToString("x40", System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public void Batch_EveryAccount_EqualsTheSingleAccountEngine()
    {
        var market = RandomPortfolios.Market;
        var portfolios = Enumerable.Range(0, 200).Select(i => RandomPortfolios.Create(1000 + i, Address(i + 1))).ToList();
        var batch = MarginBatch.Create(portfolios, market);
        batch.ComputeAll();
        batch.ComputeVar(monteCarlo: false);
        batch.ComputeVar(monteCarlo: true);
        for (var i = 0; i < portfolios.Count; i++)
        {
            var single = MarginEngine.Compute(new MarginParameters(portfolios[i], market) { IncludeLiquidationPrices = false });
            var swept = batch.Get(i);
            Assert.Equal(portfolios[i].Account, swept.Account);
            foreach (var method in swept.Methods)
            {
                var expected = single.Method(method.Method);
                Assert.Equal(expected.Status, method.Status);
                Assert.Equal(expected.Equity, method.Equity);
                Assert.Equal(expected.Maintenance, method.Maintenance);
                Assert.Equal(expected.Initial, method.Initial);
                Assert.Equal(expected.Health, method.Health);
            }
        }
    }

    [Fact]
    public void Recompute_TouchedAccounts_MatchesAFullRecompute()
    {
        var market = RandomPortfolios.Market;
        var portfolios = Enumerable.Range(0, 100).Select(i => RandomPortfolios.Create(5000 + i, Address(i + 1))).ToList();
        var batch = MarginBatch.Create(portfolios, market);
        batch.ComputeAll();
        var touched = new[] { 3, 17, 42, 99 };
        foreach (var i in touched)
        {
            var p = portfolios[i];
            portfolios[i] = p with { Perps = [.. p.Perps, Perp(ChainA, "ETH", 2m, 2500m)] };
            batch.Update(i, portfolios[i]);
        }

        batch.Recompute(touched);
        var fresh = MarginBatch.Create(portfolios, market);
        fresh.ComputeAll();
        for (var i = 0; i < portfolios.Count; i++)
        {
            Assert.Equal(fresh.Get(i).Methods.Where(m => m.Status != MarginStatus.NotComputed), batch.Get(i).Methods.Where(m => m.Status != MarginStatus.NotComputed));
        }
    }

    [Fact]
    public void Reprice_NextPriceUpdate_EqualsAFreshBatch()
    {
        var config = Config();
        var first = Prepare(config: config);
        var portfolios = Enumerable.Range(0, 150).Select(i => RandomPortfolios.Create(9000 + i, Address(i + 1))).ToList();
        var batch = MarginBatch.Create(portfolios, first);
        batch.ComputeAll();

        var moved = Market(eth: 2700m, btc: 64000m, ethVol: 0.95, stale: new Dictionary<ChainId, string> { [ChainB] = "lagging" });
        var second = Prepare(moved, config);
        var repriced = batch.Reprice(second);
        repriced.ComputeAll();
        var fresh = MarginBatch.Create(portfolios, second);
        fresh.ComputeAll();
        var changed = 0;
        for (var i = 0; i < portfolios.Count; i++)
        {
            Assert.Equal(fresh.Get(i).Methods, repriced.Get(i).Methods);
            changed += batch.Get(i).Headline.Equals(repriced.Get(i).Headline) ? 0 : 1;
        }

        Assert.True(changed > 100, "a price move should change most accounts");
        Assert.Throws<ArgumentException>(() => batch.Reprice(Prepare(moved)));
    }

    [Fact]
    public void Batch_UnpricedAccount_ReportsNullsNotZeros()
    {
        var snapshot = Market(extra: [AssetPrice.Missing(Btc, "feed down")]);
        var market = Prepare(snapshot);
        var batch = MarginBatch.Create([Portfolio(perps: [Perp(ChainA, "BTC", 1m, 60000m)]), Portfolio(perps: [Perp(ChainA, "ETH", 1m, 3000m)], collateral: [Collateral(ChainA, "USDC", 1000m, 6)])], market);
        batch.ComputeAll();
        Assert.Equal(MarginStatus.Unpriced, batch.Get(0).Headline.Status);
        Assert.Null(batch.Get(0).Headline.Health);
        Assert.Equal(MarginStatus.Ok, batch.Get(1).Headline.Status);
        Assert.Equal(Math.Round(980m / 450m, 6), batch.Get(1).Headline.Health);
    }
}
