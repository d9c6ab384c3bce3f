using ChainMargin.Core;
using MathNet.Numerics.Distributions;
using static ChainMargin.Risk.Tests.Fixtures;

namespace ChainMargin.Risk.Tests;

public class VarTests
{
    private static readonly PriceHistory History500 = History(500, 7, (Eth, 3000, 0.04), (Btc, 60000, 0.03), (Usdc, 1, 0.0005));

    [Fact]
    public void MonteCarloVar_LinearPortfolio_ConvergesToParametricWithin1Percent()
    {
        var config = Config();
        config.Var.Scenarios = 400_000;
        config.Var.HorizonDays = 2;
        config.Var.MaintenanceMeasure = "VaR";
        config.Var.MaintenanceConfidence = 0.99;
        var market = Prepare(config: config, history: History500);
        var portfolio = Portfolio(
            collateral: [Collateral(ChainA, "USDC", 100_000m, 6)],
            perps: [Perp(ChainA, "ETH", 10m, 3000m), Perp(ChainB, "BTC", -0.3m, 60000m)]);
        var mc = Compute(portfolio, market).Method(MarginMethods.VarMonteCarlo);

        // Parametric: P&L = x'r with r ~ N(0, 2 S), x the USD exposures; VaR = z sigma, ES = sigma phi(z) / (1 - c).
        var factors = market.Factors!;
        var x = new double[factors.Assets.Count];
        x[factors.IndexOf(Eth)] = 10 * 3000;
        x[factors.IndexOf(Btc)] = -0.3 * 60000;
        var variance = 0.0;
        for (var i = 0; i < x.Length; i++)
        {
            for (var j = 0; j < x.Length; j++)
            {
                variance += x[i] * x[j] * factors.Covariance[i, j] * 2;
            }
        }

        var sigma = Math.Sqrt(variance);
        foreach (var c in new[] { 0.99, 0.975 })
        {
            var z = Normal.InvCDF(0, 1, c);
            var var = D(mc.Measures.Single(m => m.Measure == "VaR" && m.Confidence == c).Value);
            var es = D(mc.Measures.Single(m => m.Measure == "ES" && m.Confidence == c).Value);
            Assert.InRange(var / (z * sigma), 0.99, 1.01);
            Assert.InRange(es / (sigma * Normal.PDF(0, 1, z) / (1 - c)), 0.99, 1.01);
            Assert.True(es >= var);
        }

        Assert.Equal(mc.Measures.Single(m => m.Measure == "VaR" && m.Confidence == 0.99).Value, mc.Maintenance);
        Assert.Equal(D(mc.Maintenance), (double)mc.Positions.Sum(p => p.Requirement), 3);
    }

    [Fact]
    public void HistoricalVar_LinearExposure_IsTheEmpiricalQuantile()
    {
        var market = Prepare(history: History500);
        var portfolio = Portfolio(collateral: [Collateral(ChainA, "USDC", 50_000m, 6)], perps: [Perp(ChainA, "ETH", 4m, 3000m)]);
        var hist = Compute(portfolio, market).Method(MarginMethods.VarHistorical);

        var prices = History500.Prices[Eth];
        var losses = Enumerable.Range(1, prices.Length - 1).Select(t => -12000 * Math.Log(prices[t] / prices[t - 1])).OrderDescending().ToArray();
        var k99 = (int)Math.Ceiling(499 * 0.01);
        var k975 = (int)Math.Ceiling(499 * 0.025);
        Assert.Equal(losses[k99 - 1], D(hist.Measures.Single(m => m.Measure == "VaR" && m.Confidence == 0.99).Value), 5);
        Assert.Equal(losses.Take(k975).Average(), D(hist.Measures.Single(m => m.Measure == "ES" && m.Confidence == 0.975).Value), 5);

        // Default maintenance measure: ES at 97.5%.
        Assert.Equal(losses.Take(k975).Average(), D(hist.Maintenance), 5);
        Assert.Equal(MarginStatus.Ok, hist.Status);
    }

    [Fact]
    public void LiquidationPrice_LinearVar_MatchesClosedForm()
    {
        // A linear exposure's ES scales with spot: maintenance(P) = c P with c = maintenance(3000) / 3000, so
        // 980 + (P - 3000) = c P gives P = 2020 / (1 - c).
        var portfolio = Portfolio(collateral: [Collateral(ChainA, "USDC", 1000m, 6)], perps: [Perp(ChainA, "ETH", 1m, 3000m)]);
        var report = Compute(portfolio, Prepare(history: History500), liquidation: true);
        foreach (var name in new[] { MarginMethods.VarMonteCarlo, MarginMethods.VarHistorical })
        {
            var method = report.Method(name);
            var c = D(method.Maintenance) / 3000;
            var price = method.LiquidationPrices.Single();
            Assert.Equal(2020 / (1 - c), D(price.Below), 3);
            Assert.Null(price.Above);
        }
    }

    [Fact]
    public void Ewma_MatchesTheRiskMetricsRecursion()
    {
        double[][] returns = [[0.01, -0.02, 0.015, 0.03, -0.01], [0.005, -0.01, 0.02, 0.01, 0.0]];
        var s = FactorModel.Ewma(returns, 0.94);

        // Seeded with the sample second moment of all five returns (fewer than 20), so no recursion step applies.
        var expected01 = returns[0].Zip(returns[1], (a, b) => a * b).Average();
        Assert.Equal(expected01, s[0, 1], 15);

        var longer = new[] { Enumerable.Range(0, 40).Select(i => Math.Sin(i) / 50).ToArray() };
        var seeded = longer[0].Take(20).Select(r => r * r).Average();
        foreach (var r in longer[0].Skip(20))
        {
            seeded = (0.94 * seeded) + (0.06 * r * r);
        }

        Assert.Equal(seeded, FactorModel.Ewma(longer, 0.94)[0, 0], 15);
    }

    [Fact]
    public void Cholesky_ReproducesTheCovariance()
    {
        var market = Prepare(history: History500);
        var covariance = market.Factors!.Covariance;
        var l = FactorModel.CholeskyFactor(covariance);
        var product = l * l.Transpose();
        for (var i = 0; i < product.RowCount; i++)
        {
            for (var j = 0; j < product.ColumnCount; j++)
            {
                Assert.Equal(covariance[i, j], product[i, j], 12);
            }
        }
    }

    [Fact]
    public void Var_WithoutHistory_IsNotComputedWithReason()
    {
        var report = Compute(Portfolio(collateral: [Collateral(ChainA, "USDC", 1000m, 6)], perps: [Perp(ChainA, "ETH", 1m, 3000m)]));
        var mc = report.Method(MarginMethods.VarMonteCarlo);
        Assert.Equal(MarginStatus.NotComputed, mc.Status);
        Assert.Null(mc.Health);
        Assert.Contains(mc.Reasons, r => r.Contains("no price history", StringComparison.Ordinal));
        Assert.Equal(MarginStatus.Ok, report.Method(MarginMethods.Portfolio).Status);
    }

    [Fact]
    public void Var_AssetMissingFromHistory_NamesIt()
    {
        var history = History(100, 3, (Btc, 60000, 0.03));
        var report = Compute(Portfolio(collateral: [Collateral(ChainA, "USDC", 1000m, 6)], perps: [Perp(ChainA, "ETH", 1m, 3000m)]), Prepare(history: history));
        Assert.Contains(report.Method(MarginMethods.VarHistorical).Reasons, r => r == "no price history for ETH");
    }

    [Fact]
    public void History_WithABadPrice_ExcludesThatAsset()
    {
        var history = History(100, 3, (Btc, 60000, 0.03), (Eth, 3000, 0.04));
        history.Prices[Eth][50] = double.NaN;
        var market = Prepare(history: history);
        Assert.Equal(-1, market.Factors!.IndexOf(Eth));
        Assert.Contains(market.Factors.Excluded, e => e.Contains("ETH", StringComparison.Ordinal));
    }
}

public class DynamicAndCreditTests
{
    [Fact]
    public void Dynamic_HighEwmaVol_ScalesTheFractions()
    {
        var history = History(300, 11, (Eth, 3000, 0.07), (Btc, 60000, 0.01));
        var market = Prepare(history: history);
        var portfolio = Portfolio(collateral: [Collateral(ChainA, "USDC", 10_000m, 6)], perps: [Perp(ChainA, "ETH", 2m, 3000m), Perp(ChainA, "BTC", 0.1m, 60000m)]);
        var report = Compute(portfolio, market);
        var ethVol = market.Factors!.AnnualisedVol[market.Factors.IndexOf(Eth)];
        var ethScale = Math.Clamp(ethVol / 0.70, 1, 3);
        var lastEthMove = market.Factors.LastMove[market.Factors.IndexOf(Eth)];
        if (lastEthMove >= 0.10)
        {
            ethScale *= 1.5;
        }

        Assert.True(ethScale > 1.2, "the test history should be more volatile than the reference");

        // BTC's EWMA vol (about 19%) is below its 55% reference: the floor of 1 applies.
        Assert.Equal((6000 * 0.03 * ethScale) + (6000 * 0.03), D(report.Method(MarginMethods.Dynamic).Maintenance), 6);
        Assert.Equal(360m, report.Method(MarginMethods.Cross).Maintenance);
        Assert.Contains(report.Method(MarginMethods.Dynamic).Reasons, r => r.StartsWith("ETH: fractions x", StringComparison.Ordinal));
    }

    [Fact]
    public void Dynamic_ExtremeLastMove_TripsTheCircuitBreaker()
    {
        var history = History(200, 5, (Eth, 3000, 0.01), (Btc, 60000, 0.01));
        history.Prices[Eth][^1] = history.Prices[Eth][^2] * 0.8;
        var market = Prepare(history: history);
        var f = market.Factors!;
        var scale = Math.Clamp(f.AnnualisedVol[f.IndexOf(Eth)] / 0.70, 1, 3) * 1.5;
        var report = Compute(Portfolio(collateral: [Collateral(ChainA, "USDC", 10_000m, 6)], perps: [Perp(ChainA, "ETH", 2m, 3000m)]), market);
        var dynamic = report.Method(MarginMethods.Dynamic);
        Assert.Equal(180 * scale, D(dynamic.Maintenance), 6);
        Assert.Contains(dynamic.Reasons, r => r.Contains("circuit breaker", StringComparison.Ordinal));
    }

    [Fact]
    public void Credit_Line_CountsTowardEquity_OnPortfolioMarginRequirement()
    {
        var config = Config();
        config.CreditLines[Alice.Value.ToUpperInvariant().Replace("0X", "0x", StringComparison.Ordinal)] = 5000m;
        var portfolio = Portfolio(collateral: [Collateral(ChainA, "USDC", 1000m, 6)], perps: [Perp(ChainA, "ETH", 5m, 3000m)]);
        var report = Compute(portfolio, Prepare(config: config));
        var credit = report.Method(MarginMethods.Credit);
        var pm = report.Method(MarginMethods.Portfolio);
        Assert.Equal(pm.Equity + 5000m, credit.Equity);
        Assert.Equal(pm.Maintenance, credit.Maintenance);
        Assert.Equal(new CreditLine(5000m, 5000m), report.Credit);
        Assert.True(credit.Health > pm.Health);
    }

    [Fact]
    public void Credit_NoLine_EqualsPortfolioMargin()
    {
        var report = Compute(Portfolio(collateral: [Collateral(ChainA, "USDC", 1000m, 6)], perps: [Perp(ChainA, "ETH", 1m, 3000m)]));
        Assert.Null(report.Credit);
        Assert.Equal(report.Method(MarginMethods.Portfolio).Health, report.Method(MarginMethods.Credit).Health);
    }
}

public class StatusTests
{
    [Fact]
    public void MissingPrice_MakesTheAccountUnpriced_WithItsReason()
    {
        var snapshot = Market(extra: [AssetPrice.Missing(Btc, "BTC feed has no round yet")]);
        var report = Compute(Portfolio(collateral: [Collateral(ChainA, "USDC", 1000m, 6)], perps: [Perp(ChainA, "BTC", 0.01m, 60000m)]), Prepare(snapshot), liquidation: true);
        foreach (var method in report.Methods.Where(m => m.Method is not (MarginMethods.VarHistorical or MarginMethods.VarMonteCarlo)))
        {
            Assert.Equal(MarginStatus.Unpriced, method.Status);
            Assert.Equal("unpriced", method.StatusName);
            Assert.Null(method.Equity);
            Assert.Null(method.Health);
            Assert.Contains(method.Reasons, r => r.Contains("BTC feed has no round yet", StringComparison.Ordinal));
        }

        Assert.Null(report.Efficiency.CrossSaving);
    }

    [Fact]
    public void UnsafePrice_IsComputedButFlagged()
    {
        var snapshot = Market(extra: [Price(Eth, 3000m, PriceStatus.Unsafe, "ETH feed deviates 4% from the other chains")]);
        var report = Compute(Portfolio(collateral: [Collateral(ChainA, "USDC", 1000m, 6)], perps: [Perp(ChainA, "ETH", 1m, 3000m)]), Prepare(snapshot));
        var cross = report.Method(MarginMethods.Cross);
        Assert.Equal(MarginStatus.PriceUnsafe, cross.Status);
        Assert.Equal("price-unsafe", cross.StatusName);
        Assert.Equal(90m, cross.Maintenance);
        Assert.Contains(cross.Reasons, r => r.Contains("deviates 4%", StringComparison.Ordinal));
    }

    [Fact]
    public void StaleChain_IsFlaggedWithItsChain()
    {
        var snapshot = Market(stale: new Dictionary<ChainId, string> { [ChainB] = "no block for 120 s" });
        var report = Compute(Portfolio(collateral: [Collateral(ChainA, "USDC", 1000m, 6), Collateral(ChainB, "USDC", 1000m, 6)], perps: [Perp(ChainA, "ETH", 1m, 3000m)]), Prepare(snapshot));
        Assert.Equal(MarginStatus.Stale, report.Method(MarginMethods.Cross).Status);
        Assert.Contains(report.Method(MarginMethods.Cross).Reasons, r => r == "stale: chain 10");
    }

    [Fact]
    public void NoPositions_HasNoRequirement_AndNullHealth()
    {
        var report = Compute(Portfolio(collateral: [Collateral(ChainA, "USDC", 1000m, 6)]));
        foreach (var name in new[] { MarginMethods.Isolated, MarginMethods.Cross, MarginMethods.Portfolio, MarginMethods.Dynamic, MarginMethods.Credit })
        {
            var method = report.Method(name);
            Assert.Equal(MarginStatus.NoRequirement, method.Status);
            Assert.Null(method.Health);
            Assert.Equal(980m, method.Equity);
        }

        Assert.Null(report.Efficiency.CrossSavingFraction);
        Assert.Equal(MarginStatus.NoRequirement, Compute(Portfolio()).Method(MarginMethods.Portfolio).Status);
    }

    [Fact]
    public void OptionWithoutVolatility_IsUnpriced()
    {
        var snapshot = Market(ethVol: double.NaN);
        var report = Compute(Portfolio(options: [Option(ChainA, "ETH", 3000m, 10, true, 1m)]), Prepare(snapshot));
        Assert.Equal(MarginStatus.Unpriced, report.Headline.Status);
        Assert.Contains(report.Headline.Reasons, r => r == "unpriced: no volatility for ETH");
    }

    [Fact]
    public void AbsurdSize_NeverLeavesTheEngineAsNaNOrInfinity()
    {
        var huge = new PortfolioPerp(ChainA, "perps", "ETH-PERP", Eth, new TokenAmount(System.Numerics.BigInteger.Pow(10, 76), 18), Amount(3000m, 8), Block(ChainA));
        var portfolio = Portfolio(collateral: [Collateral(ChainA, "USDC", 1m, 6)]) with { Perps = [huge] };
        var report = MarginEngine.Compute(new MarginParameters(portfolio, Prepare(history: History(50, 1, (Eth, 3000, 0.04)))));
        foreach (var method in report.Methods)
        {
            Assert.True(method.Status is MarginStatus.Unpriced or MarginStatus.NotComputed, method.Method);
            Assert.Null(method.Health);
            Assert.Contains(method.Reasons, r => r.Contains("overflow", StringComparison.Ordinal));
        }
    }
}
