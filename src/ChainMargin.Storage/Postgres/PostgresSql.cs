namespace ChainMargin.Storage.Postgres;

/// <summary>
/// The statements of a PostgreSQL commit: the batch's stored facts read back (a re-committed fact is left out, so it
/// reaches no aggregate), the new facts by binary COPY, then one upsert per aggregate from arrays of the new facts
/// grouped in memory.
/// </summary>
internal static class PostgresSql
{
    /// <summary>Collateral facts, one row per block with the facts as arrays (migration 0011).</summary>
    public const string CollateralBlockColumns =
        "chain_id, block_number, block_hash, log_index, contract, account, token, delta, kind, prev_block_number";

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

    /// <summary>The chain's commit lock, held until the transaction ends.</summary>
    public const string CommitLock = "select pg_advisory_xact_lock(@lock_ns, @lock_key)";

    public static string Copy(string target, string columns) => $"copy {target} ({columns}) from stdin (format binary)";

    /// <summary>The facts stored already at these block numbers in the given tables (a primary-key range per number).</summary>
    public static string StoredFacts(IEnumerable<string> tables) =>
        string.Join(
            "\nunion all\n",
            tables.Select(t => $"select block_number, log_index, {(HoldsBytes(t) ? "'0x' || encode(block_hash, 'hex')" : "block_hash")} from {t} where chain_id = @chain and block_number = any(@numbers)"));

    /// <summary>
    /// Whether a fact table holds its block hash and addresses as bytea (collateral facts, migration 0010, read through
    /// the collateral_changes view since 0011); the other fact tables hold them as 0x-hex text.
    /// </summary>
    public static bool HoldsBytes(string table) => table == "collateral_changes";

    /// <summary>Where collateral facts are written: one row per block, the facts as arrays (migration 0011).</summary>
    public const string CollateralBlocks = "collateral_change_blocks";

    /// <summary>The table a fact table's rows are written to and deleted from: collateral_changes is a view over <see cref="CollateralBlocks"/>.</summary>
    public static string StoredIn(string factTable) => factTable == "collateral_changes" ? CollateralBlocks : factTable;

    /// <summary>The stored last touch (block) of each given collateral key.</summary>
    public const string CollateralLastTouches =
        """
        select b.venue, b.account, b.token, b.block_number
        from unnest(@venue, @account, @token) as k(venue, account, token)
        join collateral_balances b on b.chain_id = @chain and b.venue = k.venue and b.account = k.account and b.token = k.token
        """;

    /// <summary>Adds a batch's per-key collateral sums (grouped in memory) to stored balances; its blocks are above theirs.</summary>
    public const string UpdateCollateral =
        """
        update collateral_balances as b
        set balance = b.balance + u.delta, block_number = u.block_number, block_hash = u.block_hash
        from unnest(@venue, @account, @token, @delta, @block_number, @block_hash) as u(venue, account, token, delta, block_number, block_hash)
        where b.chain_id = @chain and b.venue = u.venue and b.account = u.account and b.token = u.token
        """;

    /// <summary>A batch's per-key collateral sums for keys without a stored balance.</summary>
    public const string InsertCollateral =
        """
        insert into collateral_balances (chain_id, venue, account, token, balance, block_number, block_hash)
        select @chain, u.venue, u.account, u.token, u.delta, u.block_number, u.block_hash
        from unnest(@venue, @account, @token, @delta, @block_number, @block_hash) as u(venue, account, token, delta, block_number, block_hash)
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

    /// <summary>
    /// Rolls the balances back from the collateral facts above the ancestor (run before they are deleted): each key
    /// loses the sum of its removed deltas, and its last block becomes the previous touch of its earliest removed fact
    /// (with the hash the facts stored at that number carry); a key whose earliest removed fact had none has no fact
    /// left, and its row goes, as a clean re-index would not have it.
    /// </summary>
    public const string RollbackCollateral =
        """
        with removed as (
            select '0x' || encode(contract, 'hex') as contract, '0x' || encode(account, 'hex') as account,
                   '0x' || encode(token, 'hex') as token, sum(delta) as delta,
                   (array_agg(prev_block_number order by block_number, log_index))[1] as prev_number
            from collateral_changes
            where chain_id = @chain and block_number > @number
            group by contract, account, token
        ), emptied as (
            delete from collateral_balances as b
            using removed as r
            where r.prev_number is null
              and b.chain_id = @chain and b.venue = r.contract and b.account = r.account and b.token = r.token
        )
        update collateral_balances as b
        set balance = b.balance - r.delta, block_number = r.prev_number,
            block_hash = (select '0x' || encode(f.block_hash, 'hex') from collateral_change_blocks f
                          where f.chain_id = @chain and f.block_number = r.prev_number)
        from removed as r
        where r.prev_number is not null
          and b.chain_id = @chain and b.venue = r.contract and b.account = r.account and b.token = r.token
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
