using ChainMargin.Contracts.Devnet;
using ChainMargin.Host.Devnet;
using ChainMargin.Liquidation.Oracles;
using ChainMargin.Liquidation.Portfolio;
using ChainMargin.Risk;

namespace ChainMargin.Liquidation.Tests.Oracles;

/// <summary>
/// Each unsafe oracle input, published on a real anvil feed and indexed into a real store, makes the trader's headline
/// margin "price-unsafe" with the reason naming it (the keeper submits no liquidation for such an account). Every
/// test first publishes a good round, so the bad one is judged against a good previous round whatever the test order.
/// </summary>
public sealed class OraclePriceSafetyTests : IClassFixture<OracleRig>
{
    private const string PriceUnsafe = "price-unsafe";
    private readonly OracleRig _rig;

    public OraclePriceSafetyTests(OracleRig rig) => _rig = rig;

    private string EthA => _rig.A.Protocol.SpotFeed("ETH");

    private string EthB => _rig.B.Protocol.SpotFeed("ETH");

    [Fact]
    public async Task Compute_FreshRoundsAndSequencerUpLongAgo_IsNotPriceUnsafe()
    {
        await _rig.PublishAsync(_rig.A, EthA, (3000m, 60), (3010m, 30));
        await _rig.SetSequencerAsync(0, ageSeconds: 7200);
        await _rig.PublishAsync(_rig.B, EthB, (3005m, 30));
        await _rig.IndexAsync();

        using var service = _rig.Service(withChainB: true, withSequencer: true);
        var headline = (await service.ComputeAsync(OracleRig.TraderAddress, CancellationToken.None)).Headline;

        Assert.NotEqual(PriceUnsafe, headline.StatusName);
        Assert.DoesNotContain(headline.Reasons, r => r.Contains("price-unsafe", StringComparison.Ordinal));
        Assert.NotNull(headline.Health);
    }

    [Fact]
    public async Task Compute_RoundOlderThanHeartbeatPlusBuffer_IsPriceUnsafeStale()
    {
        // Heartbeat 1 h + 10 min buffer: a round 71 min old is stale, one 69 min old is not.
        var safety = new PriceSafetyOptions { Feeds = { ["ETH"] = new FeedSafetyOptions { HeartbeatSeconds = 3600 } } };
        await _rig.PublishAsync(_rig.A, EthA, (3000m, 30), (3000m, 69 * 60));
        await _rig.IndexAsync();
        using (var service = _rig.Service(safety))
        {
            Assert.NotEqual(PriceUnsafe, (await service.ComputeAsync(OracleRig.TraderAddress, CancellationToken.None)).Headline.StatusName);
        }

        await _rig.PublishAsync(_rig.A, EthA, (3000m, 71 * 60));
        await _rig.IndexAsync();
        using var stale = _rig.Service(safety);
        var headline = (await stale.ComputeAsync(OracleRig.TraderAddress, CancellationToken.None)).Headline;

        Assert.Equal(PriceUnsafe, headline.StatusName);
        Assert.Contains(headline.Reasons, r => r.Contains("ETH", StringComparison.Ordinal) && r.Contains("is stale: updated 71 min ago, limit 70 min", StringComparison.Ordinal));
        Assert.Contains(stale.PriceAlerts, a => a.Contains("is stale", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public async Task Compute_NonPositiveAnswer_IsPriceUnsafeValuedAtLastGoodRound(int answer)
    {
        await _rig.PublishAsync(_rig.A, EthA, (3000m, 30), (answer, 10));
        await _rig.IndexAsync();

        using var service = _rig.Service();
        var report = await service.ComputeAsync(OracleRig.TraderAddress, CancellationToken.None);

        Assert.Equal(PriceUnsafe, report.Headline.StatusName);
        Assert.Contains(report.Headline.Reasons, r => r.Contains($"answered {answer} (not positive)", StringComparison.Ordinal));
        // Still valued (at the last positive round), so the account shows a health, never a silent zero.
        Assert.NotNull(report.Headline.Health);
    }

    [Fact]
    public async Task Compute_AnswerAtItsConfiguredBound_IsPriceUnsafe()
    {
        var safety = new PriceSafetyOptions
        {
            Feeds = { ["ETH"] = new FeedSafetyOptions { MinAnswer = 2000m, MaxAnswer = 5000m, MaxJumpFraction = 5, Chains = { [OracleRig.ChainBId.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new FeedSafetyOptions { MaxAnswer = 4000m } } } },
        };
        await _rig.PublishAsync(_rig.A, EthA, (3000m, 30), (2000m, 10));
        await _rig.IndexAsync();
        using (var service = _rig.Service(safety))
        {
            var headline = (await service.ComputeAsync(OracleRig.TraderAddress, CancellationToken.None)).Headline;
            Assert.Equal(PriceUnsafe, headline.StatusName);
            Assert.Contains(headline.Reasons, r => r.Contains("is at its lower bound 2000", StringComparison.Ordinal));
        }

        await _rig.PublishAsync(_rig.A, EthA, (4500m, 5));
        await _rig.IndexAsync();
        using var inside = _rig.Service(safety);
        // 4500 is inside chain A's bounds (the 4000 cap is chain B's override).
        Assert.NotEqual(PriceUnsafe, (await inside.ComputeAsync(OracleRig.TraderAddress, CancellationToken.None)).Headline.StatusName);
    }

    [Fact]
    public async Task Compute_FiftyPercentJumpBetweenRounds_IsPriceUnsafeJump()
    {
        await _rig.PublishAsync(_rig.A, EthA, (3000m, 30), (4500m, 10));
        await _rig.IndexAsync();

        using var service = _rig.Service(new PriceSafetyOptions { MaxJumpFraction = 0.25 });
        var headline = (await service.ComputeAsync(OracleRig.TraderAddress, CancellationToken.None)).Headline;

        Assert.Equal(PriceUnsafe, headline.StatusName);
        Assert.Contains(headline.Reasons, r => r.Contains("jumped 50% from the previous round (3000 to 4500), limit 25%", StringComparison.Ordinal));

        // A following round consistent with the new level clears the flag.
        await _rig.PublishAsync(_rig.A, EthA, (4520m, 5));
        await _rig.IndexAsync();
        Assert.NotEqual(PriceUnsafe, (await service.ComputeAsync(OracleRig.TraderAddress, CancellationToken.None)).Headline.StatusName);
    }

    [Fact]
    public async Task Compute_SequencerDownThenUpInsideAndAfterGrace_IsUnsafeUntilGracePassed()
    {
        var safety = new PriceSafetyOptions { SequencerGracePeriod = TimeSpan.FromMinutes(30) };
        await _rig.PublishAsync(_rig.A, EthA, (3000m, 60), (3000m, 30));
        await _rig.SetSequencerAsync(1, ageSeconds: 600);
        await _rig.IndexAsync();
        var clock = new ManualTimeProvider(DateTimeOffset.FromUnixTimeSeconds(_rig.T0));
        using var service = _rig.Service(safety, withSequencer: true, clock: clock);

        var down = (await service.ComputeAsync(OracleRig.TraderAddress, CancellationToken.None)).Headline;
        Assert.Equal(PriceUnsafe, down.StatusName);
        Assert.Contains(down.Reasons, r => r.Contains($"sequencer of chain {OracleRig.ChainAId} is down", StringComparison.Ordinal));

        // Back up 10 minutes ago: still inside the 30-minute grace period.
        await _rig.SetSequencerAsync(0, ageSeconds: 600);
        await _rig.IndexAsync();
        var grace = (await service.ComputeAsync(OracleRig.TraderAddress, CancellationToken.None)).Headline;
        Assert.Equal(PriceUnsafe, grace.StatusName);
        Assert.Contains(grace.Reasons, r => r.Contains("is up for 600 s only, inside the grace period of 1800 s", StringComparison.Ordinal));

        // The clock moves past the grace period: the same chain data is safe again.
        clock.Advance(TimeSpan.FromMinutes(21));
        var after = (await service.ComputeAsync(OracleRig.TraderAddress, CancellationToken.None)).Headline;
        Assert.NotEqual(PriceUnsafe, after.StatusName);
    }

    [Fact]
    public async Task Compute_ChainsDisagreeOnEth_IsPriceUnsafeValuedAtTheLowest()
    {
        await _rig.PublishAsync(_rig.A, EthA, (3000m, 60), (3000m, 30));
        await _rig.PublishAsync(_rig.B, EthB, (3300m, 30));
        await _rig.IndexAsync();

        using var both = _rig.Service(new PriceSafetyOptions { CrossChainTolerance = 0.02 }, withChainB: true);
        var report = await both.ComputeAsync(OracleRig.TraderAddress, CancellationToken.None);
        Assert.Equal(PriceUnsafe, report.Headline.StatusName);
        Assert.Contains(report.Headline.Reasons, r => r.Contains("prices disagree across chains by more than 2%: 3000 to 3300; collateral and longs valued at the lowest, debts and shorts at the highest", StringComparison.Ordinal));
        Assert.Contains(both.PriceAlerts, a => a.StartsWith("ETH: prices disagree", StringComparison.Ordinal));

        // Valued at the lowest: the same health as chain A alone at 3000, which is safe.
        using var alone = _rig.Service();
        var single = await alone.ComputeAsync(OracleRig.TraderAddress, CancellationToken.None);
        Assert.NotEqual(PriceUnsafe, single.Headline.StatusName);
        Assert.Equal(single.Method(MarginMethods.Cross).Health, report.Method(MarginMethods.Cross).Health);

        // Within tolerance they agree.
        await _rig.PublishAsync(_rig.B, EthB, (3030m, 20));
        await _rig.IndexAsync();
        Assert.NotEqual(PriceUnsafe, (await both.ComputeAsync(OracleRig.TraderAddress, CancellationToken.None)).Headline.StatusName);
    }

    [Fact]
    public async Task Compute_ChainsDisagreeOnEth_ShortPerpIsValuedAtTheHighest()
    {
        // A second trader, short 10 ETH-PERP on chain A against USDC collateral.
        var shorter = DevAccounts.Traders[3];
        var chainA = new DevnetChain("a", _rig.A.ChainId, _rig.A.Node.Port);
        await DemoSeeder.DepositAsync(chainA, _rig.A.Protocol, shorter, "USDC", DemoSeeder.Units(20_000, 6), CancellationToken.None);
        await DemoSeeder.TradePerpAsync(chainA, _rig.A.Protocol, shorter, "ETH", -DemoSeeder.Units(10, 18), CancellationToken.None);
        var account = Core.EvmAddress.Parse(shorter.Address);

        await _rig.PublishAsync(_rig.A, EthA, (3000m, 60), (3000m, 30));
        await _rig.PublishAsync(_rig.B, EthB, (3300m, 30));
        await _rig.IndexAsync();
        using var both = _rig.Service(new PriceSafetyOptions { CrossChainTolerance = 0.02 }, withChainB: true);
        var split = await both.ComputeAsync(account, CancellationToken.None);
        Assert.Equal(PriceUnsafe, split.Headline.StatusName);
        using var alone = _rig.Service();
        var atLow = await alone.ComputeAsync(account, CancellationToken.None);

        // Chain A alone at 3300 (a safe 10% move) is the same short valued at the high price.
        await _rig.PublishAsync(_rig.A, EthA, (3300m, 20));
        await _rig.IndexAsync();
        var atHigh = await alone.ComputeAsync(account, CancellationToken.None);
        Assert.NotEqual(PriceUnsafe, atHigh.Headline.StatusName);
        foreach (var method in new[] { MarginMethods.Cross, MarginMethods.Portfolio })
        {
            Assert.Equal(atHigh.Method(method).Equity, split.Method(method).Equity);
            Assert.Equal(atHigh.Method(method).Maintenance, split.Method(method).Maintenance);
        }

        // Against chain A's own 3000, the short loses 10 x 300 more at the disagreement's high side.
        static decimal Perp(MarginReport report) => report.Method(MarginMethods.Cross).Positions.Single(p => p.Kind == "perp").Equity;
        Assert.Equal(Perp(atLow) - 3_000m, Perp(split));
    }

    [Fact]
    public async Task Compute_DailyHistoryIndexed_VarIsComputedAndVolatilityFallsBackToFlooredEwma()
    {
        // Twelve daily rounds (a small oscillation) and a fresh one: enough history for VaR and EWMA.
        var prices = Enumerable.Range(0, 13).Select(i => Math.Round(3000m * (1m + (0.03m * (decimal)Math.Sin(i * 1.7))), 2)).ToArray();
        var rounds = prices.Select((p, i) => (p, i == 12 ? 10L : ((12 - i) * 86_400L) + 100)).ToArray();
        await _rig.PublishAsync(_rig.A, EthA, rounds);
        await _rig.IndexAsync();

        using var service = _rig.Service();
        var report = await service.ComputeAsync(OracleRig.TraderAddress, CancellationToken.None);
        foreach (var method in new[] { MarginMethods.VarHistorical, MarginMethods.VarMonteCarlo })
        {
            Assert.NotEqual("not-computed", report.Method(method).StatusName);
            Assert.NotEmpty(report.Method(method).Measures);
        }

        // The implied-vol feed answers 0: volatility comes from the history instead, EWMA at the risk config's lambda.
        var owner = await Contracts.Devnet.DevnetSender.CreateAsync(_rig.A.RpcUrl, Contracts.Devnet.DevAccounts.Deployer.PrivateKey, _rig.A.ChainId);
        await owner.SendAsync(_rig.A.Protocol.VolFeed("ETH"), new Contracts.Reference.SetAnswerFunction { Answer = 0 }, "vol 0");
        await owner.VerifyAsync();
        await _rig.IndexAsync();
        var risk = RiskConfig.CreateDefault();
        var registry = Host.Composition.ChainMarginServices.BuildRegistry([_rig.OptionsA]);
        var latest = (await _rig.Store.GetLatestPricesAsync(CancellationToken.None)).Where(r => r.Chain.Value == OracleRig.ChainAId).ToArray();
        var history = new Dictionary<(Core.ChainId, Core.EvmAddress), IReadOnlyList<Core.PriceRoundRow>>();
        foreach (var row in latest)
        {
            history[(row.Chain, row.Feed)] = await _rig.Store.GetPriceHistoryAsync(row.Chain, row.Feed, 100, CancellationToken.None);
        }

        var now = DateTimeOffset.FromUnixTimeSeconds(_rig.T0);
        var market = new MarketSnapshotBuilder(registry, new PriceSafetyOptions { VolatilityFloor = 0.01 }, risk.Var).Build(latest, history, now, new Dictionary<Core.ChainId, string>());
        var eth = new Core.AssetId("ETH");
        var vol = market.Snapshot.Volatilities[eth];
        Assert.StartsWith("implied-vol feed", vol.Source, StringComparison.Ordinal);
        Assert.Contains("EWMA realised (lambda 0.94, 13 observations)", vol.Source, StringComparison.Ordinal);
        Assert.Equal(Ewma(prices.Select(p => (double)p).ToArray(), 0.94), vol.Annualised, 9);
        Assert.Equal(prices.Select(p => (double)p), market.History!.Prices[eth]);

        var floored = new MarketSnapshotBuilder(registry, new PriceSafetyOptions { VolatilityFloor = 5 }, risk.Var).Build(latest, history, now, new Dictionary<Core.ChainId, string>());
        Assert.Equal(5, floored.Snapshot.Volatilities[eth].Annualised);
        Assert.Contains("floored at 5", floored.Snapshot.Volatilities[eth].Source, StringComparison.Ordinal);

        // Independent of the code under test: RiskMetrics EWMA of daily log-returns, seeded with the first squared return.
        static double Ewma(double[] p, double lambda)
        {
            var v = 0.0;
            for (var i = 1; i < p.Length; i++)
            {
                var r = Math.Log(p[i] / p[i - 1]);
                v = i == 1 ? r * r : (lambda * v) + ((1 - lambda) * r * r);
            }

            return Math.Sqrt(v * 365.0);
        }
    }

    [Fact]
    public async Task PriceHistory_RoundRemovedByReorg_DisappearsFromHistory()
    {
        var chain = new Core.ChainId(OracleRig.ChainBId);
        var feed = Core.EvmAddress.Parse(EthB);
        await _rig.PublishAsync(_rig.B, EthB, (3001m, 40));
        await _rig.IndexAsync();
        await _rig.PublishAsync(_rig.B, EthB, (3123.45m, 20));
        await _rig.IndexAsync();
        var before = await _rig.Store.GetPriceHistoryAsync(chain, feed, 1000, CancellationToken.None);
        Assert.Equal(OracleRig.Usd(3123.45m), before[^1].Answer);

        // The block with the 3123.45 round is dropped and replaced by two empty blocks.
        await _rig.B.Rpc.RollbackAsync(1);
        await _rig.B.Rpc.MineBlocksAsync(2);
        await _rig.IndexAsync();

        var after = await _rig.Store.GetPriceHistoryAsync(chain, feed, 1000, CancellationToken.None);
        Assert.Equal(before.Count - 1, after.Count);
        Assert.DoesNotContain(after, r => r.Answer == OracleRig.Usd(3123.45m));
        Assert.Equal(OracleRig.Usd(3001m), after[^1].Answer);
        Assert.Equal(before[^2].AsOf, after[^1].AsOf);
        var latest = (await _rig.Store.GetLatestPricesAsync(CancellationToken.None)).Single(r => r.Chain == chain && r.Feed == feed);
        Assert.Equal(OracleRig.Usd(3001m), latest.Answer);
    }
}
