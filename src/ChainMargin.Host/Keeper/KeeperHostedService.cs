using System.Collections.Concurrent;
using ChainMargin.Core;
using ChainMargin.Host.Composition;
using ChainMargin.Liquidation.Flagging;
using ChainMargin.Liquidation.Keeper;
using ChainMargin.Risk;
using Microsoft.Extensions.Options;

namespace ChainMargin.Host.Keeper;

/// <summary>
/// Runs the keeper in this process when Keeper:Enabled: settles what an earlier run left signed or sent, then reacts to
/// every recompute of the margin service (the fast path on each committed block, and the sweeps) by liquidating the
/// accounts it classifies liquidatable, without waiting for a Hangfire queue. What the keeper does with each intent
/// goes back to the margin service, which moves the account to liquidating, resolved or back to liquidatable.
/// </summary>
public sealed class KeeperHostedService : BackgroundService
{
    private readonly KeeperOptions _options;
    private readonly MarginService _margin;
    private readonly KeeperService _keeper;
    private readonly IServiceProvider _services;
    private readonly ILogger _log;
    /// <summary>
    /// Liquidations in progress at once. A price crash can make thousands of accounts liquidatable in one block; each
    /// liquidation holds database connections and RPC calls, and unbounded they exhaust the connection pool (and more
    /// than a few in parallel gain nothing on a small machine).
    /// </summary>
    private const int MaxConcurrent = 16;

    private readonly ConcurrentDictionary<(ulong Chain, EvmAddress Account), byte> _inFlight = new();
    private readonly SemaphoreSlim _slots = new(MaxConcurrent, MaxConcurrent);

    public KeeperHostedService(IOptions<KeeperOptions> options, MarginService margin, KeeperService keeper, IServiceProvider services, ILogger<KeeperHostedService> log)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _margin = margin;
        _keeper = keeper;
        _services = services;
        _log = log;
    }

    /// <summary>Liquidations started by this service, for metrics and tests.</summary>
    public long Started { get; private set; }

    /// <summary>Liquidations dispatched and not finished (waiting for a slot or running).</summary>
    public int InFlight => _inFlight.Count;

    public override void Dispose()
    {
        base.Dispose();
        _slots.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Enabled)
        {
            return;
        }

        // The intent table is created by the store's migrations, which the watcher service runs first.
        var watchers = _services.GetServices<IHostedService>().OfType<WatcherHostedService>().FirstOrDefault();
        if (watchers is not null)
        {
            await watchers.Started.Task.WaitAsync(stoppingToken).ConfigureAwait(false);
        }

        _log.LogInformation("keeper started ({Mode})", _options.DryRun ? "dry run: nothing is sent" : "live");
        _keeper.IntentChanged ??= _margin.OnIntentAsync;
        _ = Task.Run(() => _keeper.ResumeAsync(stoppingToken), stoppingToken);

        // Each recompute's reports are handed over as it finishes: no polling between the flag and the keeper.
        void OnRecomputed(IReadOnlyList<MarginReport> reports) => Dispatch(reports, stoppingToken);
        _margin.Recomputed += OnRecomputed;
        try
        {
            Dispatch(_margin.LatestReports, stoppingToken);
            await Task.Delay(Timeout.Infinite, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            _margin.Recomputed -= OnRecomputed;
        }
    }

    /// <summary>Starts a liquidation for every liquidatable report's chains, one at a time per account and chain.</summary>
    public void Dispatch(IEnumerable<MarginReport> reports, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reports);
        foreach (var report in reports)
        {
            // Liquidating: a liquidation of this account is out (or, in a dry run, was signed) and not settled yet. The
            // reference protocol liquidates on the cross-chain health the risk signer attests: an account liquidatable
            // only on a venue's own health (Aave below 1) is that venue keeper's, not a skipped intent here each block.
            if (report.Headline.Health is not { } health || health >= 1m || _margin.StateOf(report.Account) == AccountStates.Liquidating)
            {
                continue;
            }

            foreach (var candidate in LiquidationCandidate.FromReport(report))
            {
                // Added before the task starts, so a fast task cannot remove its key before it is there.
                var key = (candidate.Chain.Value, candidate.Account);
                if (!_inFlight.TryAdd(key, 0))
                {
                    continue;
                }

                Started++;
                _ = Task.Run(
                    async () =>
                    {
                        var slot = false;
                        try
                        {
                            await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
                            slot = true;
                            await _keeper.ProcessAsync(candidate, cancellationToken).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                        {
                        }
                        catch (Exception ex) when (ex is InvalidOperationException or Npgsql.NpgsqlException or Microsoft.Data.Sqlite.SqliteException)
                        {
                            _log.LogError("keeper: liquidation of {Account} on chain {Chain} failed: {Error}", candidate.Account, candidate.Chain, ex.Message);
                        }
                        finally
                        {
                            if (slot)
                            {
                                _slots.Release();
                            }

                            _inFlight.TryRemove(key, out _);
                        }
                    },
                    cancellationToken);
            }
        }
    }
}
