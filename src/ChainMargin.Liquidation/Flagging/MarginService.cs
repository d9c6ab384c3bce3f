using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using ChainMargin.Core;
using ChainMargin.Liquidation.Portfolio;
using ChainMargin.Risk;
using Microsoft.Extensions.Logging;

namespace ChainMargin.Liquidation.Flagging;

/// <summary>Thresholds of the account state machine.</summary>
public sealed class FlagOptions
{
    /// <summary>Headline health below this (and at or above 1) is a warning.</summary>
    public decimal WarningHealth { get; set; } = 1.1m;
}

/// <summary>Account margin states, in the order an account falls through them.</summary>
public static class AccountStates
{
    public const string Healthy = "healthy";
    public const string Warning = "warning";
    public const string Liquidatable = "liquidatable";
    public const string Liquidating = "liquidating";
    public const string Resolved = "resolved";
}

/// <summary>
/// Recomputes margin for accounts from what the store holds, classifies each account (healthy, warning,
/// liquidatable) and records state changes with the health, the reason and the block vector. Used by both paths: the
/// in-process fast path on every committed block that moves a price or a position, and the Hangfire sweeps.
/// </summary>
public sealed partial class MarginService : IDisposable
{
    private readonly IChainStore _store;
    private readonly TokenRegistry _registry;
    private readonly RiskConfig _risk;
    private readonly FlagOptions _flags;
    private readonly MarketSnapshotBuilder _snapshots;
    private readonly PriceSafetyOptions _safety;
    private readonly Func<DateTimeOffset, IReadOnlyDictionary<ChainId, string>> _staleChains;
    private readonly IReadOnlyList<ChainId> _chains;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<EvmAddress, MarginReport> _latest = new();
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly AccountStateTracker _states;
    private IReadOnlyList<string> _alerts = [];

    public MarginService(
        IChainStore store,
        TokenRegistry registry,
        RiskConfig risk,
        FlagOptions flags,
        PriceSafetyOptions safety,
        IReadOnlyList<ChainId> chains,
        Func<DateTimeOffset, IReadOnlyDictionary<ChainId, string>> staleChains,
        TimeProvider time,
        ILogger<MarginService> log)
    {
        _store = store;
        _registry = registry;
        _risk = risk;
        _flags = flags;
        ArgumentNullException.ThrowIfNull(risk);
        _snapshots = new MarketSnapshotBuilder(registry, safety, risk.Var);
        _safety = safety;
        _chains = chains;
        _staleChains = staleChains;
        _time = time;
        _log = log;
        _states = new AccountStateTracker(store, time, log);
    }

    /// <summary>Raised after each recompute with its reports (the keeper liquidates from them without polling).</summary>
    public event Action<IReadOnlyList<MarginReport>>? Recomputed;

    /// <summary>The account's current state as this service last recorded or loaded it (null: none yet).</summary>
    public string? StateOf(EvmAddress account) => _states.StateOf(account);

    /// <summary>
    /// The keeper's report of what happened to a liquidation intent: sent (or signed in a dry run) makes the account
    /// liquidating; mined makes it resolved once its recomputed health is back above maintenance; dropped or failed
    /// makes it liquidatable again.
    /// </summary>
    public Task OnIntentAsync(LiquidationIntent intent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(intent);
        var latest = EvmAddress.TryParse(intent.Key.Account, out var account) ? Latest(account) : null;
        return _states.OnIntentAsync(intent, latest, latest is null ? null : Classify(latest), latest is null ? null : ReasonOf(latest, "keeper"), cancellationToken);
    }

    /// <summary>Time of the last full or incremental recompute, in milliseconds (a metric).</summary>
    public double LastRecomputeMs { get; private set; }

    public long Recomputes { get; private set; }

    /// <summary>The latest report of an account from the last recompute that included it.</summary>
    public MarginReport? Latest(EvmAddress account) => _latest.GetValueOrDefault(account);

    public IReadOnlyCollection<MarginReport> LatestReports => _latest.Values.ToArray();

    /// <summary>
    /// Optional, set by the host: adds to an account's portfolio what the store does not hold (another venue's
    /// positions and that venue's own health, e.g. Aave V3's). Applied to the API's reads and to the recomputes of
    /// accounts the store knows.
    /// </summary>
    public Func<EvmAddress, Core.Portfolio, Core.Portfolio>? PortfolioEnricher { get; set; }

    /// <summary>The venues' own health for the account as the enricher adds it (empty without one).</summary>
    public IReadOnlyList<VenueHealth> VenueHealthOf(EvmAddress account) =>
        PortfolioEnricher?.Invoke(account, Core.Portfolio.Empty(account)).VenueHealth ?? [];

    /// <summary>The price alerts of the last market prepared (stale, bound, jump, sequencer, cross-chain disagreement).</summary>
    public IReadOnlyList<string> PriceAlerts => Volatile.Read(ref _alerts);

    /// <summary>Computes one account now from the store (the API's read), without recording state.</summary>
    public Task<MarginReport> ComputeAsync(EvmAddress account, CancellationToken cancellationToken) =>
        ComputeAsync(account, null, cancellationToken);

    /// <summary>
    /// Computes one account under shocks: each asset's spot price times (1 + spot shock) and its volatility times
    /// (1 + vol shock). Nothing is recorded.
    /// </summary>
    public async Task<MarginReport> ComputeAsync(EvmAddress account, Shocks? shocks, CancellationToken cancellationToken)
    {
        var rows = await StoreSnapshot.ReadAsync(_store, _chains, account, cancellationToken).ConfigureAwait(false);
        var market = await PrepareMarketAsync(rows, shocks, cancellationToken).ConfigureAwait(false);
        var portfolios = new PortfolioAssembler(_registry).Assemble(rows);
        var portfolio = portfolios.GetValueOrDefault(account) ?? Core.Portfolio.Empty(account);
        portfolio = PortfolioEnricher?.Invoke(account, portfolio) ?? portfolio;
        return MarginEngine.Compute(new MarginParameters(portfolio, market));
    }

    /// <summary>
    /// Recomputes the given accounts (all accounts when null), records state changes, and returns the reports.
    /// </summary>
    /// <summary>
    /// The shard an account belongs to among <paramref name="shards"/>: from the address's low 32 bits, so it is
    /// stable across processes and restarts (addresses are uniformly distributed).
    /// </summary>
    public static int ShardOf(EvmAddress account, int shards)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        var low = uint.Parse(account.Value.AsSpan(34, 8), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture);
        return (int)(low % (uint)shards);
    }

    /// <summary>Recomputes the accounts of one shard (a Hangfire sweep job per shard), recording state changes.</summary>
    public async Task<IReadOnlyList<MarginReport>> RecomputeShardAsync(int shard, int shards, string trigger, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(shard);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(shard, shards);
        var rows = await StoreSnapshot.ReadAsync(_store, _chains, null, cancellationToken).ConfigureAwait(false);
        var accounts = rows.Accounts.Where(a => ShardOf(a, shards) == shard).ToHashSet();
        return accounts.Count == 0 ? [] : await RecomputeAsync(accounts, trigger, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<MarginReport>> RecomputeAsync(IReadOnlySet<EvmAddress>? accounts, string trigger, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        List<MarginReport> reports;
        try
        {
            var started = Stopwatch.GetTimestamp();
            _snapshot = null;
            var rows = await StoreSnapshot.ReadAsync(_store, _chains, null, cancellationToken).ConfigureAwait(false);
            var market = await PrepareMarketAsync(rows, null, cancellationToken).ConfigureAwait(false);
            var portfolios = new PortfolioAssembler(_registry).Assemble(rows, accounts);

            // An account whose positions are all closed has no portfolio left; it is computed empty, at every chain's
            // checkpoint, so that its state still follows (a liquidated account resolves, then turns healthy).
            var emptied = (accounts ?? _states.NotHealthy()).Where(a => !portfolios.ContainsKey(a)).ToArray();
            if (emptied.Length > 0)
            {
                var all = portfolios.ToDictionary();
                foreach (var account in emptied)
                {
                    all[account] = new Core.Portfolio(account, [account], [], [], [], [], [], new BlockVector(rows.Checkpoints.Values));
                }

                portfolios = all;
            }

            (reports, _) = await ComputeAndRecordAsync([.. portfolios.Values], market, trigger, explainAtRisk: true, reuse: null, cancellationToken).ConfigureAwait(false);

            LastRecomputeMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            Recomputes++;
        }
        finally
        {
            _gate.Release();
        }

        Recomputed?.Invoke(reports);
        return reports;
    }

    public void Dispose()
    {
        _gate.Dispose();
        _states.Dispose();
    }

    /// <summary>The state an account is in given its report.</summary>
    public string Classify(MarginReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var health = report.Headline.Health;
        if (health is null)
        {
            return AccountStates.Healthy;
        }

        return health < 1m ? AccountStates.Liquidatable : health < _flags.WarningHealth ? AccountStates.Warning : AccountStates.Healthy;
    }

    private async Task<RiskMarket> PrepareMarketAsync(StoreSnapshot rows, Shocks? shocks, CancellationToken cancellationToken)
    {
        // Each feed's stored rounds: the previous round for the jump check, the last good answer, VaR's history.
        var history = new Dictionary<(ChainId, EvmAddress), IReadOnlyList<PriceRoundRow>>();
        foreach (var row in rows.Prices)
        {
            if (_registry.PriceFeedAsset(row.Chain, row.Feed) is not null && !history.ContainsKey((row.Chain, row.Feed)))
            {
                history[(row.Chain, row.Feed)] = await _store.GetPriceHistoryAsync(row.Chain, row.Feed, _safety.HistoryRounds, cancellationToken).ConfigureAwait(false);
            }
        }

        var now = _time.GetUtcNow();
        var oracle = _snapshots.Build(rows.Prices, history, now, _staleChains(now));
        var previous = Interlocked.Exchange(ref _alerts, oracle.Alerts);
        foreach (var alert in oracle.Alerts.Except(previous, StringComparer.Ordinal))
        {
            // Indexing and flagging go on; the affected prices are unsafe, so liquidations on them pause.
            _log.LogWarning("price alert: {Alert}", alert);
        }

        var snapshot = shocks is null ? oracle.Snapshot : shocks.Apply(oracle.Snapshot);
        return RiskMarket.Prepare(snapshot, _risk, oracle.History);
    }

    private Task<bool> RecordAsync(MarginReport report, string trigger, CancellationToken cancellationToken) =>
        _states.RecordAsync(report, Classify(report), ReasonOf(report, trigger), cancellationToken);

    private static string ReasonOf(MarginReport report, string trigger)
    {
        var headline = report.Headline;
        var reason = string.Create(CultureInfo.InvariantCulture, $"{trigger}: {headline.Method} {headline.StatusName}");
        if (headline.Reasons.Count > 0)
        {
            reason += " (" + string.Join("; ", headline.Reasons) + ")";
        }

        return reason;
    }
}

/// <summary>What-if shocks per asset: relative spot moves (-0.2 is a 20% drop) and relative volatility moves.</summary>
public sealed record Shocks(IReadOnlyDictionary<AssetId, decimal> Spot, IReadOnlyDictionary<AssetId, double> Volatility)
{
    public MarketSnapshot Apply(MarketSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var prices = snapshot.Prices.ToDictionary(
            p => p.Key,
            p => Spot.TryGetValue(p.Key, out var s) && p.Value.Usd is { } usd ? p.Value with { Usd = usd * (1 + s) } : p.Value);
        var vols = snapshot.Volatilities.ToDictionary(
            v => v.Key,
            v => Volatility.TryGetValue(v.Key, out var s) ? v.Value with { Annualised = v.Value.Annualised * (1 + s), Source = v.Value.Source + " (shocked)" } : v.Value);
        return snapshot with { Prices = prices, Volatilities = vols };
    }
}
