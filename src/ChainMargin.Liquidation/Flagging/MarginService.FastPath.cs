using System.Diagnostics;
using ChainMargin.Core;
using ChainMargin.Liquidation.Portfolio;
using ChainMargin.Risk;

namespace ChainMargin.Liquidation.Flagging;

/// <summary>
/// The fast path's savings, measured by <c>bench/run keeper</c>. (1) Rows and portfolios are kept between blocks:
/// after a commit only the accounts the block touched are read and assembled again, and a price update reuses every
/// other portfolio (a full read of 10,000 accounts costs hundreds of milliseconds). (2) Accounts are screened with the
/// batch kernels (<see cref="MarginBatch"/>, the same numbers without explanations, microseconds per account) and the
/// full report (every method, reasons, liquidation prices, VaR) is computed only where the state machine or the keeper
/// needs it: a state that moves, a liquidatable account, one waiting on a mined liquidation. (3) Reports are computed
/// in parallel and state changes written in parallel.
/// </summary>
public sealed partial class MarginService
{
    /// <summary>More touched accounts than this in one commit (a backfill) and the store is read whole instead.</summary>
    private const int MaxIncrementalAccounts = 256;

    /// <summary>Fewer accounts than this are simply computed in full; screening pays from here on.</summary>
    private const int ScreenFrom = 64;

    private Snapshot? _snapshot;

    /// <summary>Where the last fast-path recompute spent its time (read, market, screen, explain, record), for the benchmark.</summary>
    public string LastFastPathProfile { get; private set; } = string.Empty;

    /// <summary>
    /// The fast path: a watcher committed up to <paramref name="committed"/>, touching <paramref name="touched"/>
    /// (positions) and maybe prices. Recomputes the touched accounts, or every account when prices changed, from the
    /// kept rows with the touched accounts' rows read again; the store is read whole when anything else moved since
    /// (another chain's checkpoint, a failed step, a large span).
    /// </summary>
    public async Task<IReadOnlyList<MarginReport>> RecomputeAfterCommitAsync(
        BlockRef committed, IReadOnlySet<EvmAddress> touched, bool pricesChanged, string trigger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(touched);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        List<MarginReport> reports;
        try
        {
            var started = Stopwatch.GetTimestamp();
            var snapshot = _snapshot;
            _snapshot = null;
            await RefreshVenuesAsync(cancellationToken).ConfigureAwait(false);
            var groups = await GroupsAsync(cancellationToken).ConfigureAwait(false);
            var checkpoints = await CheckpointsAsync(cancellationToken).ConfigureAwait(false);

            // Kept portfolios hold linked addresses together: a link made or removed since means reading them all.
            var current = snapshot is not null && ReferenceEquals(snapshot.Groups, groups) && touched.Count <= MaxIncrementalAccounts && _chains.All(c =>
                c == committed.Chain
                    ? checkpoints.GetValueOrDefault(c) == committed
                    : checkpoints.GetValueOrDefault(c) == snapshot.Rows.Checkpoints.GetValueOrDefault(c));
            snapshot = current
                ? await RefreshAsync(snapshot!, touched, checkpoints, cancellationToken).ConfigureAwait(false)
                : await ReadAllAsync(groups, cancellationToken).ConfigureAwait(false);
            var read = Stopwatch.GetElapsedTime(started);

            var market = await PrepareMarketAsync(snapshot.Rows, snapshot.Decimals, null, cancellationToken).ConfigureAwait(false);
            var prepared = Stopwatch.GetElapsedTime(started);

            // Accounts only a venue knows (Aave-only users) have no kept portfolio: the enricher fills an empty one.
            var targets = pricesChanged
                ? snapshot.Portfolios.Keys.Concat(_states.NotHealthy()).Concat(VenueAccounts?.Invoke() ?? []).Select(groups.AccountOf).ToHashSet()
                : touched.Select(groups.AccountOf).ToHashSet();
            var sources = new Core.Portfolio?[targets.Count];
            var portfolios = new List<Core.Portfolio>(targets.Count);
            foreach (var account in targets)
            {
                var kept = snapshot.Portfolios.GetValueOrDefault(account);
                sources[portfolios.Count] = kept;

                // Without an enricher, a kept portfolio is moved to the current checkpoints only if it gets a report.
                portfolios.Add(kept is null ? Empty(account, groups, snapshot.Rows.Checkpoints) : PortfolioEnricher is null ? kept : Revector(kept, snapshot.Rows.Checkpoints));
            }

            // The last screen's compiled accounts are repriced when they are the same portfolios (a price-only block):
            // compiling 10,000 portfolios again is the larger part of a screen.
            var reuse = snapshot.Screened is { } last && PortfolioEnricher is null && Same(last.Sources, sources) ? last.Batch : null;
            var checkpointsNow = snapshot.Rows.Checkpoints;
            (reports, var batch) = await ComputeAndRecordAsync(
                portfolios, market, trigger, explainAtRisk: false, reuse, cancellationToken, PortfolioEnricher is null ? p => Revector(p, checkpointsNow) : null).ConfigureAwait(false);
            _snapshot = snapshot with { Screened = batch is null ? null : new Screen(batch, sources) };
            LastRecomputeMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            LastFastPathProfile = string.Create(
                System.Globalization.CultureInfo.InvariantCulture,
                $"{(current ? "incremental" : "full")} read {read.TotalMilliseconds:0.0} ms, market {(prepared - read).TotalMilliseconds:0.0} ms, {_phases}");
            Recomputes++;
        }
        finally
        {
            _gate.Release();
        }

        Recomputed?.Invoke(reports);
        return reports;
    }

    /// <summary>
    /// Computes and records the accounts. Many accounts are screened first: an account the screen finds healthy and
    /// whose state is healthy gets no report (nothing changes for it); unless <paramref name="explainAtRisk"/> (sweeps
    /// and the CLI, which list every account at risk), neither does any account whose state would not move.
    /// </summary>
    private async Task<(List<MarginReport> Reports, MarginBatch? Batch)> ComputeAndRecordAsync(
        List<Core.Portfolio> portfolios, RiskMarket market, string trigger, bool explainAtRisk, MarginBatch? reuse, CancellationToken cancellationToken,
        Func<Core.Portfolio, Core.Portfolio>? beforeReport = null)
    {
        if (PortfolioEnricher is { } enrich)
        {
            portfolios = portfolios.ConvertAll(p => enrich(p.Account, p));
        }

        foreach (var portfolio in portfolios)
        {
            _venueHealth[portfolio.Account] = portfolio.VenueHealth;
        }

        var started = Stopwatch.GetTimestamp();
        var selected = portfolios;
        MarginBatch? batch = null;
        if (portfolios.Count >= ScreenFrom)
        {
            batch = reuse?.Reprice(market) ?? MarginBatch.Create(portfolios, market);
            batch.ComputeAll();
            var headline = market.Config.HeadlineMethod;
            if (headline is MarginMethods.VarHistorical or MarginMethods.VarMonteCarlo)
            {
                batch.ComputeVar(headline == MarginMethods.VarMonteCarlo);
            }

            selected = [];
            for (var i = 0; i < batch.Count; i++)
            {
                // The screen classifies as Classify does: a venue's own health below its line counts as well.
                var account = portfolios[i].Account;
                var computed = Worst(ClassOf(batch.Get(i).Headline.Health), ClassOf(LowestVenue(account)?.Health));
                var skip = explainAtRisk
                    ? computed == AccountStates.Healthy && _states.StateOf(account) == computed
                    : !_states.NeedsReport(account, computed);
                if (!skip)
                {
                    selected.Add(portfolios[i]);
                }
            }
        }

        // The reports in parallel (pure computation), then the state changes in parallel (one round trip each; an
        // account's own changes stay serialised by the state tracker).
        var screened = Stopwatch.GetElapsedTime(started);
        var computedReports = new MarginReport[selected.Count];
        Parallel.For(0, selected.Count, i => computedReports[i] = MarginEngine.Compute(new MarginParameters(beforeReport?.Invoke(selected[i]) ?? selected[i], market)));
        var explained = Stopwatch.GetElapsedTime(started);
        // Flags first: of the changes written in parallel, those to liquidatable go out ahead of the rest.
        var reports = computedReports.OrderBy(r => ClassOf(r.Headline.Health) == AccountStates.Liquidatable ? 0 : 1).ToList();
        foreach (var report in reports)
        {
            _latest[report.Account] = report;
        }

        await Parallel.ForEachAsync(
            reports, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken },
            async (report, ct) => await RecordAsync(report, trigger, ct).ConfigureAwait(false)).ConfigureAwait(false);
        _phases = string.Create(
            System.Globalization.CultureInfo.InvariantCulture,
            $"screen {portfolios.Count}{(reuse is null ? "" : " (repriced)")} {screened.TotalMilliseconds:0.0} ms, explain {selected.Count} {(explained - screened).TotalMilliseconds:0.0} ms, record {(Stopwatch.GetElapsedTime(started) - explained).TotalMilliseconds:0.0} ms");
        return (reports, batch);
    }

    private string _phases = string.Empty;

    private static bool Same(Core.Portfolio?[] a, Core.Portfolio?[] b)
    {
        if (a.Length != b.Length)
        {
            return false;
        }

        for (var i = 0; i < a.Length; i++)
        {
            if (!ReferenceEquals(a[i], b[i]))
            {
                return false;
            }
        }

        return true;
    }

    private static string Worst(string a, string b) => Severity(b) > Severity(a) ? b : a;

    private string ClassOf(decimal? health) =>
        health is not { } h ? AccountStates.Healthy : h < 1m ? AccountStates.Liquidatable : h < _flags.WarningHealth ? AccountStates.Warning : AccountStates.Healthy;

    private async Task<Dictionary<ChainId, BlockRef>> CheckpointsAsync(CancellationToken cancellationToken)
    {
        var checkpoints = new Dictionary<ChainId, BlockRef>();
        foreach (var chain in _chains)
        {
            if (await _store.GetCheckpointAsync(chain, cancellationToken).ConfigureAwait(false) is { } checkpoint)
            {
                checkpoints[chain] = checkpoint.Block;
            }
        }

        return checkpoints;
    }

    private async Task<Snapshot> ReadAllAsync(AccountGroups groups, CancellationToken cancellationToken)
    {
        var rows = await StoreSnapshot.ReadAsync(_store, _chains, null, cancellationToken).ConfigureAwait(false);
        var decimals = await ReadDecimalsAsync(rows, cancellationToken).ConfigureAwait(false);
        var portfolios = new PortfolioAssembler(_registry, decimals).Assemble(rows, null, groups);
        return new Snapshot(rows, new Dictionary<EvmAddress, Core.Portfolio>(portfolios), groups, decimals);
    }

    /// <summary>The kept rows with the touched accounts' rows (and the small tables: prices, markets, series) read again.</summary>
    private async Task<Snapshot> RefreshAsync(Snapshot kept, IReadOnlySet<EvmAddress> touched, Dictionary<ChainId, BlockRef> checkpoints, CancellationToken cancellationToken)
    {
        // A touched address touches its whole account: every linked address is read again.
        var groups = kept.Groups;
        var accounts = touched.Select(groups.AccountOf).ToHashSet();
        var addresses = accounts.SelectMany(groups.AddressesOf).ToHashSet();
        var collateral = new List<CollateralBalance>();
        var perps = new List<PerpPositionRow>();
        var options = new List<OptionPositionRow>();
        foreach (var account in addresses)
        {
            collateral.AddRange(await _store.GetCollateralAsync(account, cancellationToken).ConfigureAwait(false));
            perps.AddRange(await _store.GetPerpPositionsAsync(account, cancellationToken).ConfigureAwait(false));
            options.AddRange(await _store.GetOptionPositionsAsync(account, cancellationToken).ConfigureAwait(false));
        }

        var markets = await _store.GetPerpMarketsAsync(cancellationToken).ConfigureAwait(false);
        var series = await _store.GetOptionSeriesAsync(cancellationToken).ConfigureAwait(false);
        var prices = await _store.GetLatestPricesAsync(cancellationToken).ConfigureAwait(false);
        var fresh = new StoreSnapshot(collateral, perps, options, markets, series, prices, checkpoints);
        var decimals = await ReadDecimalsAsync(fresh, cancellationToken).ConfigureAwait(false);
        var portfolios = kept.Portfolios;
        if (accounts.Count > 0)
        {
            var assembled = new PortfolioAssembler(_registry, decimals).Assemble(fresh, accounts, groups);
            foreach (var account in accounts)
            {
                if (assembled.TryGetValue(account, out var portfolio))
                {
                    portfolios[account] = portfolio;
                }
                else
                {
                    portfolios.Remove(account);
                }
            }
        }

        var rows = kept.Rows;
        var merged = addresses.Count == 0
            ? rows with { Markets = markets, Series = series, Prices = prices, Checkpoints = checkpoints }
            : new StoreSnapshot(
                [.. rows.Collateral.Where(r => !addresses.Contains(r.Account)), .. collateral],
                [.. rows.Perps.Where(r => !addresses.Contains(r.Account)), .. perps],
                [.. rows.Options.Where(r => !addresses.Contains(r.Account)), .. options],
                markets, series, prices, checkpoints);
        return new Snapshot(merged, portfolios, groups, decimals, kept.Screened);
    }

    /// <summary>
    /// A kept portfolio at the current checkpoints: every value of a chain is as of that chain's checkpoint. An empty one
    /// (see <see cref="Empty"/>) already stands at every chain's checkpoint and has no chains of its own to move.
    /// </summary>
    private static Core.Portfolio Revector(Core.Portfolio portfolio, IReadOnlyDictionary<ChainId, BlockRef> checkpoints) =>
        !portfolio.Chains.Any()
            ? portfolio
            : portfolio with
            {
                Blocks = new BlockVector(portfolio.Chains.Select(c => checkpoints.TryGetValue(c, out var at) ? at : portfolio.Blocks.For(c)!.Value)),
            };

    /// <summary>An account with nothing left (its positions closed): computed empty at every chain's checkpoint.</summary>
    private static Core.Portfolio Empty(EvmAddress account, AccountGroups groups, IReadOnlyDictionary<ChainId, BlockRef> checkpoints) =>
        new(account, groups.AddressesOf(account), [], [], [], [], [], new BlockVector(checkpoints.Values));

    /// <summary>
    /// The rows as of the checkpoints they were read at, every account's assembled (not enriched) portfolio, the account
    /// groups and feed decimals they were assembled with, and the last screen: its batch and the kept portfolios it was
    /// compiled from, in order.
    /// </summary>
    private sealed record Snapshot(
        StoreSnapshot Rows,
        Dictionary<EvmAddress, Core.Portfolio> Portfolios,
        AccountGroups Groups,
        IReadOnlyDictionary<(ChainId, EvmAddress), FeedDecimals>? Decimals,
        Screen? Screened = null);

    private sealed record Screen(MarginBatch Batch, Core.Portfolio?[] Sources);
}
