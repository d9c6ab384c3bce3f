using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using ChainMargin.Core;
using ChainMargin.Liquidation.Accounts;
using ChainMargin.Liquidation.Alerts;
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
    private readonly ConcurrentDictionary<EvmAddress, IReadOnlyList<VenueHealth>> _venueHealth = new();
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly AccountStateTracker _states;
    private IReadOnlyList<string> _alerts = [];
    private AccountGroups _groups = AccountGroups.None;

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
        _states = new AccountStateTracker(store, () => StateRecorder, time, log);
        AlertLog = new AlertLog(time);
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
        var described = latest is null ? default : Describe(latest, "keeper");
        return _states.OnIntentAsync(intent, latest, described.State, described.Reason, cancellationToken);
    }

    /// <summary>
    /// Alerts of the oracle checks (unsafe prices, disagreements), raised once while each lasts and cleared when it
    /// ends; other sources (the keeper's fee caps) may report into the same log.
    /// </summary>
    public AlertLog AlertLog { get; }

    /// <summary>Time of the last full or incremental recompute, in milliseconds (a metric).</summary>
    public double LastRecomputeMs { get; private set; }

    public long Recomputes { get; private set; }

    /// <summary>The latest report of an account from the last recompute that included it.</summary>
    public MarginReport? Latest(EvmAddress account) => _latest.GetValueOrDefault(Volatile.Read(ref _groups).AccountOf(account));

    public IReadOnlyCollection<MarginReport> LatestReports => _latest.Values.ToArray();

    /// <summary>
    /// Optional, set by the host: adds to an account's portfolio what the store does not hold (another venue's
    /// positions and that venue's own health, e.g. Aave V3's). Applied to the API's reads and to the recomputes of
    /// accounts the store knows.
    /// </summary>
    public Func<EvmAddress, Core.Portfolio, Core.Portfolio>? PortfolioEnricher { get; set; }

    /// <summary>
    /// Optional, set by the host: which addresses make one account (configured and signed links). Without it every
    /// address is its own account.
    /// </summary>
    public AccountDirectory? Accounts { get; set; }

    /// <summary>
    /// Optional, set by the host: each feed's decimals as its chain's watcher stored them (see
    /// <see cref="Oracles.StoredFeedDecimals"/>). Without it the reference protocol's 8 decimals are assumed.
    /// </summary>
    public IFeedDecimalsSource? FeedDecimals { get; set; }

    /// <summary>The venues' own health for every address of the account as the enricher adds it (empty without one).</summary>
    public IReadOnlyList<VenueHealth> VenueHealthOf(EvmAddress account)
    {
        var groups = Volatile.Read(ref _groups);
        var primary = groups.AccountOf(account);
        return PortfolioEnricher?.Invoke(primary, Core.Portfolio.Empty(primary) with { Addresses = groups.AddressesOf(primary) }).VenueHealth ?? [];
    }

    /// <summary>The account groups as of now (every address alone without <see cref="Accounts"/>).</summary>
    public async Task<AccountGroups> GroupsAsync(CancellationToken cancellationToken)
    {
        var groups = Accounts is null ? AccountGroups.None : await Accounts.CurrentAsync(cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref _groups, groups);
        return groups;
    }

    /// <summary>
    /// Optional, set by the host: records every recompute's state with what must commit with a change (the webhook
    /// outbox) and samples health. Without it the store records the state alone.
    /// </summary>
    public IAccountStateRecorder? StateRecorder { get; set; }

    /// <summary>
    /// Optional, set by the host with <see cref="PortfolioEnricher"/>: brings the venue's view up to date with the
    /// store before a computation (Aave V3's persisted state at the chain's checkpoint).
    /// </summary>
    public Func<CancellationToken, Task>? VenueRefresh { get; set; }

    /// <summary>
    /// Optional: accounts a venue knows that the store's facts may not (Aave-only users), so that sweeps, the fast
    /// path and the at-risk list include them.
    /// </summary>
    public Func<IReadOnlyCollection<EvmAddress>>? VenueAccounts { get; set; }


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
        await RefreshVenuesAsync(cancellationToken).ConfigureAwait(false);
        // Any address of a linked account gets the whole account, named by its primary.
        var groups = await GroupsAsync(cancellationToken).ConfigureAwait(false);
        var primary = groups.AccountOf(account);
        var addresses = groups.AddressesOf(primary);
        var rows = await StoreSnapshot.ReadAddressesAsync(_store, _chains, addresses, cancellationToken).ConfigureAwait(false);
        var decimals = await ReadDecimalsAsync(rows, cancellationToken).ConfigureAwait(false);
        var market = await PrepareMarketAsync(rows, decimals, shocks, cancellationToken).ConfigureAwait(false);
        var portfolios = new PortfolioAssembler(_registry, decimals).Assemble(rows, null, groups);
        var portfolio = portfolios.GetValueOrDefault(primary) ?? Core.Portfolio.Empty(primary) with { Addresses = addresses };
        portfolio = PortfolioEnricher?.Invoke(primary, portfolio) ?? portfolio;
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
        await RefreshVenuesAsync(cancellationToken).ConfigureAwait(false);
        var rows = await StoreSnapshot.ReadAsync(_store, _chains, null, cancellationToken).ConfigureAwait(false);
        var groups = await GroupsAsync(cancellationToken).ConfigureAwait(false);

        // A linked account is swept in its primary's shard, all its addresses together.
        var accounts = rows.Accounts.Concat(VenueAccounts?.Invoke() ?? []).Where(a => ShardOf(groups.AccountOf(a), shards) == shard).ToHashSet();
        return accounts.Count == 0 ? [] : await RecomputeAsync(accounts, trigger, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<MarginReport>> RecomputeAsync(IReadOnlySet<EvmAddress>? accounts, string trigger, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        List<MarginReport> reports;
        try
        {
            var started = Stopwatch.GetTimestamp();
            await RefreshVenuesAsync(cancellationToken).ConfigureAwait(false);
            _snapshot = null;
            var rows = await StoreSnapshot.ReadAsync(_store, _chains, null, cancellationToken).ConfigureAwait(false);
            var groups = await GroupsAsync(cancellationToken).ConfigureAwait(false);
            var decimals = await ReadDecimalsAsync(rows, cancellationToken).ConfigureAwait(false);
            var market = await PrepareMarketAsync(rows, decimals, null, cancellationToken).ConfigureAwait(false);
            var portfolios = new PortfolioAssembler(_registry, decimals).Assemble(rows, accounts, groups);

            // An account whose positions are all closed has no portfolio left; it is computed empty, at every chain's
            // checkpoint, so that its state still follows (a liquidated account resolves, then turns healthy). Accounts
            // only a venue knows (Aave-only users) start empty too, and the enricher fills them.
            var venueOnly = (VenueAccounts?.Invoke() ?? []).Where(a => accounts is null || accounts.Contains(a));
            var emptied = (accounts ?? _states.NotHealthy()).Concat(venueOnly).Select(groups.AccountOf).Distinct().Where(a => !portfolios.ContainsKey(a)).ToArray();
            if (emptied.Length > 0)
            {
                var all = portfolios.ToDictionary();
                foreach (var account in emptied)
                {
                    all[account] = new Core.Portfolio(account, groups.AddressesOf(account), [], [], [], [], [], new BlockVector(rows.Checkpoints.Values));
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

    /// <summary>
    /// The state an account is in given its report, and the venues' own health from its last recompute: a venue
    /// liquidates on its own health (Aave below 1 is liquidatable there whatever the cross-chain health says).
    /// </summary>
    public string Classify(MarginReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var state = ClassifyHealth(report.Headline.Health);
        var venue = ClassifyHealth(LowestVenue(report.Account)?.Health);
        return Severity(venue) > Severity(state) ? venue : state;
    }

    /// <summary>The venue health (per chain) of the account with the lowest value, from its last recompute.</summary>
    public VenueHealth? LowestVenue(EvmAddress account) =>
        _venueHealth.TryGetValue(account, out var venues) ? venues.Where(v => v.Health is not null).MinBy(v => v.Health) : null;

    private string ClassifyHealth(decimal? health) =>
        health is null ? AccountStates.Healthy : health < 1m ? AccountStates.Liquidatable : health < _flags.WarningHealth ? AccountStates.Warning : AccountStates.Healthy;

    private static int Severity(string state) => state switch
    {
        AccountStates.Liquidatable => 2,
        AccountStates.Warning => 1,
        _ => 0,
    };

    private async Task RefreshVenuesAsync(CancellationToken cancellationToken)
    {
        if (VenueRefresh is { } refresh)
        {
            await refresh(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The decimals of every feed the rows use (price, volatility, perp market and option series feeds); null without a
    /// <see cref="FeedDecimals"/> source.
    /// </summary>
    private async Task<IReadOnlyDictionary<(ChainId, EvmAddress), FeedDecimals>?> ReadDecimalsAsync(StoreSnapshot rows, CancellationToken cancellationToken)
    {
        if (FeedDecimals is not { } source)
        {
            return null;
        }

        var feeds = rows.Prices.Where(r => _registry.PriceFeedAsset(r.Chain, r.Feed) is not null || _registry.VolatilityFeedAsset(r.Chain, r.Feed) is not null)
            .Select(r => (r.Chain, r.Feed))
            .Concat(rows.Markets.Select(m => (m.Chain, m.Feed)))
            .Concat(rows.Series.Select(s => (s.Chain, s.Feed)))
            .Distinct();
        var decimals = new Dictionary<(ChainId, EvmAddress), FeedDecimals>();
        foreach (var (chain, feed) in feeds)
        {
            decimals[(chain, feed)] = await source.GetAsync(chain, feed, cancellationToken).ConfigureAwait(false);
        }

        return decimals;
    }

    private async Task<RiskMarket> PrepareMarketAsync(
        StoreSnapshot rows, IReadOnlyDictionary<(ChainId, EvmAddress), FeedDecimals>? decimals, Shocks? shocks, CancellationToken cancellationToken)
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
        var oracle = _snapshots.Build(rows.Prices, history, now, _staleChains(now), decimals);
        AlertLog.Reconcile(MarketSnapshotBuilder.AlertSource, oracle.Conditions);
        var previous = Interlocked.Exchange(ref _alerts, oracle.Alerts);
        foreach (var alert in oracle.Alerts.Except(previous, StringComparer.Ordinal))
        {
            // Indexing and flagging go on; the affected prices are unsafe, so liquidations on them pause.
            _log.LogWarning("price alert: {Alert}", alert);
        }

        var snapshot = shocks is null ? oracle.Snapshot : shocks.Apply(oracle.Snapshot);
        return RiskMarket.Prepare(snapshot, _risk, oracle.History);
    }

    private Task<bool> RecordAsync(MarginReport report, string trigger, CancellationToken cancellationToken)
    {
        var (state, reason, health) = Describe(report, trigger);
        return _states.RecordAsync(report, state, reason, health, cancellationToken);
    }

    /// <summary>The state a report leads to, why, and the health that decided it (a venue's own when that was lower).</summary>
    private (string State, string Reason, decimal? Health) Describe(MarginReport report, string trigger)
    {
        var headline = report.Headline;
        var state = Classify(report);
        var reason = string.Create(CultureInfo.InvariantCulture, $"{trigger}: {headline.Method} {headline.StatusName}");
        if (headline.Reasons.Count > 0)
        {
            reason += " (" + string.Join("; ", headline.Reasons) + ")";
        }

        var health = headline.Health;
        if (state != ClassifyHealth(headline.Health) && LowestVenue(report.Account) is { } venue)
        {
            // The venue's own health decided: it is the health recorded, with where it comes from.
            health = venue.Health;
            reason += string.Create(CultureInfo.InvariantCulture, $"; {venue.Venue} on chain {venue.Chain} health {venue.Health} at block {venue.AsOf.Number}");
        }

        return (state, reason, health);
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
            p => Spot.TryGetValue(p.Key, out var s) && p.Value.Usd is { } usd ? p.Value with { Usd = usd * (1 + s), UsdHigh = p.Value.UsdHigh * (1 + s) } : p.Value);
        var vols = snapshot.Volatilities.ToDictionary(
            v => v.Key,
            v => Volatility.TryGetValue(v.Key, out var s) ? v.Value with { Annualised = v.Value.Annualised * (1 + s), Source = v.Value.Source + " (shocked)" } : v.Value);
        return snapshot with { Prices = prices, Volatilities = vols };
    }
}
