namespace ChainMargin.Storage.Postgres;

/// <summary>
/// The statements of a PostgreSQL commit: facts by binary COPY (straight into the fact tables when none of the batch's
/// blocks has a stored fact, else through a staging table and ON CONFLICT DO NOTHING RETURNING), then one upsert per
/// aggregate from arrays of the inserted facts grouped in memory. A re-committed fact inserts nothing, so it reaches
/// no aggregate.
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

    public const string UpsertFeedState =
        """
        insert into feed_states (chain_id, feed, block_number, block_hash, decimals, round_id, answer, updated_at, reason)
        values (@chain, @feed, @number, @hash, @decimals, @round_id, @answer, @updated_at, @reason)
        on conflict (chain_id, feed, block_number) do update
        set block_hash = excluded.block_hash, decimals = excluded.decimals, round_id = excluded.round_id, answer = excluded.answer,
            updated_at = excluded.updated_at, reason = excluded.reason
        """;

    public static string Stage(string table) =>
        $"create temp table if not exists stage_{table} (like {table}) on commit delete rows";

    public static string Copy(string target, string columns) => $"copy {target} ({columns}) from stdin (format binary)";

    /// <summary>Facts that may already be stored: insert the new ones and say which they were.</summary>
    public static string InsertNew(string table, string columns) =>
        $"""
        insert into {table} ({columns})
        select {columns} from stage_{table}
        on conflict do nothing
        returning block_hash, log_index
        """;

    /// <summary>
    /// Whether any fact of these blocks is stored already in the given tables (a primary-key probe per block hash);
    /// if none is, the batch is new and goes straight in.
    /// </summary>
    public static string AnyFactStored(IEnumerable<string> tables) =>
        "select " + string.Join(
            "\n    or ",
            tables.Select(t => $"exists (select 1 from {t} where chain_id = @chain and block_hash = any(@hashes))"));

    /// <summary>Adds a batch's per-key collateral sums (grouped in memory) to the balances.</summary>
    public const string AddCollateral =
        """
        insert into collateral_balances as b (chain_id, venue, account, token, balance, block_number, block_hash)
        select @chain, u.venue, u.account, u.token, u.delta, u.block_number, u.block_hash
        from unnest(@venue, @account, @token, @delta, @block_number, @block_hash) as u(venue, account, token, delta, block_number, block_hash)
        on conflict (chain_id, venue, account, token) do update
        set balance = b.balance + excluded.balance,
            block_number = greatest(b.block_number, excluded.block_number),
            block_hash = case when excluded.block_number >= b.block_number then excluded.block_hash else b.block_hash end
        """;

    /// <summary>
    /// Upserts a batch's latest fact per key (picked in memory); a stored row only yields to a later
    /// (block number, log index), so the result does not depend on the order batches arrive in.
    /// </summary>
    public static string UpsertLatest(string table, IReadOnlyList<string> keys, IReadOnlyList<string> values)
    {
        string[] columns = [.. keys, .. values, "block_number", "block_hash", "log_index"];
        var list = string.Join(", ", columns);
        var parameters = string.Join(", ", columns.Select(c => "@" + c));
        var updates = string.Join(", ", columns.Skip(keys.Count).Select(c => $"{c} = excluded.{c}"));
        return $"""
            insert into {table} as t (chain_id, {list})
            select @chain, u.* from unnest({parameters}) as u({list})
            on conflict (chain_id, {string.Join(", ", keys)}) do update
            set {updates}
            where (excluded.block_number, excluded.log_index) > (t.block_number, t.log_index)
            """;
    }

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
