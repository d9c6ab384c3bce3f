using System.Collections.Concurrent;
using System.Globalization;
using ChainMargin.Core;

namespace ChainMargin.Liquidation.Oracles;

/// <summary>
/// Feed decimals as the chains' watchers committed them with their checkpoints (the feed states each commit reads,
/// pinned to its last block). The margin side asks the store, never a node: a process that does not own a chain's
/// watcher reads what the owner stored. Decimals once known are kept for the life of the process (a feed's decimals do
/// not change); a feed not known yet is asked of the store again on the next recompute.
/// </summary>
public sealed class StoredFeedDecimals(IChainStore store) : IFeedDecimalsSource
{
    private readonly ConcurrentDictionary<(ChainId, EvmAddress), int> _known = new();
    private long _reads;

    /// <summary>How many feeds' decimals are known.</summary>
    public int Known => _known.Count;

    /// <summary>Store reads so far: one per feed until its decimals are known.</summary>
    public long Reads => Interlocked.Read(ref _reads);

    public async Task<FeedDecimals> GetAsync(ChainId chain, EvmAddress feed, CancellationToken cancellationToken)
    {
        if (_known.TryGetValue((chain, feed), out var decimals))
        {
            return FeedDecimals.Known(decimals);
        }

        Interlocked.Increment(ref _reads);
        var state = await store.GetFeedDecimalsStateAsync(chain, feed, cancellationToken).ConfigureAwait(false);
        if (state is null)
        {
            return FeedDecimals.Unknown($"decimals of feed {feed} on chain {chain} are not known yet: the chain's watcher has stored no read of the feed");
        }

        if (state.Decimals is { } stored)
        {
            _known[(chain, feed)] = stored;
            return FeedDecimals.Known(stored);
        }

        var reason = state.Reason ?? string.Create(CultureInfo.InvariantCulture, $"the read at block {state.Block.Number} stored none");
        return FeedDecimals.Unknown($"decimals of feed {feed} on chain {chain} are not known: {reason}");
    }
}
