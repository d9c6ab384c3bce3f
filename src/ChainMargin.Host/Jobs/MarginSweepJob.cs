using ChainMargin.Liquidation.Flagging;
using Hangfire;

namespace ChainMargin.Host.Jobs;

/// <summary>
/// The safety net under the fast path: Hangfire recurring jobs "margin-sweep:{shard}" that each recompute one shard
/// of the accounts and record state changes. Stable ids, so every process schedules the same jobs once; idempotent:
/// running a shard twice records nothing new the second time.
/// </summary>
public sealed class MarginSweepJob
{
    public const string RecurringPrefix = "margin-sweep";
    private readonly MarginService _margin;

    public MarginSweepJob(MarginService margin) => _margin = margin;

    public static string RecurringId(int shard) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{RecurringPrefix}:{shard}");

    [AutomaticRetry(Attempts = 3)]
    [DisableConcurrentExecution(timeoutInSeconds: 60)]
    public async Task RunAsync(int shard, int shards, CancellationToken cancellationToken)
    {
        await _margin.RecomputeShardAsync(shard, shards, $"sweep shard {shard}/{shards}", cancellationToken).ConfigureAwait(false);
    }
}
