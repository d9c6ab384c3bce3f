using System.Globalization;
using ChainMargin.Core;
using ChainMargin.Liquidation.Alerts;
using ChainMargin.Liquidation.Oracles;
using ChainMargin.Risk;

namespace ChainMargin.Liquidation.Portfolio;

/// <summary>Price checks applied to every feed answer before the engine may use it (config section "Prices").</summary>
public sealed class PriceSafetyOptions
{
    /// <summary>A round older than this is stale, for feeds without a configured heartbeat.</summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromHours(25);

    /// <summary>Added to a feed's HeartbeatSeconds: the slack a healthy feed may take to publish.</summary>
    public TimeSpan HeartbeatBuffer { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The same asset priced on several chains must agree within this fraction of the lower price.</summary>
    public double CrossChainTolerance { get; set; } = 0.02;

    /// <summary>Default limit on the move between consecutive rounds of a feed (0.25 = 25%).</summary>
    public double MaxJumpFraction { get; set; } = 0.25;

    /// <summary>After an L2 sequencer comes back up, its chain's prices stay unsafe for this long.</summary>
    public TimeSpan SequencerGracePeriod { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The lowest annualised volatility used when it comes from realised (EWMA) history.</summary>
    public double VolatilityFloor { get; set; } = 0.10;

    /// <summary>Rounds read per feed for the jump check, the price history and EWMA volatility.</summary>
    public int HistoryRounds { get; set; } = 2_000;

    /// <summary>Most observations of the price history handed to VaR (one per Risk:Var:ReturnIntervalDays).</summary>
    public int MaxHistoryObservations { get; set; } = 365;

    /// <summary>Per-asset feed checks (heartbeat, bounds, jump limit), optionally per chain.</summary>
    public Dictionary<string, FeedSafetyOptions> Feeds { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Every problem, each naming its key (Prices:Feeds:ETH:MaxAnswer ...). Empty when usable.</summary>
    public IReadOnlyList<string> Validate() => PriceSafetyValidation.Validate(this);
}

/// <summary>What the oracle layer hands the engine: the snapshot, the price history (null when too short), and alerts.</summary>
public sealed record OracleMarket(MarketSnapshot Snapshot, PriceHistory? History, IReadOnlyList<string> Alerts)
{
    /// <summary>The same alerts as conditions for the alert log (source <see cref="MarketSnapshotBuilder.AlertSource"/>).</summary>
    public IReadOnlyList<AlertCondition> Conditions { get; init; } = [];
}

/// <summary>
/// Turns indexed feed rounds into the engine's <see cref="MarketSnapshot"/>: one USD price per canonical asset with its
/// sources, safety state and reason, volatilities (implied feed, else EWMA realised with a floor), and the price
/// history for VaR. A bad input never stops anything: it makes the price unsafe with its reason (so every result that
/// depends on it says why and liquidations pause) and raises an alert.
/// </summary>
public sealed class MarketSnapshotBuilder
{
    private static readonly IReadOnlyDictionary<(ChainId, EvmAddress), IReadOnlyList<PriceRoundRow>> NoHistory =
        new Dictionary<(ChainId, EvmAddress), IReadOnlyList<PriceRoundRow>>();

    /// <summary>The alert-log source of the oracle checks: their condition keys start with "prices:".</summary>
    public const string AlertSource = "prices";

    private readonly TokenRegistry _registry;
    private readonly PriceSafetyOptions _safety;
    private readonly VarOptions _var;

    public MarketSnapshotBuilder(TokenRegistry registry, PriceSafetyOptions safety)
        : this(registry, safety, null)
    {
    }

    public MarketSnapshotBuilder(TokenRegistry registry, PriceSafetyOptions safety, VarOptions? var)
    {
        ArgumentNullException.ThrowIfNull(safety);
        var errors = safety.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("invalid Prices configuration: " + string.Join("; ", errors), nameof(safety));
        }

        _registry = registry;
        _safety = safety;
        _var = var ?? new VarOptions();
    }

    /// <summary>The snapshot from the latest rounds alone (no jump check, no history).</summary>
    public MarketSnapshot Build(IReadOnlyList<PriceRoundRow> rounds, DateTimeOffset now, IReadOnlyDictionary<ChainId, string> staleChains) =>
        Build(rounds, NoHistory, now, staleChains).Snapshot;

    /// <summary>
    /// The snapshot, history and alerts from the latest round of every feed and each feed's stored rounds (oldest
    /// first, as <see cref="IChainStore.GetPriceHistoryAsync"/> returns them).
    /// </summary>
    /// <param name="decimals">
    /// Each feed's decimals as read from its chain; null when nothing was read (the reference protocol's 8 is then
    /// assumed). A feed missing from a given map, or with unknown decimals, gives no price, only its reason.
    /// </param>
    public OracleMarket Build(
        IReadOnlyList<PriceRoundRow> rounds,
        IReadOnlyDictionary<(ChainId, EvmAddress), IReadOnlyList<PriceRoundRow>> history,
        DateTimeOffset now,
        IReadOnlyDictionary<ChainId, string> staleChains,
        IReadOnlyDictionary<(ChainId, EvmAddress), FeedDecimals>? decimals = null)
    {
        ArgumentNullException.ThrowIfNull(rounds);
        var scales = new FeedScales(decimals);
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(staleChains);
        var alerts = new List<string>();
        var conditions = new List<AlertCondition>();
        void Condition(string kind, string where, string reason, ChainId? chain, AssetId? asset) =>
            conditions.Add(new AlertCondition(kind, $"{AlertSource}:{kind}:{where}", reason, chain, asset));
        var sequencers = SequencerProblems(rounds, now);
        var quotes = new Dictionary<AssetId, List<Quote>>();
        var implied = new Dictionary<AssetId, AssetVolatility>();
        var impliedProblems = new Dictionary<AssetId, string>();
        foreach (var row in rounds)
        {
            var feedHistory = history.GetValueOrDefault((row.Chain, row.Feed)) ?? [];
            if (_registry.VolatilityFeedAsset(row.Chain, row.Feed) is { } volAsset)
            {
                var limits = FeedLimits.ForFeed(_safety, volAsset, row.Chain);
                var volScale = scales.Of(row.Chain, row.Feed, out var scaleProblem);
                if (volScale is null)
                {
                    impliedProblems[volAsset] = scaleProblem!;
                }
                else if (row.Answer.Sign <= 0)
                {
                    impliedProblems[volAsset] = Invariant($"implied-vol feed {row.Feed} on chain {row.Chain} answered {row.Answer}");
                }
                else if (now - DateTimeOffset.FromUnixTimeSeconds(row.UpdatedAt) > limits.MaxAge)
                {
                    impliedProblems[volAsset] = Invariant($"implied-vol feed {row.Feed} on chain {row.Chain} is stale");
                }
                else
                {
                    implied[volAsset] = new AssetVolatility(volAsset, Units.ToDouble(row.Answer, volScale.Value), $"implied feed {row.Feed} on chain {row.Chain}");
                }

                continue;
            }

            if (_registry.PriceFeedAsset(row.Chain, row.Feed) is not { } asset)
            {
                continue;
            }

            if (!quotes.TryGetValue(asset, out var list))
            {
                list = [];
                quotes[asset] = list;
            }

            var scale = scales.Of(row.Chain, row.Feed, out var unscaled);
            if (scale is null)
            {
                // Without its decimals an answer is off by powers of ten: no value, only the reason.
                list.Add(new Quote(row, null, [unscaled!]));
                alerts.Add($"{asset}: {unscaled}");
                Condition(AlertKinds.FeedDecimals, $"{row.Chain}:{row.Feed}", unscaled!, row.Chain, asset);
                continue;
            }

            var problems = Problems(asset, row, scale.Value, feedHistory, now, staleChains, sequencers);
            list.Add(new Quote(row, LastGood(row, scale.Value, feedHistory), [.. problems.Select(p => p.Text)]));
            foreach (var problem in problems)
            {
                alerts.Add($"{asset}: {problem.Text}");

                // Chain-wide problems (sequencer, stale chain) are one alert per chain, whichever feeds they touch.
                var chainWide = problem.Kind is AlertKinds.Sequencer or AlertKinds.ChainStale;
                Condition(problem.Kind, chainWide ? $"{row.Chain}" : $"{row.Chain}:{row.Feed}", problem.Text, row.Chain, chainWide ? null : asset);
            }
        }

        var prices = new Dictionary<AssetId, AssetPrice>();
        foreach (var (asset, list) in quotes)
        {
            var price = Combine(asset, list, out var disagreement);
            if (disagreement is not null)
            {
                alerts.Add($"{asset}: {disagreement}");
                Condition(AlertKinds.PriceDisagreement, asset.Symbol, $"{asset}: {disagreement}", null, asset);
            }

            prices[asset] = price;
        }

        var interval = TimeSpan.FromDays(_var.ReturnIntervalDays);
        var roundsByAsset = _registry.PriceFeeds
            .GroupBy(f => f.Asset)
            .ToDictionary(
                g => g.Key,
                g => (IReadOnlyList<IReadOnlyList<PriceRoundRow>>)g.Select(f => history.GetValueOrDefault((f.Chain, f.Feed)) ?? []).ToArray());
        var priceHistory = OracleHistory.Sample(roundsByAsset, now, interval, _safety.MaxHistoryObservations, r => scales.Of(r.Chain, r.Feed, out _));

        var vols = new Dictionary<AssetId, AssetVolatility>(implied);
        foreach (var asset in _registry.VolatilityFeeds.Select(f => f.Asset).Concat(quotes.Keys).Distinct())
        {
            if (vols.ContainsKey(asset))
            {
                continue;
            }

            var why = impliedProblems.TryGetValue(asset, out var p) ? p + "; " : "";
            if (priceHistory is not null && priceHistory.Prices.TryGetValue(asset, out var series) &&
                OracleHistory.EwmaVolatility(series, _var.Lambda, interval) is { } ewma)
            {
                var floored = ewma < _safety.VolatilityFloor;
                vols[asset] = new AssetVolatility(asset, Math.Max(ewma, _safety.VolatilityFloor),
                    why + Invariant($"EWMA realised (lambda {_var.Lambda}, {series.Length} observations): {ewma:0.####}") +
                    (floored ? Invariant($", floored at {_safety.VolatilityFloor:0.####}") : ""));
            }
            else if (why.Length > 0)
            {
                alerts.Add($"{asset}: {p}; no price history for realised volatility");
                Condition(AlertKinds.ImpliedVolatility, asset.Symbol, $"{p}; no price history for realised volatility", null, asset);
            }
        }

        return new OracleMarket(new MarketSnapshot(now, prices, vols, staleChains), priceHistory, alerts) { Conditions = conditions };
    }

    private AssetPrice Combine(AssetId asset, List<Quote> quotes, out string? disagreement)
    {
        disagreement = null;
        var sources = quotes.Select(q => q.Row.AsOf).ToArray();
        var problems = quotes.SelectMany(q => q.Problems).ToList();
        var values = quotes.Where(q => q.Value is not null).Select(q => q.Value!.Value).ToArray();
        if (values.Length == 0)
        {
            return new AssetPrice(asset, null, PriceStatus.Unsafe, string.Join("; ", problems), sources);
        }

        var low = values.Min();
        var high = values.Max();
        decimal? usdHigh = null;
        if (high - low > _safety.CrossChainTolerance * low)
        {
            // Disagreeing chains: each side takes the worse price (collateral and longs the lowest, debts and shorts
            // the highest), and the price is unsafe so liquidations pause until the chains agree again.
            disagreement = Invariant($"prices disagree across chains by more than {_safety.CrossChainTolerance * 100:0.###}%: {low:0.########} to {high:0.########}; collateral and longs valued at the lowest, debts and shorts at the highest");
            problems.Add(disagreement);
            usdHigh = Units.ToReported(high, 8);
        }

        return problems.Count > 0
            ? new AssetPrice(asset, Units.ToReported(low, 8), PriceStatus.Unsafe, string.Join("; ", problems), sources) { UsdHigh = usdHigh }
            : new AssetPrice(asset, Units.ToReported(low, 8), PriceStatus.Safe, null, sources);
    }

    private List<Problem> Problems(
        AssetId asset,
        PriceRoundRow row,
        int scale,
        IReadOnlyList<PriceRoundRow> history,
        DateTimeOffset now,
        IReadOnlyDictionary<ChainId, string> staleChains,
        Dictionary<ChainId, string> sequencers)
    {
        var limits = FeedLimits.ForFeed(_safety, asset, row.Chain);
        var where = Invariant($"feed {row.Feed} on chain {row.Chain}");
        var problems = new List<Problem>();
        var usd = Units.ToDouble(row.Answer, scale);
        if (row.Answer.Sign <= 0)
        {
            problems.Add(new(AlertKinds.PriceNotPositive, Invariant($"{where} answered {usd:0.########} (not positive)")));
        }

        if (row.UpdatedAt <= 0)
        {
            problems.Add(new(AlertKinds.PriceNoTimestamp, $"{where} has no updatedAt"));
        }
        else
        {
            var age = now - DateTimeOffset.FromUnixTimeSeconds(row.UpdatedAt);
            if (age > limits.MaxAge)
            {
                problems.Add(new(AlertKinds.PriceStale, Invariant($"{where} is stale: updated {age.TotalMinutes:0} min ago, limit {limits.MaxAge.TotalMinutes:0} min")));
            }
        }

        if (row.Answer.Sign > 0)
        {
            // Compared in double: an int256 answer can be beyond decimal's range.
            if (limits.MinAnswer is { } min && usd <= (double)min)
            {
                problems.Add(new(AlertKinds.PriceAtBound, Invariant($"{where} is at its lower bound {min} (answered {usd:0.########})")));
            }

            if (limits.MaxAnswer is { } max && usd >= (double)max)
            {
                problems.Add(new(AlertKinds.PriceAtBound, Invariant($"{where} is at its upper bound {max} (answered {usd:0.########})")));
            }

            if (Previous(row, history) is { } previous && previous.Answer.Sign > 0)
            {
                var before = Units.ToDouble(previous.Answer, scale);
                var jump = Math.Abs(usd - before) / before;
                if (jump > limits.MaxJumpFraction)
                {
                    problems.Add(new(AlertKinds.PriceJump, Invariant($"{where} jumped {jump * 100:0.#}% from the previous round ({before:0.########} to {usd:0.########}), limit {limits.MaxJumpFraction * 100:0.###}%")));
                }
            }
        }

        if (sequencers.TryGetValue(row.Chain, out var sequencer))
        {
            problems.Add(new(AlertKinds.Sequencer, sequencer));
        }

        if (staleChains.TryGetValue(row.Chain, out var why))
        {
            problems.Add(new(AlertKinds.ChainStale, $"chain {row.Chain} is stale: {why}"));
        }

        return problems;
    }

    /// <summary>The value a quote contributes: its answer when positive, else the feed's last positive round.</summary>
    private static double? LastGood(PriceRoundRow row, int scale, IReadOnlyList<PriceRoundRow> history)
    {
        if (row.Answer.Sign > 0)
        {
            return Units.ToDouble(row.Answer, scale);
        }

        var good = history.LastOrDefault(r => r.RoundId < row.RoundId && r.Answer.Sign > 0);
        return good is null ? null : Units.ToDouble(good.Answer, scale);
    }

    private static PriceRoundRow? Previous(PriceRoundRow row, IReadOnlyList<PriceRoundRow> history) =>
        history.LastOrDefault(r => r.RoundId < row.RoundId);

    /// <summary>
    /// Chains whose prices are unsafe because of their L2 sequencer (uptime feed answer 0 = up, 1 = down; the round's
    /// time is when the status changed): down, up for less than the grace period, or no status indexed yet.
    /// </summary>
    private Dictionary<ChainId, string> SequencerProblems(IReadOnlyList<PriceRoundRow> rounds, DateTimeOffset now)
    {
        var problems = new Dictionary<ChainId, string>();
        foreach (var (chain, feed) in _registry.SequencerFeeds)
        {
            var row = rounds.FirstOrDefault(r => r.Chain == chain && r.Feed == feed);
            if (row is null)
            {
                problems[chain] = Invariant($"sequencer uptime feed {feed} on chain {chain} has no round yet");
            }
            else if (!row.Answer.IsZero)
            {
                problems[chain] = Invariant($"sequencer of chain {chain} is down (uptime feed {feed} round {row.RoundId})");
            }
            else
            {
                var up = now - DateTimeOffset.FromUnixTimeSeconds(row.UpdatedAt);
                if (up < _safety.SequencerGracePeriod)
                {
                    problems[chain] = Invariant($"sequencer of chain {chain} is up for {up.TotalSeconds:0} s only, inside the grace period of {_safety.SequencerGracePeriod.TotalSeconds:0} s");
                }
            }
        }

        return problems;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private sealed record Quote(PriceRoundRow Row, double? Value, List<string> Problems);

    private readonly record struct Problem(string Kind, string Text);

    /// <summary>Each feed's decimals: read from the chain when a map is given, else the reference protocol's 8.</summary>
    private sealed class FeedScales(IReadOnlyDictionary<(ChainId, EvmAddress), FeedDecimals>? decimals)
    {
        public int? Of(ChainId chain, EvmAddress feed, out string? problem)
        {
            problem = null;
            if (decimals is null)
            {
                return PortfolioAssembler.FeedDecimals;
            }

            if (decimals.TryGetValue((chain, feed), out var known) && known.Decimals is { } value)
            {
                return value;
            }

            problem = known?.Problem ?? Invariant($"decimals of feed {feed} on chain {chain} have not been read");
            return null;
        }
    }
}
