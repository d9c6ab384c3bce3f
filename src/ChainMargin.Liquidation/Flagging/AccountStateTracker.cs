using System.Collections.Concurrent;
using System.Globalization;
using ChainMargin.Core;
using ChainMargin.Liquidation.Keeper;
using ChainMargin.Risk;
using Microsoft.Extensions.Logging;

namespace ChainMargin.Liquidation.Flagging;

/// <summary>
/// The account state machine. Margin classifies (healthy, warning, liquidatable); the keeper's liquidations add the
/// rest: a liquidation sent (or, in a dry run, one that would be sent) makes the account liquidating; its mined
/// transaction, once the indexed state includes the block and the recomputed health is back above maintenance (or the
/// positions are closed), makes it resolved; a dropped or failed one returns it to liquidatable. A resolved account
/// follows margin again from the next block vector on. The current state of every account is kept in memory, so a
/// recompute writes only the accounts whose state changes (the store appends them to the history).
/// </summary>
internal sealed class AccountStateTracker : IDisposable
{
    private readonly IChainStore _store;
    private readonly Func<IAccountStateRecorder?> _recorder;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<EvmAddress, AccountStateRecord> _current = new();
    private readonly ConcurrentDictionary<EvmAddress, Liquidation> _liquidations = new();
    private readonly SemaphoreSlim _load = new(1, 1);

    // One lock per stripe of accounts: an account's recompute and its keeper reports are serialised, and different
    // accounts are recorded in parallel.
    private readonly SemaphoreSlim[] _locks = Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1)).ToArray();
    private volatile bool _loaded;

    public AccountStateTracker(IChainStore store, Func<IAccountStateRecorder?> recorder, TimeProvider time, ILogger log)
    {
        _store = store;
        _recorder = recorder;
        _time = time;
        _log = log;
    }

    public string? StateOf(EvmAddress account) => _current.TryGetValue(account, out var record) ? record.State : null;

    /// <summary>Accounts whose current state is anything but healthy.</summary>
    public IEnumerable<EvmAddress> NotHealthy() => _current.Where(c => c.Value.State != AccountStates.Healthy).Select(c => c.Key);

    /// <summary>
    /// Whether a recompute whose headline class is <paramref name="computed"/> needs the account's full report: its
    /// state would move, it is liquidatable (the keeper acts on the report), or it waits on a mined liquidation.
    /// </summary>
    public bool NeedsReport(EvmAddress account, string computed)
    {
        if (!_current.TryGetValue(account, out var current))
        {
            return true;
        }

        switch (current.State)
        {
            case AccountStates.Liquidating:
                return _liquidations.TryGetValue(account, out var liquidation)
                    ? liquidation.MinedBlock is not null || (!liquidation.Live && computed != AccountStates.Liquidatable)
                    : computed != AccountStates.Liquidatable;
            case AccountStates.Resolved:
                return true;
            default:
                return current.State != computed || computed == AccountStates.Liquidatable;
        }
    }

    public void Dispose()
    {
        _load.Dispose();
        foreach (var stripe in _locks)
        {
            stripe.Dispose();
        }
    }

    private SemaphoreSlim LockOf(EvmAddress account) => _locks[(int)((uint)StringComparer.Ordinal.GetHashCode(account.Value) % (uint)_locks.Length)];

    /// <summary>Records the state a recompute's report leads to; true when it changed.</summary>
    public async Task<bool> RecordAsync(MarginReport report, string computed, string reason, decimal? health, CancellationToken cancellationToken)
    {
        await LoadAsync(cancellationToken).ConfigureAwait(false);
        var gate = LockOf(report.Account);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var current = _current.GetValueOrDefault(report.Account);
            var (state, why) = Next(report, computed, reason, current);
            return await WriteAsync(report.Account, state, health, why, report.Blocks.Canonical(), current, MethodsOf(report), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// What the keeper did with a liquidation intent. <paramref name="latest"/> is the account's latest report with
    /// its classification and reason (null when the account was not computed yet in this process).
    /// </summary>
    public async Task OnIntentAsync(LiquidationIntent intent, MarginReport? latest, string? computed, string? reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(intent);
        if (!EvmAddress.TryParse(intent.Key.Account, out var account))
        {
            return;
        }

        await LoadAsync(cancellationToken).ConfigureAwait(false);
        var gate = LockOf(account);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var current = _current.GetValueOrDefault(account);
            var liquidating = current?.State == AccountStates.Liquidating;
            var tracked = _liquidations.TryGetValue(account, out var known) ? known : null;
            var health = latest?.Headline.Health ?? current?.Health;
            var blocks = latest?.Blocks.Canonical() ?? current?.BlockVector ?? string.Empty;
            var dryRun = intent is { State: IntentStates.Skipped, Reason: KeeperService.DryRunReason, TxHash: not null };
            if (intent.State == IntentStates.Sent || dryRun)
            {
                if (liquidating && tracked is not null && (tracked.IntentId == intent.Id || (dryRun && !tracked.Live)))
                {
                    // Already liquidating for this intent, or for an earlier dry run of the same episode.
                    return;
                }

                _liquidations[account] = new Liquidation(intent.Id, intent.Key.ChainId, Live: !dryRun, MinedBlock: null);
                var why = dryRun
                    ? string.Create(CultureInfo.InvariantCulture, $"intent {intent.Id} (dry run): would liquidate on chain {intent.Key.ChainId} with transaction {intent.TxHash}")
                    : string.Create(CultureInfo.InvariantCulture, $"intent {intent.Id}: liquidation sent on chain {intent.Key.ChainId} in transaction {intent.TxHash}");
                await WriteAsync(account, AccountStates.Liquidating, health, why, blocks, current, MethodsOf(latest), cancellationToken).ConfigureAwait(false);
                return;
            }

            if (!liquidating || (tracked is not null && tracked.IntentId != intent.Id))
            {
                // Not the liquidation the account is waiting for (or none): margin alone decides.
                return;
            }

            if (intent.State == IntentStates.Mined)
            {
                _liquidations[account] = new Liquidation(intent.Id, intent.Key.ChainId, Live: true, intent.MinedBlock ?? 0);
                if (latest is not null && computed is not null)
                {
                    var (state, why) = Next(latest, computed, reason ?? string.Empty, current);
                    await WriteAsync(account, state, health, why, blocks, current, MethodsOf(latest), cancellationToken).ConfigureAwait(false);
                }
            }
            else if (intent.State is IntentStates.Dropped or IntentStates.Failed)
            {
                _liquidations.TryRemove(account, out _);
                var why = string.Create(CultureInfo.InvariantCulture, $"intent {intent.Id} {intent.State}: {intent.Reason}");
                await WriteAsync(account, AccountStates.Liquidatable, health, why, blocks, current, MethodsOf(latest), cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            gate.Release();
        }
    }

    private (string State, string Reason) Next(MarginReport report, string computed, string reason, AccountStateRecord? current)
    {
        var account = report.Account;
        if (current?.State == AccountStates.Liquidating)
        {
            if (_liquidations.TryGetValue(account, out var liquidation))
            {
                if (liquidation.MinedBlock is { } mined)
                {
                    // The recompute must include the liquidation's block, or it still sees the positions it closed.
                    if ((report.Blocks.For(new ChainId(liquidation.Chain))?.Number ?? -1) < mined)
                    {
                        return (current.State, current.Reason);
                    }

                    _liquidations.TryRemove(account, out _);
                    return computed == AccountStates.Liquidatable
                        ? (AccountStates.Liquidatable, string.Create(CultureInfo.InvariantCulture, $"intent {liquidation.IntentId} mined in block {mined}, still below maintenance; {reason}"))
                        : (AccountStates.Resolved, string.Create(CultureInfo.InvariantCulture, $"intent {liquidation.IntentId} mined in block {mined}; {reason}"));
                }

                if (liquidation.Live)
                {
                    // Sent and not settled: the transaction may still be mined whatever the price does now.
                    return (current.State, current.Reason);
                }
            }

            // A dry run (or a liquidation this process does not know of, after a restart): liquidating until margin
            // no longer says liquidatable.
            if (computed == AccountStates.Liquidatable)
            {
                return (current.State, current.Reason);
            }

            _liquidations.TryRemove(account, out _);
            return (computed, reason);
        }

        if (current?.State == AccountStates.Resolved && current.BlockVector == report.Blocks.Canonical())
        {
            return (current.State, current.Reason);
        }

        return (computed, reason);
    }

    private static IReadOnlyList<MethodHealth> MethodsOf(MarginReport? report) =>
        report is null ? [] : [.. report.Methods.Select(m => new MethodHealth(m.Method, m.Health, m.StatusName))];

    private async Task<bool> WriteAsync(
        EvmAddress account,
        string state,
        decimal? health,
        string reason,
        string blocks,
        AccountStateRecord? current,
        IReadOnlyList<MethodHealth> methods,
        CancellationToken cancellationToken)
    {
        var record = new AccountStateRecord(account, state, health, reason, blocks, _time.GetUtcNow());
        var recorder = _recorder();
        if (current?.State == state)
        {
            // Unchanged: nothing is written to the history, but the health-over-time chart may take a sample.
            if (recorder is not null)
            {
                await recorder.ObserveUnchangedAsync(new AccountObservation(record, methods), cancellationToken).ConfigureAwait(false);
            }

            return false;
        }

        var changed = recorder is not null
            ? await recorder.RecordAsync(new AccountObservation(record, methods), cancellationToken).ConfigureAwait(false)
            : await _store.RecordAccountStateAsync(record, cancellationToken).ConfigureAwait(false);
        _current[account] = record;
        if (changed)
        {
            _log.LogInformation("account {Account} is {State} (health {Health}, {Reason})", account, state, health, reason);
        }

        return changed;
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        if (_loaded)
        {
            return;
        }

        await _load.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_loaded)
            {
                foreach (var record in await _store.GetCurrentAccountStatesAsync(cancellationToken).ConfigureAwait(false))
                {
                    _current.TryAdd(record.Account, record);
                }

                _loaded = true;
            }
        }
        finally
        {
            _load.Release();
        }
    }

    /// <summary>The liquidation an account in the liquidating state waits for; MinedBlock set once it is mined.</summary>
    private sealed record Liquidation(long IntentId, ulong Chain, bool Live, long? MinedBlock);
}
