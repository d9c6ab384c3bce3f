using ChainMargin.Core;
using ChainMargin.Indexing;
using ChainMargin.Indexing.Rpc;
using ChainMargin.Liquidation.Flagging;
using ChainMargin.Storage;
using Microsoft.Extensions.Options;

namespace ChainMargin.Host.Composition;

/// <summary>
/// Runs one watcher per configured chain, each while this process holds that chain's lease (several processes can
/// share one PostgreSQL; a chain is indexed by one of them at a time, and another takes over when the owner dies).
/// Every commit that moves a price or a position feeds the in-process fast path: recompute the touched accounts and
/// flag them, without waiting for any queue.
/// </summary>
public sealed class WatcherHostedService : BackgroundService
{
    private readonly IReadOnlyList<ChainOptions> _chains;
    private readonly IChainStore _store;
    private readonly IChainLeases _leases;
    private readonly ChainStatusRegistry _statuses;
    private readonly MarginService _margin;
    private readonly MarginScheduleOptions _schedule;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _logs;
    private readonly ILogger _log;

    public WatcherHostedService(
        IReadOnlyList<ChainOptions> chains, IChainStore store, IChainLeases leases, ChainStatusRegistry statuses, MarginService margin,
        IOptions<MarginScheduleOptions> schedule, TimeProvider time, ILoggerFactory logs)
    {
        _chains = chains;
        _store = store;
        _leases = leases;
        _statuses = statuses;
        _margin = margin;
        _schedule = schedule.Value;
        _time = time;
        _logs = logs;
        _log = logs.CreateLogger<WatcherHostedService>();
    }

    /// <summary>Completes once migrations ran and the watchers started.</summary>
    public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await _store.MigrateAsync(stoppingToken).ConfigureAwait(false);
        var tasks = _chains.Select(chain => Task.Run(() => OwnAndWatchAsync(chain, stoppingToken), stoppingToken)).ToArray();
        Started.TrySetResult();
        await Task.WhenAll(tasks).ConfigureAwait(false);
    }

    private async Task OwnAndWatchAsync(ChainOptions options, CancellationToken stoppingToken)
    {
        var chain = new ChainId(options.ChainId);
        var status = _statuses.GetOrAdd(chain, options.Name, options.StaleAfter);
        while (!stoppingToken.IsCancellationRequested)
        {
            IChainLease? lease = null;
            try
            {
                lease = await _leases.TryAcquireAsync(chain, stoppingToken).ConfigureAwait(false);
                if (lease is null)
                {
                    status.Owned = false;
                    await Task.Delay(TimeSpan.FromSeconds(2), _time, stoppingToken).ConfigureAwait(false);
                    continue;
                }

                status.Owned = true;
                using var rpc = new JsonRpcClient(options.RpcUrls, time: _time);
                status.RpcErrorSource = () => rpc.ErrorCount;
                var watcher = new ChainWatcher(options, _store, rpc, status, _time, _logs.CreateLogger("ChainMargin.Watcher." + options.Name));
                Aave.AaveV3VenueServices.AttachTo(watcher, options, _store, rpc);
                if (_schedule.FastPath)
                {
                    watcher.Committed += OnCommittedAsync;
                }

                using var leaseLost = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                var watch = watcher.RunAsync(leaseLost.Token);
                while (!watch.IsCompleted)
                {
                    await Task.WhenAny(watch, Task.Delay(TimeSpan.FromSeconds(5), _time, stoppingToken)).ConfigureAwait(false);
                    if (!watch.IsCompleted && !await lease.IsHeldAsync(stoppingToken).ConfigureAwait(false))
                    {
                        _log.LogWarning("chain {Chain}: lease lost, stopping its watcher", chain);
                        await leaseLost.CancelAsync().ConfigureAwait(false);
                    }
                }

                await watch.ConfigureAwait(false);
                if (status.Halted is not null)
                {
                    return;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is Npgsql.NpgsqlException or Microsoft.Data.Sqlite.SqliteException or InvalidOperationException or TimeoutException)
            {
                status.Failed(ex.Message);
                _log.LogError(ex, "chain {Chain}: watcher failed; restarting", chain);
                await Task.Delay(TimeSpan.FromSeconds(2), _time, stoppingToken).ConfigureAwait(false);
            }
            finally
            {
                status.Owned = false;
                if (lease is not null)
                {
                    await lease.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
    }

    private async Task OnCommittedAsync(ChainCommitted committed, CancellationToken cancellationToken)
    {
        if (committed.Reorged)
        {
            await _margin.RecomputeAsync(null, $"block {committed.Checkpoint.Number} on chain {committed.Chain}", cancellationToken).ConfigureAwait(false);
        }
        else if (committed.PricesChanged || committed.Accounts.Count > 0)
        {
            await _margin.RecomputeAfterCommitAsync(
                committed.Checkpoint, committed.Accounts, committed.PricesChanged, $"block {committed.Checkpoint.Number} on chain {committed.Chain}", cancellationToken).ConfigureAwait(false);
        }
    }
}
