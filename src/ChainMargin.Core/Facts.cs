using System.Numerics;

namespace ChainMargin.Core;

/// <summary>
/// Something a chain said, decoded from one log. Keyed by (chain, block hash, log index): the same log can never be
/// applied twice, and a reorg removes exactly the facts of the blocks it replaced.
/// </summary>
public abstract record ChainFact(BlockRef Block, int LogIndex, EvmAddress Contract);

/// <summary>A change of an account's collateral balance in a vault. Kind: deposit, withdraw, pnl, seize, premium.</summary>
public sealed record CollateralChanged(
    BlockRef Block, int LogIndex, EvmAddress Contract, EvmAddress Account, EvmAddress Token, BigInteger Delta, string Kind)
    : ChainFact(Block, LogIndex, Contract);

/// <summary>A perp position after a trade: size (signed, 18 decimals) and entry price (feed decimals).</summary>
public sealed record PerpPositionChanged(
    BlockRef Block, int LogIndex, EvmAddress Contract, EvmAddress Account, BigInteger MarketId, BigInteger NewSize,
    BigInteger EntryPrice, BigInteger RealizedPnl)
    : ChainFact(Block, LogIndex, Contract);

/// <summary>A perp market listed: its id, the price feed of its underlying, and the underlying's symbol.</summary>
public sealed record PerpMarketListed(
    BlockRef Block, int LogIndex, EvmAddress Contract, BigInteger MarketId, EvmAddress Feed, string Symbol)
    : ChainFact(Block, LogIndex, Contract);

/// <summary>An option series listed: European, cash-settled, strike in feed decimals, expiry in unix seconds.</summary>
public sealed record OptionSeriesListed(
    BlockRef Block, int LogIndex, EvmAddress Contract, BigInteger SeriesId, EvmAddress Feed, string Symbol,
    BigInteger Strike, long Expiry, bool IsCall)
    : ChainFact(Block, LogIndex, Contract);

/// <summary>An option position after a trade or a settlement: size signed (long positive), 18 decimals.</summary>
public sealed record OptionPositionChanged(
    BlockRef Block, int LogIndex, EvmAddress Contract, EvmAddress Account, BigInteger SeriesId, BigInteger NewSize)
    : ChainFact(Block, LogIndex, Contract);

/// <summary>A Chainlink-style round: the feed's answer (feed decimals) and when it was updated (unix seconds).</summary>
public sealed record PriceRoundUpdated(
    BlockRef Block, int LogIndex, EvmAddress Contract, BigInteger RoundId, BigInteger Answer, long UpdatedAt)
    : ChainFact(Block, LogIndex, Contract);

/// <summary>A log that could not be turned into a fact, kept with the reason rather than crashing or vanishing.</summary>
public sealed record RejectedLog(
    BlockRef Block, int LogIndex, EvmAddress Contract, string Topic0, string Reason)
    : ChainFact(Block, LogIndex, Contract);

/// <summary>A block the watcher has indexed, with its parent hash so a reorg is seen as a parent mismatch.</summary>
public sealed record IndexedBlock(BlockRef Block, string ParentHash, long Timestamp);

/// <summary>
/// A price feed as its contract answered an eth_call pinned to one block (state no log carries: its decimals, and its
/// latest round even when that round was published before the indexed range). Keyed by (chain, feed, block number);
/// a read that failed keeps its reason and no values.
/// </summary>
public sealed record FeedState(
    BlockRef Block, EvmAddress Feed, int? Decimals, BigInteger? RoundId, BigInteger? Answer, long? UpdatedAt, string? Reason);

/// <summary>
/// What one step of a watcher commits atomically: the facts of a block range, the blocks it saw, and the new
/// checkpoint (the last block whose facts are all stored); optionally the feeds' state read at a block of the range.
/// </summary>
public sealed record ChainBatch(
    ChainId Chain, IReadOnlyList<IndexedBlock> Blocks, IReadOnlyList<ChainFact> Facts, BlockRef Checkpoint, IReadOnlyList<FeedState>? FeedStates = null)
{
    /// <summary>
    /// Derived state of venues that are not facts of one log (Aave V3's scaled balances and reserve reads), written in
    /// the batch's transaction with the checkpoint, and rolled back with it.
    /// </summary>
    public IReadOnlyList<VenueStateChange> VenueStates { get; init; } = [];
}

