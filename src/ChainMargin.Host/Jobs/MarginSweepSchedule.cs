using ChainMargin.Host.Composition;
using Hangfire;
using Microsoft.Extensions.Options;

namespace ChainMargin.Host.Jobs;

/// <summary>
/// Schedules the sweep shards ("margin-sweep:{shard}") once the host runs, and keeps trying until it could
/// (<see cref="RecurringSchedule"/>: a lock a killed process left behind must not fail a restart).
/// </summary>
public sealed partial class MarginSweepSchedule(
    IRecurringJobManager jobs, IOptions<MarginScheduleOptions> schedule, TimeProvider time, ILogger<MarginSweepSchedule> log) : BackgroundService
{
    /// <summary>Completes once the sweep shards are scheduled.</summary>
    public TaskCompletionSource Scheduled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (await RecurringSchedule.KeepTryingAsync(Schedule, time, (e, wait) => LogRetry(log, e.Message, (int)wait.TotalSeconds), stoppingToken).ConfigureAwait(false))
        {
            Scheduled.TrySetResult();
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
