using ChainMargin.Liquidation.Flagging;
using Hangfire;

namespace ChainMargin.Host.Jobs;

/// <summary>
/// The safety net under the fast path: a Hangfire recurring job ("margin-sweep") that recomputes every account and
/// records state changes. Idempotent: running it twice records nothing new the second time.
/// </summary>
public sealed class MarginSweepJob
{
    public const string RecurringId = "margin-sweep";
    private readonly MarginService _margin;

    public MarginSweepJob(MarginService margin) => _margin = margin;

    [AutomaticRetry(Attempts = 3)]
    [DisableConcurrentExecution(timeoutInSeconds: 60)]
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await _margin.RecomputeAsync(null, "sweep", cancellationToken).ConfigureAwait(false);
    }
}
