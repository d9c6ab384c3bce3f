using System.Numerics;

namespace ChainMargin.Core;

/// <summary>An account's collateral balance of one token in one venue on one chain, as of a block.</summary>
public sealed record CollateralBalance(
    ChainId Chain, EvmAddress Venue, EvmAddress Account, EvmAddress Token, BigInteger Balance, BlockRef AsOf);

/// <summary>An account's perp position in one market, as of a block. Size 18 decimals, signed; entry price in feed decimals.</summary>
public sealed record PerpPositionRow(
    ChainId Chain, EvmAddress Venue, EvmAddress Account, BigInteger MarketId, BigInteger Size, BigInteger EntryPrice, BlockRef AsOf);

/// <summary>An account's option position in one series, as of a block. Size 18 decimals, signed (long positive).</summary>
public sealed record OptionPositionRow(
    ChainId Chain, EvmAddress Venue, EvmAddress Account, BigInteger SeriesId, BigInteger Size, BlockRef AsOf);

public sealed record PerpMarketRow(ChainId Chain, EvmAddress Venue, BigInteger MarketId, EvmAddress Feed, string Symbol);

public sealed record OptionSeriesRow(
    ChainId Chain, EvmAddress Venue, BigInteger SeriesId, EvmAddress Feed, string Symbol, BigInteger Strike, long Expiry, bool IsCall);

/// <summary>The latest (or a historical) round of a price feed, with the block it was indexed from.</summary>
public sealed record PriceRoundRow(ChainId Chain, EvmAddress Feed, BigInteger RoundId, BigInteger Answer, long UpdatedAt, BlockRef AsOf);

/// <summary>A watcher's checkpoint: every fact up to and including this block is stored.</summary>
public sealed record ChainCheckpoint(BlockRef Block, DateTimeOffset UpdatedAt);
