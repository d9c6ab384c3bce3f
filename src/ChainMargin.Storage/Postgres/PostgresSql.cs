namespace ChainMargin.Storage.Postgres;

/// <summary>
/// The statements that move a batch from the staging tables (filled by binary COPY) into the fact tables and fold
/// the facts actually inserted (ON CONFLICT DO NOTHING RETURNING) into the aggregates: one statement per table.
/// A re-committed fact inserts nothing, so it reaches no aggregate.
/// </summary>
internal static class PostgresSql
{
    public const string CollateralColumns = "chain_id, block_hash, log_index, block_number, contract, account, token, delta, kind";

    public const string PerpPositionColumns =
        "chain_id, block_hash, log_index, block_number, contract, account, market_id, new_size, entry_price, realized_pnl";

    public const string PerpMarketColumns = "chain_id, block_hash, log_index, block_number, contract, market_id, feed, symbol";

    public const string OptionSeriesColumns =
        "chain_id, block_hash, log_index, block_number, contract, series_id, feed, symbol, strike, expiry, is_call";

    public const string OptionPositionColumns = "chain_id, block_hash, log_index, block_number, contract, account, series_id, new_size";

    public const string PriceRoundColumns = "chain_id, block_hash, log_index, block_number, contract, round_id, answer, updated_at";

    public const string RejectedColumns = "chain_id, block_hash, log_index, block_number, contract, topic0, reason";

    public const string UpsertBlocks =
        """
        insert into blocks (chain_id, number, hash, parent_hash, timestamp)
        select @chain, b.number, b.hash, b.parent_hash, b.timestamp
        from unnest(@numbers, @hashes, @parents, @timestamps) as b(number, hash, parent_hash, timestamp)
        on conflict (chain_id, number) do update
        set hash = excluded.hash, parent_hash = excluded.parent_hash, timestamp = excluded.timestamp
        """;

    public const string UpsertCheckpoint =
        """
        insert into chain_checkpoints (chain_id, block_number, block_hash, updated_at)
        values (@chain, @checkpoint_number, @checkpoint_hash, @checkpoint_at)
        on conflict (chain_id) do update
        set block_number = excluded.block_number, block_hash = excluded.block_hash, updated_at = excluded.updated_at
        """;

    public static string Stage(string table) =>
        $"create temp table if not exists stage_{table} (like {table}) on commit delete rows";

    public static string Copy(string table, string columns) => $"copy stage_{table} ({columns}) from stdin (format binary)";

    public const string ApplyCollateral =
        $"""
        with inserted as (
            insert into collateral_changes ({CollateralColumns})
            select {CollateralColumns} from stage_collateral_changes
            on conflict do nothing
            returning chain_id, contract, account, token, delta, block_number, block_hash
        ), grouped as (
            select chain_id, contract, account, token, sum(delta) as delta, max(block_number) as block_number,
                   (array_agg(block_hash order by block_number desc))[1] as block_hash
            from inserted
            group by chain_id, contract, account, token
        )
        insert into collateral_balances as b (chain_id, venue, account, token, balance, block_number, block_hash)
        select chain_id, contract, account, token, delta, block_number, block_hash from grouped
        on conflict (chain_id, venue, account, token) do update
        set balance = b.balance + excluded.balance,
            block_number = greatest(b.block_number, excluded.block_number),
            block_hash = case when excluded.block_number >= b.block_number then excluded.block_hash else b.block_hash end
        """;

    public const string ApplyPerpPositions =
        $"""
        with inserted as (
            insert into perp_position_changes ({PerpPositionColumns})
            select {PerpPositionColumns} from stage_perp_position_changes
            on conflict do nothing
            returning chain_id, contract, account, market_id, new_size, entry_price, block_number, block_hash, log_index
        ), latest as (
            select distinct on (chain_id, contract, account, market_id) * from inserted
            order by chain_id, contract, account, market_id, block_number desc, log_index desc
        )
        insert into perp_positions as p (chain_id, venue, account, market_id, size, entry_price, block_number, block_hash, log_index)
        select chain_id, contract, account, market_id, new_size, entry_price, block_number, block_hash, log_index from latest
        on conflict (chain_id, venue, account, market_id) do update
        set size = excluded.size, entry_price = excluded.entry_price,
            block_number = excluded.block_number, block_hash = excluded.block_hash, log_index = excluded.log_index
        where (excluded.block_number, excluded.log_index) > (p.block_number, p.log_index)
        """;

    public const string ApplyOptionPositions =
        $"""
        with inserted as (
            insert into option_position_changes ({OptionPositionColumns})
            select {OptionPositionColumns} from stage_option_position_changes
            on conflict do nothing
            returning chain_id, contract, account, series_id, new_size, block_number, block_hash, log_index
        ), latest as (
            select distinct on (chain_id, contract, account, series_id) * from inserted
            order by chain_id, contract, account, series_id, block_number desc, log_index desc
        )
        insert into option_positions as p (chain_id, venue, account, series_id, size, block_number, block_hash, log_index)
        select chain_id, contract, account, series_id, new_size, block_number, block_hash, log_index from latest
        on conflict (chain_id, venue, account, series_id) do update
        set size = excluded.size,
            block_number = excluded.block_number, block_hash = excluded.block_hash, log_index = excluded.log_index
        where (excluded.block_number, excluded.log_index) > (p.block_number, p.log_index)
        """;

    public const string ApplyPerpMarkets =
        $"""
        with inserted as (
            insert into perp_market_listings ({PerpMarketColumns})
            select {PerpMarketColumns} from stage_perp_market_listings
            on conflict do nothing
            returning chain_id, contract, market_id, feed, symbol, block_number, block_hash, log_index
        ), latest as (
            select distinct on (chain_id, contract, market_id) * from inserted
            order by chain_id, contract, market_id, block_number desc, log_index desc
        )
        insert into perp_markets as m (chain_id, venue, market_id, feed, symbol, block_number, block_hash, log_index)
        select chain_id, contract, market_id, feed, symbol, block_number, block_hash, log_index from latest
        on conflict (chain_id, venue, market_id) do update
        set feed = excluded.feed, symbol = excluded.symbol,
            block_number = excluded.block_number, block_hash = excluded.block_hash, log_index = excluded.log_index
        where (excluded.block_number, excluded.log_index) > (m.block_number, m.log_index)
        """;

    public const string ApplyOptionSeries =
        $"""
        with inserted as (
            insert into option_series_listings ({OptionSeriesColumns})
            select {OptionSeriesColumns} from stage_option_series_listings
            on conflict do nothing
            returning chain_id, contract, series_id, feed, symbol, strike, expiry, is_call, block_number, block_hash, log_index
        ), latest as (
            select distinct on (chain_id, contract, series_id) * from inserted
            order by chain_id, contract, series_id, block_number desc, log_index desc
        )
        insert into option_series as s (chain_id, venue, series_id, feed, symbol, strike, expiry, is_call, block_number, block_hash, log_index)
        select chain_id, contract, series_id, feed, symbol, strike, expiry, is_call, block_number, block_hash, log_index from latest
        on conflict (chain_id, venue, series_id) do update
        set feed = excluded.feed, symbol = excluded.symbol, strike = excluded.strike, expiry = excluded.expiry, is_call = excluded.is_call,
            block_number = excluded.block_number, block_hash = excluded.block_hash, log_index = excluded.log_index
        where (excluded.block_number, excluded.log_index) > (s.block_number, s.log_index)
        """;

    public const string ApplyPriceRounds =
        $"""
        with inserted as (
            insert into price_rounds ({PriceRoundColumns})
            select {PriceRoundColumns} from stage_price_rounds
            on conflict do nothing
            returning chain_id, contract, round_id, answer, updated_at, block_number, block_hash, log_index
        ), latest as (
            select distinct on (chain_id, contract) * from inserted
            order by chain_id, contract, block_number desc, log_index desc
        )
        insert into price_latest as l (chain_id, feed, round_id, answer, updated_at, block_number, block_hash, log_index)
        select chain_id, contract, round_id, answer, updated_at, block_number, block_hash, log_index from latest
        on conflict (chain_id, feed) do update
        set round_id = excluded.round_id, answer = excluded.answer, updated_at = excluded.updated_at,
            block_number = excluded.block_number, block_hash = excluded.block_hash, log_index = excluded.log_index
        where (excluded.block_number, excluded.log_index) > (l.block_number, l.log_index)
        """;

    public const string ApplyRejected =
        $"""
        insert into rejected_logs ({RejectedColumns})
        select {RejectedColumns} from stage_rejected_logs
        on conflict do nothing
        """;

    /// <summary>Collateral rows a rollback touched and that still have facts: the sum and last block, recomputed.</summary>
    public const string RecomputeCollateral =
        """
        update collateral_balances as b
        set balance = s.balance, block_number = s.block_number, block_hash = s.block_hash
        from (
            select f.contract, f.account, f.token, sum(f.delta) as balance, max(f.block_number) as block_number,
                   (array_agg(f.block_hash order by f.block_number desc))[1] as block_hash
            from collateral_changes f
            join collateral_balances a
              on a.chain_id = f.chain_id and a.venue = f.contract and a.account = f.account and a.token = f.token
            where f.chain_id = @chain and a.block_number > @number
            group by f.contract, f.account, f.token
        ) as s
        where b.chain_id = @chain and b.venue = s.contract and b.account = s.account and b.token = s.token
        """;

    public const string RecordAccountState =
        """
        with changed as (
            insert into account_states as s (account, state, health, reason, block_vector, at)
            values (@account, @state, @health, @reason, @block_vector, @at)
            on conflict (account) do update
            set state = excluded.state, health = excluded.health, reason = excluded.reason,
                block_vector = excluded.block_vector, at = excluded.at
            where s.state is distinct from excluded.state
            returning account
        )
        insert into account_state_history (account, state, health, reason, block_vector, at)
        select @account, @state, @health, @reason, @block_vector, @at from changed
        """;
}
