namespace ChainMargin.Host.Jobs;

/// <summary>
/// Puts recurring jobs into Hangfire from a running host, trying until it could. Each AddOrUpdate takes a Hangfire lock
/// per job; a process killed while it held one leaves it behind until Hangfire's lock timeout (10 minutes by default),
/// and a restart inside that time must still start, serve and index instead of failing (and failing again at every
/// restart until then). The jobs an earlier run scheduled keep running meanwhile.
/// </summary>
public static class RecurringSchedule
{
    /// <summary>
    /// Runs <paramref name="schedule"/> until it succeeds, waiting 2 s after the first failure and twice as long after
    /// each next one, up to 30 s; each failure is handed to <paramref name="failed"/> with the wait that follows.
    /// Returns true once scheduled, false when stopped first.
    /// </summary>
    public static async Task<bool> KeepTryingAsync(Action schedule, TimeProvider time, Action<Exception, TimeSpan> failed, CancellationToken stoppingToken)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        ArgumentNullException.ThrowIfNull(failed);
        var delay = TimeSpan.FromSeconds(2);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                schedule();
                return true;
            }
#pragma warning disable CA1031 // any storage failure is retried; the host keeps indexing and serving
            catch (Exception e)
#pragma warning restore CA1031
            {
                failed(e, delay);
            }

            try
            {
                await Task.Delay(delay, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return false;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
        }

        return false;
    }
}
