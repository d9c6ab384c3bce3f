using ChainMargin.Host.Composition;
using Hangfire;
using Microsoft.Extensions.Options;

namespace ChainMargin.Host.Jobs;

/// <summary>
/// Schedules the sweep shards ("margin-sweep:{shard}") once the host runs, and keeps trying until it could. Scheduling
/// takes a Hangfire lock per recurring job; a process killed while it held one leaves it behind until Hangfire's lock
/// timeout, and a restart inside that time must still start indexing instead of failing at start-up (and failing again
/// at every restart until then). The jobs scheduled by an earlier run keep running meanwhile.
/// </summary>
public sealed partial class MarginSweepSchedule(
    IRecurringJobManager jobs, IOptions<MarginScheduleOptions> schedule, TimeProvider time, ILogger<MarginSweepSchedule> log) : BackgroundService
{
    /// <summary>Completes once the sweep shards are scheduled.</summary>
    public TaskCompletionSource Scheduled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromSeconds(2);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                Schedule();
                Scheduled.TrySetResult();
                return;
            }
#pragma warning disable CA1031 // any storage failure is retried; the host keeps indexing and serving
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogRetry(log, e.Message, (int)delay.TotalSeconds);
            }

            try
            {
                await Task.Delay(delay, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
        }
    }

    private void Schedule()
    {
        var options = schedule.Value;
        jobs.RemoveIfExists(MarginSweepJob.RecurringPrefix);
        for (var shard = 0; shard < options.SweepShards; shard++)
        {
            var (s, n) = (shard, options.SweepShards);
            jobs.AddOrUpdate<MarginSweepJob>(MarginSweepJob.RecurringId(s), job => job.RunAsync(s, n, CancellationToken.None), options.SweepCron);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "scheduling the margin sweep failed ({Error}); trying again in {Seconds} s")]
    private static partial void LogRetry(ILogger log, string error, int seconds);
}
