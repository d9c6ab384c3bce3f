namespace ChainMargin.Core;

/// <summary>
/// The store of chain facts. Implementations: PostgreSQL (system of record) and SQLite (embedded default).
/// Every write is one transaction: a batch's facts, blocks and checkpoint land together or not at all.
/// </summary>
public interface IChainStore
{
    /// <summary>Applies versioned migrations that are not applied yet.</summary>
    Task MigrateAsync(CancellationToken cancellationToken);

    Task<ChainCheckpoint?> GetCheckpointAsync(ChainId chain, CancellationToken cancellationToken);

    /// <summary>
    /// Stores a batch in one transaction. Facts already stored (same chain, block hash, log index) are not applied
    /// again. The checkpoint moves to the batch's checkpoint. PostgreSQL refuses a fact of another block hash at a
    /// stored height (another fork's) until a rollback removes the stored block.
    /// </summary>
    Task CommitAsync(ChainBatch batch, CancellationToken cancellationToken);

    /// <summary>The most recent indexed blocks of a chain, newest first.</summary>
    Task<IReadOnlyList<IndexedBlock>> GetRecentBlocksAsync(ChainId chain, int count, CancellationToken cancellationToken);

    /// <summary>
    /// Removes every block, fact and derived aggregate of the chain above <paramref name="ancestor"/> and sets the
    /// checkpoint to it, in one transaction.
    /// </summary>
    Task RollbackToAsync(BlockRef ancestor, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the versions of versioned state (Aave V3 state, feed states) that no rollback can bring back: those
    /// superseded by a version written in (<paramref name="after"/>, <paramref name="horizon"/>], the horizon being at
    /// or below the lowest block a rollback may reach. Returns the rows deleted.
    /// </summary>
    Task<int> PruneSupersededAsync(ChainId chain, long after, long horizon, CancellationToken cancellationToken);

    Task<IReadOnlyList<CollateralBalance>> GetCollateralAsync(EvmAddress? account, CancellationToken cancellationToken);

    Task<IReadOnlyList<PerpPositionRow>> GetPerpPositionsAsync(EvmAddress? account, CancellationToken cancellationToken);

    Task<IReadOnlyList<OptionPositionRow>> GetOptionPositionsAsync(EvmAddress? account, CancellationToken cancellationToken);

    Task<IReadOnlyList<PerpMarketRow>> GetPerpMarketsAsync(CancellationToken cancellationToken);

    Task<IReadOnlyList<OptionSeriesRow>> GetOptionSeriesAsync(CancellationToken cancellationToken);

    /// <summary>The latest round of every feed on every chain.</summary>
    Task<IReadOnlyList<PriceRoundRow>> GetLatestPricesAsync(CancellationToken cancellationToken);

    /// <summary>A feed's rounds, oldest first, at most <paramref name="limit"/> of the newest.</summary>
    Task<IReadOnlyList<PriceRoundRow>> GetPriceHistoryAsync(ChainId chain, EvmAddress feed, int limit, CancellationToken cancellationToken);

    Task<IReadOnlyList<RejectedLog>> GetRejectedLogsAsync(ChainId chain, CancellationToken cancellationToken);

    /// <summary>The feed states read on a chain (one per feed and block read at), by feed then block.</summary>
    Task<IReadOnlyList<FeedState>> GetFeedStatesAsync(ChainId chain, CancellationToken cancellationToken);

    /// <summary>
    /// Where a feed's decimals stand in the store: its newest stored state that read them; when no stored read did, its
    /// newest state (which carries the reason); null when the chain's watcher stored no read of the feed.
    /// </summary>
    Task<FeedState?> GetFeedDecimalsStateAsync(ChainId chain, EvmAddress feed, CancellationToken cancellationToken);

    /// <summary>Records an account's margin state when it changes; returns false when the state is unchanged.</summary>
    Task<bool> RecordAccountStateAsync(AccountStateRecord record, CancellationToken cancellationToken);

    Task<IReadOnlyList<AccountStateRecord>> GetAccountStateHistoryAsync(EvmAddress account, CancellationToken cancellationToken);

    /// <summary>The current state of every account that has one.</summary>
    Task<IReadOnlyList<AccountStateRecord>> GetCurrentAccountStatesAsync(CancellationToken cancellationToken);
}

/// <summary>An account's margin state at a moment: healthy, warning, liquidatable, liquidating, resolved.</summary>
public sealed record AccountStateRecord(
    EvmAddress Account, string State, decimal? Health, string Reason, string BlockVector, DateTimeOffset At);
