namespace ChainMargin.Storage;

/// <summary>
/// Rollback statements both dialects understand (parameters @chain and @number). The aggregate rows a rollback must
/// recompute are exactly those whose last touching block is above the ancestor: any removed fact touched its row at a
/// block above the ancestor, so that row's block_number is above it too.
/// </summary>
internal static class RollbackSql
{
    public static readonly string[] FactTables =
    [
        "collateral_changes", "perp_position_changes", "perp_market_listings", "option_series_listings",
        "option_position_changes", "price_rounds", "rejected_logs",

        // Versioned Aave V3 state (Aave/AaveV3StateSql.cs): trimming the versions above the ancestor is its rollback.
        .. Aave.AaveV3StateSql.Tables,
    ];

    public const string DeleteBlocks = "delete from blocks where chain_id = @chain and number > @number";

    public const string DeleteFeedStates = "delete from feed_states where chain_id = @chain and block_number > @number";

    public static string DeleteFacts(string table) => $"delete from {table} where chain_id = @chain and block_number > @number";

    /// <summary>Aggregates that hold the latest fact of their key: re-pick the latest remaining fact, or drop the row.</summary>
    public static readonly string[] RecomputeLatest =
    [
        Latest(
            "perp_positions", "perp_position_changes", "f.contract = a.venue and f.account = a.account and f.market_id = a.market_id",
            "size, entry_price", "f.new_size, f.entry_price"),
        Latest(
            "option_positions", "option_position_changes", "f.contract = a.venue and f.account = a.account and f.series_id = a.series_id",
            "size", "f.new_size"),
        Latest(
            "perp_markets", "perp_market_listings", "f.contract = a.venue and f.market_id = a.market_id",
            "feed, symbol", "f.feed, f.symbol"),
        Latest(
            "option_series", "option_series_listings", "f.contract = a.venue and f.series_id = a.series_id",
            "feed, symbol, strike, expiry, is_call", "f.feed, f.symbol, f.strike, f.expiry, f.is_call"),
        Latest(
            "price_latest", "price_rounds", "f.contract = a.feed",
            "round_id, answer, updated_at", "f.round_id, f.answer, f.updated_at"),
    ];

    /// <summary>
    /// Collateral rows left without any fact: a clean re-index would not have them. SQLite's rollback; PostgreSQL's rolls
    /// the balances back from the facts' previous touches instead (PostgresSql.RollbackCollateral).
    /// </summary>
    public const string DeleteOrphanCollateral =
        """
        delete from collateral_balances as a
        where a.chain_id = @chain and a.block_number > @number
          and not exists (select 1 from collateral_changes f
                          where f.chain_id = a.chain_id and f.contract = a.venue and f.account = a.account and f.token = a.token)
        """;

    private static string Latest(string aggregate, string facts, string keyMatch, string columns, string values) =>
        $"""
        delete from {aggregate} as a
        where a.chain_id = @chain and a.block_number > @number
          and not exists (select 1 from {facts} f where f.chain_id = a.chain_id and {keyMatch});
        update {aggregate} as a
        set ({columns}, block_number, block_hash, log_index) =
            (select {values}, f.block_number, f.block_hash, f.log_index from {facts} f
             where f.chain_id = a.chain_id and {keyMatch}
             order by f.block_number desc, f.log_index desc
             limit 1)
        where a.chain_id = @chain and a.block_number > @number
        """;
}
