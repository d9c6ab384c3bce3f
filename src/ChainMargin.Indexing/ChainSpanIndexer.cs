using ChainMargin.Core;

namespace ChainMargin.Indexing;

/// <summary>
/// A venue indexed alongside the watcher's own contracts whose state is not one fact per log (Aave V3: balances
/// rebuilt by applying events in order, reserves read at the block). The watcher calls it for every span before it
/// commits, and commits what it returns in the same transaction as the checkpoint; so it runs only in the process
/// holding the chain's lease, and a reorg rolls it back with the facts.
/// </summary>
public interface IChainSpanIndexer
{
    /// <summary>
    /// Indexes blocks [<paramref name="fromBlock"/>, <paramref name="toBlock"/>]. <paramref name="headers"/> are the headers the
    /// watcher read for the span (the finality window and the last block): logs and reads of those blocks must match
    /// their hashes, else <see cref="InconsistentChainException"/>.
    /// </summary>
    Task<SpanContribution> IndexAsync(long fromBlock, long toBlock, IReadOnlyDictionary<long, IndexedBlock> headers, CancellationToken cancellationToken);

    /// <summary>
    /// The span was not committed, or the store was rolled back: whatever the indexer holds in memory may be ahead of
    /// the store, so it must resume from the store.
    /// </summary>
    void Reset();
}

/// <summary>
/// What a span indexer adds to a batch: venue state, facts the store knows (rejected logs), the accounts it touched
/// and whether a price (or anything every account depends on) changed, for the fast path.
/// </summary>
public sealed record SpanContribution(
    IReadOnlyList<VenueStateChange> States, IReadOnlyList<ChainFact> Facts, IReadOnlySet<EvmAddress> Accounts, bool PricesChanged)
{
    public static SpanContribution None { get; } = new([], [], new HashSet<EvmAddress>(), false);
}
