using System.Data.Common;
using System.Numerics;
using ChainMargin.Core;
using ChainMargin.Storage.Migrations;
using Npgsql;
using NpgsqlTypes;

namespace ChainMargin.Storage.Postgres;

/// <summary>
/// The PostgreSQL store, the system of record. A commit is one transaction under the chain's commit lock: blocks by
/// unnest; the batch's facts already stored (usually none) read back by block hash and left out; the new facts by
/// binary COPY straight into the fact tables, collateral facts with their key's previous touch; the new facts grouped
/// in memory and folded into each aggregate with one array upsert; the checkpoint.
/// </summary>
public sealed class PostgresChainStore : SqlChainStore, IAsyncDisposable
{
    /// <summary>Advisory lock key held while migrating, so two processes starting at once migrate one after the other.</summary>
    private const long MigrationLockKey = 0x434D_5354_4F52_0001; // "CMSTOR" + 1

    /// <summary>First key of the two-int advisory lock a commit holds for its chain (the second is the chain, as for leases).</summary>
    private const int CommitLockNamespace = 0x434D_434D; // "CMCM"

    private readonly NpgsqlDataSource _dataSource;

    public PostgresChainStore(string connectionString, TimeProvider timeProvider)
        : base(timeProvider)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            // Our sessions leave nothing behind (no temp tables; the commit lock is transaction-scoped), so the reset
            // on return to the pool would be a wasted statement.
            NoResetOnClose = true,
        };
        _dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
    }

    public override async Task MigrateAsync(CancellationToken cancellationToken)
    {
        var scripts = MigrationScript.Load("postgres");
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            // Session-level: held across the per-migration transactions, released below or when the session dies.
            await ExecuteAsync(connection, null, "select pg_advisory_lock(@key)", c => c.Parameters.AddWithValue("key", MigrationLockKey), cancellationToken)
                .ConfigureAwait(false);
            try
            {
                await ExecuteAsync(
                    connection,
                    null,
                    "create table if not exists schema_migrations (version integer primary key, name text not null, applied_at timestamptz not null)",
                    _ => { },
                    cancellationToken).ConfigureAwait(false);

                var applied = new HashSet<int>();
                var read = new NpgsqlCommand("select version from schema_migrations", connection);
                await using (read.ConfigureAwait(false))
                {
                    var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                    await using (reader.ConfigureAwait(false))
                    {
                        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                        {
                            applied.Add(reader.GetInt32(0));
                        }
                    }
                }

                foreach (var script in scripts.Where(s => !applied.Contains(s.Version)))
                {
                    var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
                    await using (transaction.ConfigureAwait(false))
                    {
                        await ExecuteAsync(connection, transaction, script.Sql, _ => { }, cancellationToken).ConfigureAwait(false);
                        await ExecuteAsync(
                            connection,
                            transaction,
                            "insert into schema_migrations (version, name, applied_at) values (@version, @name, @at)",
                            c =>
                            {
                                c.Parameters.AddWithValue("version", script.Version);
                                c.Parameters.AddWithValue("name", script.Name);
                                c.Parameters.AddWithValue("at", Time.GetUtcNow());
                            },
                            cancellationToken).ConfigureAwait(false);
                        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
            }
            finally
            {
                if (connection.FullState == System.Data.ConnectionState.Open)
                {
                    await ExecuteAsync(connection, null, "select pg_advisory_unlock(@key)", c => c.Parameters.AddWithValue("key", MigrationLockKey), CancellationToken.None)
                        .ConfigureAwait(false);
                }
            }
        }
    }

    public override async Task CommitAsync(ChainBatch batch, CancellationToken cancellationToken)
    {
        var content = BatchContent.From(batch);
        var chain = content.ChainColumn;
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                await PrepareAsync(connection, transaction, content, cancellationToken).ConfigureAwait(false);
                var stored = content.FactCount > 0
                    ? await StoredFactsAsync(connection, transaction, content, cancellationToken).ConfigureAwait(false)
                    : [];

                var collateral = await CollateralWithPreviousTouchAsync(connection, transaction, chain, New(content.Collateral, stored), cancellationToken)
                    .ConfigureAwait(false);
                await CopyCollateralAsync(connection, chain, collateral.Rows, cancellationToken).ConfigureAwait(false);
                var perpPositions = await LoadAsync(connection, chain, "perp_position_changes", PostgresSql.PerpPositionColumns, New(content.PerpPositions, stored), WritePerpPosition, cancellationToken).ConfigureAwait(false);
                var perpMarkets = await LoadAsync(connection, chain, "perp_market_listings", PostgresSql.PerpMarketColumns, New(content.PerpMarkets, stored), WritePerpMarket, cancellationToken).ConfigureAwait(false);
                var optionSeries = await LoadAsync(connection, chain, "option_series_listings", PostgresSql.OptionSeriesColumns, New(content.OptionSeries, stored), WriteOptionSeries, cancellationToken).ConfigureAwait(false);
                var optionPositions = await LoadAsync(connection, chain, "option_position_changes", PostgresSql.OptionPositionColumns, New(content.OptionPositions, stored), WriteOptionPosition, cancellationToken).ConfigureAwait(false);
                var priceRounds = await LoadAsync(connection, chain, "price_rounds", PostgresSql.PriceRoundColumns, New(content.PriceRounds, stored), WritePriceRound, cancellationToken).ConfigureAwait(false);
                await LoadAsync(connection, chain, "rejected_logs", PostgresSql.RejectedColumns, New(content.Rejected, stored), WriteRejected, cancellationToken).ConfigureAwait(false);

                var apply = new NpgsqlBatch(connection, transaction);
                await using (apply.ConfigureAwait(false))
                {
                    AddCollateral(apply, chain, collateral);
                    AddLatest(
                        apply, chain, "perp_positions", perpPositions, f => (f.Contract, f.Account, f.MarketId),
                        Text<PerpPositionChanged>("venue", f => f.Contract.Value), Text<PerpPositionChanged>("account", f => f.Account.Value),
                        Big<PerpPositionChanged>("market_id", f => f.MarketId), null,
                        Big<PerpPositionChanged>("size", f => f.NewSize), Big<PerpPositionChanged>("entry_price", f => f.EntryPrice));
                    AddLatest(
                        apply, chain, "option_positions", optionPositions, f => (f.Contract, f.Account, f.SeriesId),
                        Text<OptionPositionChanged>("venue", f => f.Contract.Value), Text<OptionPositionChanged>("account", f => f.Account.Value),
                        Big<OptionPositionChanged>("series_id", f => f.SeriesId), null,
                        Big<OptionPositionChanged>("size", f => f.NewSize));
                    AddLatest(
                        apply, chain, "perp_markets", perpMarkets, f => (f.Contract, f.MarketId),
                        Text<PerpMarketListed>("venue", f => f.Contract.Value), Big<PerpMarketListed>("market_id", f => f.MarketId), null,
                        Text<PerpMarketListed>("feed", f => f.Feed.Value), Text<PerpMarketListed>("symbol", f => f.Symbol));
                    AddLatest(
                        apply, chain, "option_series", optionSeries, f => (f.Contract, f.SeriesId),
                        Text<OptionSeriesListed>("venue", f => f.Contract.Value), Big<OptionSeriesListed>("series_id", f => f.SeriesId), null,
                        Text<OptionSeriesListed>("feed", f => f.Feed.Value), Text<OptionSeriesListed>("symbol", f => f.Symbol),
                        Big<OptionSeriesListed>("strike", f => f.Strike),
                        new Column<OptionSeriesListed>("expiry", NpgsqlDbType.Bigint, fs => fs.Select(f => f.Expiry).ToArray()),
                        new Column<OptionSeriesListed>("is_call", NpgsqlDbType.Boolean, fs => fs.Select(f => f.IsCall).ToArray()));
                    AddLatest(
                        apply, chain, "price_latest", priceRounds, f => f.Contract,
                        Text<PriceRoundUpdated>("feed", f => f.Contract.Value), null,
                        Big<PriceRoundUpdated>("round_id", f => f.RoundId), Big<PriceRoundUpdated>("answer", f => f.Answer),
                        new Column<PriceRoundUpdated>("updated_at", NpgsqlDbType.Bigint, fs => fs.Select(f => f.UpdatedAt).ToArray()));

                    AddFeedStates(apply, chain, content.FeedStates);
                    var checkpoint = new NpgsqlBatchCommand(PostgresSql.UpsertCheckpoint);
                    checkpoint.Parameters.AddWithValue("chain", chain);
                    checkpoint.Parameters.AddWithValue("checkpoint_number", content.Batch.Checkpoint.Number);
                    checkpoint.Parameters.AddWithValue("checkpoint_hash", content.Batch.Checkpoint.Hash);
                    checkpoint.Parameters.AddWithValue("checkpoint_at", Time.GetUtcNow());
                    apply.BatchCommands.Add(checkpoint);
                    await apply.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                await Aave.AaveV3StateSql.WriteAsync(connection, transaction, content.Batch, Aave.AaveV3StateSql.Postgres, cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public override async Task RollbackToAsync(BlockRef ancestor, CancellationToken cancellationToken)
    {
        var chain = Columns.ToColumn(ancestor.Chain);
        // Under the chain's commit lock, like a commit. The balances first: they are rolled back from the collateral
        // facts about to be deleted.
        var statements = new List<string> { PostgresSql.CommitLock, PostgresSql.RollbackCollateral, RollbackSql.DeleteBlocks };
        statements.AddRange(RollbackSql.FactTables.Select(t => RollbackSql.DeleteFacts(PostgresSql.StoredIn(t))));
        statements.Add(RollbackSql.DeleteFeedStates);
        statements.AddRange(RollbackSql.RecomputeLatest);
        statements.Add(PostgresSql.UpsertCheckpoint.Replace("@checkpoint_number", "@number", StringComparison.Ordinal));

        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                await ExecuteAsync(
                    connection,
                    transaction,
                    string.Join(";\n", statements),
                    c =>
                    {
                        c.Parameters.AddWithValue("chain", chain);
                        c.Parameters.AddWithValue("number", ancestor.Number);
                        c.Parameters.AddWithValue("checkpoint_hash", ancestor.Hash);
                        c.Parameters.AddWithValue("checkpoint_at", Time.GetUtcNow());
                        c.Parameters.AddWithValue("lock_ns", CommitLockNamespace);
                        c.Parameters.AddWithValue("lock_key", PostgresChainLeases.ChainKey(ancestor.Chain));
                    },
                    cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public override async Task<int> PruneSupersededAsync(ChainId chain, long after, long horizon, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                // Under the commit lock, so a commit or rollback of the chain never interleaves with it.
                var batch = new NpgsqlBatch(connection, transaction);
                await using (batch.ConfigureAwait(false))
                {
                    batch.BatchCommands.Add(CommitLock(chain));
                    foreach (var (table, key, supersedes) in PruneSql.Tables)
                    {
                        var prune = new NpgsqlBatchCommand(PruneSql.Prune(table, key, supersedes));
                        prune.Parameters.AddWithValue("chain", Columns.ToColumn(chain));
                        prune.Parameters.AddWithValue("after", after);
                        prune.Parameters.AddWithValue("horizon", horizon);
                        batch.BatchCommands.Add(prune);
                    }

                    await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    var deleted = batch.BatchCommands.Cast<NpgsqlBatchCommand>().Skip(1).Sum(c => c.RecordsAffected);
                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                    return deleted;
                }
            }
        }
    }

    public override async Task<bool> RecordAccountStateAsync(AccountStateRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            // One statement: the upsert only touches the current row when the state differs, and the history row is
            // appended from what it returned, so two recorders racing on one account cannot both append.
            var inserted = await ExecuteAsync(
                connection,
                null,
                PostgresSql.RecordAccountState,
                c =>
                {
                    c.Parameters.AddWithValue("account", record.Account.Value);
                    c.Parameters.AddWithValue("state", record.State);
                    c.Parameters.Add(new NpgsqlParameter("health", NpgsqlDbType.Numeric) { Value = (object?)record.Health ?? DBNull.Value });
                    c.Parameters.AddWithValue("reason", record.Reason);
                    c.Parameters.AddWithValue("block_vector", record.BlockVector);
                    c.Parameters.AddWithValue("at", record.At.ToUniversalTime());
                },
                cancellationToken).ConfigureAwait(false);
            return inserted > 0;
        }
    }

    public async ValueTask DisposeAsync() => await _dataSource.DisposeAsync().ConfigureAwait(false);

    protected override async ValueTask<DbConnection> OpenReadConnectionAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    protected override BigInteger ReadBig(DbDataReader reader, int ordinal)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return reader.GetFieldValue<BigInteger>(ordinal);
    }

    protected override DateTimeOffset ReadTime(DbDataReader reader, int ordinal)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return reader.GetFieldValue<DateTimeOffset>(ordinal);
    }

    protected override decimal? ReadDecimal(DbDataReader reader, int ordinal)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return reader.IsDBNull(ordinal) ? null : reader.GetDecimal(ordinal);
    }

    protected override bool ReadBool(DbDataReader reader, int ordinal)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return reader.GetBoolean(ordinal);
    }

    /// <summary>
    /// Takes the chain's commit lock (transaction-scoped, so commits of one chain run one after the other even from
    /// two writers: what one finds stored and the previous touches it reads stay true until it commits) and upserts the
    /// blocks: one round trip.
    /// </summary>
    private static async Task PrepareAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, BatchContent content, CancellationToken cancellationToken)
    {
        var batch = new NpgsqlBatch(connection, transaction);
        await using (batch.ConfigureAwait(false))
        {
            batch.BatchCommands.Add(CommitLock(content.Batch.Chain));
            if (content.Blocks.Count > 0)
            {
                var blocks = new NpgsqlBatchCommand(PostgresSql.UpsertBlocks);
                blocks.Parameters.AddWithValue("chain", content.ChainColumn);
                blocks.Parameters.AddWithValue("numbers", content.Blocks.Select(b => b.Block.Number).ToArray());
                blocks.Parameters.AddWithValue("hashes", content.Blocks.Select(b => b.Block.Hash).ToArray());
                blocks.Parameters.AddWithValue("parents", content.Blocks.Select(b => b.ParentHash).ToArray());
                blocks.Parameters.AddWithValue("timestamps", content.Blocks.Select(b => b.Timestamp).ToArray());
                batch.BatchCommands.Add(blocks);
            }

            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The chain's commit lock (transaction-scoped), taken first by every commit, rollback and prune of the chain.</summary>
    private static NpgsqlBatchCommand CommitLock(ChainId chain)
    {
        var command = new NpgsqlBatchCommand(PostgresSql.CommitLock);
        command.Parameters.AddWithValue("lock_ns", CommitLockNamespace);
        command.Parameters.AddWithValue("lock_key", PostgresChainLeases.ChainKey(chain));
        return command;
    }

    /// <summary>
    /// The batch's facts that are stored already (usually none), read by block number. Facts are keyed by chain, block
    /// number and log index (migration 0009); a stored fact there from another block hash is another fork's, which
    /// only a rollback may replace, so the batch is refused naming both.
    /// </summary>
    private static async Task<HashSet<(long Number, int LogIndex)>> StoredFactsAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, BatchContent content, CancellationToken cancellationToken)
    {
        var tables = new List<string>();
        AddIf(content.Collateral.Count, "collateral_changes");
        AddIf(content.PerpPositions.Count, "perp_position_changes");
        AddIf(content.PerpMarkets.Count, "perp_market_listings");
        AddIf(content.OptionSeries.Count, "option_series_listings");
        AddIf(content.OptionPositions.Count, "option_position_changes");
        AddIf(content.PriceRounds.Count, "price_rounds");
        AddIf(content.Rejected.Count, "rejected_logs");
        var stored = new Dictionary<(long Number, int LogIndex), string>();
        var command = new NpgsqlCommand(PostgresSql.StoredFacts(tables), connection, transaction);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.AddWithValue("chain", content.ChainColumn);
            command.Parameters.Add(new NpgsqlParameter("numbers", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = content.FactBlockNumbers.ToArray() });
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    stored[(reader.GetInt64(0), reader.GetInt32(1))] = reader.GetString(2);
                }
            }
        }

        var found = new HashSet<(long Number, int LogIndex)>();
        if (stored.Count == 0)
        {
            return found;
        }

        foreach (var fact in content.Batch.Facts)
        {
            if (stored.TryGetValue((fact.Block.Number, fact.LogIndex), out var hash))
            {
                if (!string.Equals(hash, fact.Block.Hash, StringComparison.OrdinalIgnoreCase))
                {
                    throw new InvalidOperationException(
                        $"block {fact.Block.Number} of chain {content.Batch.Chain} is stored from block hash {hash}, and this batch brings log " +
                        $"{fact.LogIndex} of block hash {fact.Block.Hash}: another fork's block replaces a stored one only after a rollback below it");
                }

                found.Add((fact.Block.Number, fact.LogIndex));
            }
        }

        return found;

        void AddIf(int count, string table)
        {
            if (count > 0)
            {
                tables.Add(table);
            }
        }
    }

    private static List<T> New<T>(List<T> rows, HashSet<(long Number, int LogIndex)> stored)
        where T : ChainFact =>
        stored.Count == 0 ? rows : [.. rows.Where(f => !stored.Contains((f.Block.Number, f.LogIndex)))];

    /// <summary>
    /// Orders the new collateral facts by (block, log index) and gives each the block of its key's previous fact: the
    /// stored balance's last block for a key's first fact here, else the previous fact of this batch. A rollback reads
    /// these instead of searching each key's older facts (migration 0008). A fact at or below its key's stored last
    /// block would break that chain of touches, so it is refused: a chain's blocks are stored in order, and rewritten
    /// only after a rollback.
    /// </summary>
    private static async Task<CollateralRows> CollateralWithPreviousTouchAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, long chain, List<CollateralChanged> facts, CancellationToken cancellationToken)
    {
        if (facts.Count == 0)
        {
            return new CollateralRows([], []);
        }

        // The watcher sends facts in (block, log index) order; anything else is sorted first.
        var sorted = facts;
        for (var i = 1; i < facts.Count; i++)
        {
            if ((facts[i - 1].Block.Number, facts[i - 1].LogIndex).CompareTo((facts[i].Block.Number, facts[i].LogIndex)) > 0)
            {
                sorted = [.. facts];
                sorted.Sort(static (a, b) => (a.Block.Number, a.LogIndex).CompareTo((b.Block.Number, b.LogIndex)));
                break;
            }
        }

        // Each fact's key is looked up once; everything after works on the key's position.
        var index = new Dictionary<(string Venue, string Account, string Token), int>();
        var keys = new List<CollateralKey>();
        var keyOf = new int[sorted.Count];
        for (var i = 0; i < sorted.Count; i++)
        {
            var f = sorted[i];
            var key = (f.Contract.Value, f.Account.Value, f.Token.Value);
            if (!index.TryGetValue(key, out var at))
            {
                at = keys.Count;
                index.Add(key, at);
                keys.Add(new CollateralKey(key.Item1, key.Item2, key.Item3));
            }

            keyOf[i] = at;
        }

        var command = new NpgsqlCommand(PostgresSql.CollateralLastTouches, connection, transaction);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.AddWithValue("chain", chain);
            command.Parameters.Add(new NpgsqlParameter("venue", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = keys.Select(k => k.Venue).ToArray() });
            command.Parameters.Add(new NpgsqlParameter("account", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = keys.Select(k => k.Account).ToArray() });
            command.Parameters.Add(new NpgsqlParameter("token", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = keys.Select(k => k.Token).ToArray() });
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    keys[index[(reader.GetString(0), reader.GetString(1), reader.GetString(2))]].StoredTouch = reader.GetInt64(3);
                }
            }
        }

        var rows = new List<CollateralRow>(sorted.Count);
        for (var i = 0; i < sorted.Count; i++)
        {
            var f = sorted[i];
            var key = keys[keyOf[i]];
            long? prevNumber = null;
            if (key.Last is { } previous)
            {
                prevNumber = previous.Number;
            }
            else if (key.StoredTouch is { } touch)
            {
                if (f.Block.Number <= touch)
                {
                    throw new InvalidOperationException(
                        $"collateral fact {f.Block.Hash}/{f.LogIndex} at block {f.Block.Number} is not above block {touch}, where " +
                        $"({f.Contract}, {f.Account}, {f.Token}) on chain {chain} was last touched: a chain's blocks are committed in order " +
                        "(roll back to rewrite them)");
                }

                prevNumber = touch;
            }

            key.Delta += f.Delta;
            key.Last = f.Block;
            rows.Add(new CollateralRow(f, prevNumber));
        }

        return new CollateralRows(rows, keys);
    }

    /// <summary>Copies a fact table's new rows straight into it.</summary>
    private static async Task<List<T>> LoadAsync<T>(
        NpgsqlConnection connection, long chain, string table, string columns, List<T> rows, Action<CopyRows, T> write, CancellationToken cancellationToken)
        where T : ChainFact
    {
        if (rows.Count > 0)
        {
            await CopyAsync(connection, table, columns, rows, write, chain, cancellationToken).ConfigureAwait(false);
        }

        return rows;
    }

    private static Task CopyAsync<T>(
        NpgsqlConnection connection, string target, string columns, List<T> rows, Action<CopyRows, T> write, long chain, CancellationToken cancellationToken)
        where T : ChainFact =>
        CopyRowsAsync(
            connection,
            PostgresSql.Copy(target, columns),
            columns.Count(c => c == ',') + 1,
            rows.Count,
            async (encoded, flush) =>
            {
                foreach (var f in rows)
                {
                    encoded.StartRow();
                    encoded.Int64(chain);
                    encoded.Text(f.Block.Hash);
                    encoded.Int32(f.LogIndex);
                    encoded.Int64(f.Block.Number);
                    encoded.Text(f.Contract.Value);
                    write(encoded, f);
                    await flush().ConfigureAwait(false);
                }
            },
            cancellationToken);

    /// <summary>
    /// The new collateral facts (in block, log index order) into collateral_change_blocks: one row per block, its facts
    /// as parallel arrays (migration 0011). The facts of one block number must carry one block hash.
    /// </summary>
    private static Task CopyCollateralAsync(NpgsqlConnection connection, long chain, List<CollateralRow> rows, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
        {
            return Task.CompletedTask;
        }

        return CopyRowsAsync(
            connection,
            PostgresSql.Copy(PostgresSql.CollateralBlocks, PostgresSql.CollateralBlockColumns),
            10,
            rows.Count / 8,
            async (encoded, flush) =>
            {
                for (var start = 0; start < rows.Count;)
                {
                    var block = rows[start].Fact.Block;
                    var end = start + 1;
                    while (end < rows.Count && rows[end].Fact.Block.Number == block.Number)
                    {
                        if (!string.Equals(rows[end].Fact.Block.Hash, block.Hash, StringComparison.OrdinalIgnoreCase))
                        {
                            throw new InvalidOperationException(
                                $"collateral facts of block {block.Number} on chain {chain} carry two block hashes, {block.Hash} and {rows[end].Fact.Block.Hash}");
                        }

                        end++;
                    }

                    WriteCollateralBlock(encoded, chain, block, rows, start, end);
                    await flush().ConfigureAwait(false);
                    start = end;
                }
            },
            cancellationToken);
    }

    /// <summary>
    /// One binary COPY: <paramref name="write"/> encodes the rows and calls flush after each whole row, which sends the
    /// encoded bytes once they pass 1 MiB. A failure cancels the COPY instead of completing it with the rows sent so far.
    /// </summary>
    private static async Task CopyRowsAsync(
        NpgsqlConnection connection, string copy, int fields, int rowsHint, Func<CopyRows, Func<ValueTask>, Task> write, CancellationToken cancellationToken)
    {
        const int SendAt = 1 << 20;
        using var encoded = new CopyRows(fields, rowsHint);
        var stream = await connection.BeginRawBinaryCopyAsync(copy, cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            try
            {
                await write(encoded, FlushAsync).ConfigureAwait(false);
                encoded.Finish();
                await stream.WriteAsync(encoded.Encoded, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await stream.CancelAsync().ConfigureAwait(false);
                throw;
            }
        }

        async ValueTask FlushAsync()
        {
            if (encoded.Pending >= SendAt)
            {
                await stream.WriteAsync(encoded.Encoded, cancellationToken).ConfigureAwait(false);
                encoded.Clear();
            }
        }
    }

    /// <summary>A new collateral fact and the block number of its key's previous fact (none for the key's first).</summary>
    private sealed record CollateralRow(CollateralChanged Fact, long? PrevNumber);

    /// <summary>A batch's new collateral facts in (block, log index) order, and its keys with their sums.</summary>
    private sealed record CollateralRows(List<CollateralRow> Rows, List<CollateralKey> Keys);

    /// <summary>
    /// One (venue, account, token) of a batch: the block its stored balance was last touched at (none when no balance is
    /// stored), and the batch's summed delta and last block so far.
    /// </summary>
    private sealed class CollateralKey(string venue, string account, string token)
    {
        public string Venue { get; } = venue;

        public string Account { get; } = account;

        public string Token { get; } = token;

        public long? StoredTouch { get; set; }

        public BigInteger Delta { get; set; }

        public BlockRef? Last { get; set; }
    }

    /// <summary>Adds the batch's per-key collateral sums (summed in memory) to the stored balances with one statement each.</summary>
    private static void AddCollateral(NpgsqlBatch batch, long chain, CollateralRows inserted)
    {
        if (inserted.Rows.Count == 0)
        {
            return;
        }

        // Keys with a stored balance are updated, the others inserted: the commit lock keeps that split true, and a
        // plain update costs about half an upsert's speculative insert per row.
        Add(PostgresSql.UpdateCollateral, inserted.Keys.Where(k => k.StoredTouch is not null).ToList());
        Add(PostgresSql.InsertCollateral, inserted.Keys.Where(k => k.StoredTouch is null).ToList());

        void Add(string sql, List<CollateralKey> rows)
        {
            if (rows.Count == 0)
            {
                return;
            }

            var command = new NpgsqlBatchCommand(sql);
            command.Parameters.AddWithValue("chain", chain);
            AddArray(command, "venue", NpgsqlDbType.Text, rows.Select(r => r.Venue).ToArray());
            AddArray(command, "account", NpgsqlDbType.Text, rows.Select(r => r.Account).ToArray());
            AddArray(command, "token", NpgsqlDbType.Text, rows.Select(r => r.Token).ToArray());
            AddArray(command, "delta", NpgsqlDbType.Numeric, rows.Select(r => Columns.Checked(r.Delta, "collateral delta")).ToArray());
            AddArray(command, "block_number", NpgsqlDbType.Bigint, rows.Select(r => r.Last!.Value.Number).ToArray());
            AddArray(command, "block_hash", NpgsqlDbType.Text, rows.Select(r => r.Last!.Value.Hash).ToArray());
            batch.BatchCommands.Add(command);
        }
    }

    /// <summary>
    /// Picks the latest inserted fact per key in memory and upserts those with one statement. The columns before the
    /// null separator form the aggregate's key (after chain_id); block number, hash and log index are appended.
    /// </summary>
    private static void AddLatest<T, TKey>(
        NpgsqlBatch batch, long chain, string table, List<T> inserted, Func<T, TKey> key, params Column<T>?[] columns)
        where T : ChainFact
        where TKey : notnull
    {
        if (inserted.Count == 0)
        {
            return;
        }

        var latest = new Dictionary<TKey, T>();
        foreach (var fact in inserted)
        {
            var k = key(fact);
            if (!latest.TryGetValue(k, out var current) || (fact.Block.Number, fact.LogIndex).CompareTo((current.Block.Number, current.LogIndex)) > 0)
            {
                latest[k] = fact;
            }
        }

        var split = Array.IndexOf(columns, null);
        var keys = columns.Take(split).Select(c => c!).ToList();
        var values = columns.Skip(split + 1).Select(c => c!).ToList();
        var rows = latest.Values.ToList();
        var command = new NpgsqlBatchCommand(PostgresSql.UpsertLatest(table, keys.Select(c => c.Name).ToList(), values.Select(c => c.Name).ToList()));
        command.Parameters.AddWithValue("chain", chain);
        foreach (var column in keys.Concat(values))
        {
            AddArray(command, column.Name, column.Type, column.Values(rows));
        }

        AddArray(command, "block_number", NpgsqlDbType.Bigint, rows.Select(f => f.Block.Number).ToArray());
        AddArray(command, "block_hash", NpgsqlDbType.Text, rows.Select(f => f.Block.Hash).ToArray());
        AddArray(command, "log_index", NpgsqlDbType.Integer, rows.Select(f => f.LogIndex).ToArray());
        batch.BatchCommands.Add(command);
    }

    /// <summary>A few rows a span (one per feed): a statement each. A state read again at the same block replaces the earlier one.</summary>
    private static void AddFeedStates(NpgsqlBatch batch, long chain, IReadOnlyList<FeedState> states)
    {
        foreach (var state in states)
        {
            var command = new NpgsqlBatchCommand(PostgresSql.UpsertFeedState);
            command.Parameters.AddWithValue("chain", chain);
            command.Parameters.AddWithValue("feed", state.Feed.Value);
            command.Parameters.AddWithValue("number", state.Block.Number);
            command.Parameters.AddWithValue("hash", state.Block.Hash);
            command.Parameters.Add(new NpgsqlParameter("decimals", NpgsqlDbType.Integer) { Value = (object?)state.Decimals ?? DBNull.Value });
            command.Parameters.Add(new NpgsqlParameter("round_id", NpgsqlDbType.Numeric) { Value = state.RoundId is { } round ? Columns.Checked(round, "round id") : DBNull.Value });
            command.Parameters.Add(new NpgsqlParameter("answer", NpgsqlDbType.Numeric) { Value = state.Answer is { } answer ? Columns.Checked(answer, "price answer") : DBNull.Value });
            command.Parameters.Add(new NpgsqlParameter("updated_at", NpgsqlDbType.Bigint) { Value = (object?)state.UpdatedAt ?? DBNull.Value });
            command.Parameters.Add(new NpgsqlParameter("reason", NpgsqlDbType.Text) { Value = (object?)state.Reason ?? DBNull.Value });
            batch.BatchCommands.Add(command);
        }
    }

    private static void AddArray(NpgsqlBatchCommand command, string name, NpgsqlDbType type, Array values) =>
        command.Parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Array | type) { Value = values });

    private static Column<T> Text<T>(string name, Func<T, string> value) =>
        new(name, NpgsqlDbType.Text, rows => rows.Select(value).ToArray());

    private static Column<T> Big<T>(string name, Func<T, BigInteger> value) =>
        new(name, NpgsqlDbType.Numeric, rows => rows.Select(r => Columns.Checked(value(r), name)).ToArray());

    /// <summary>An aggregate column: its name (also the array parameter's), type, and values for the rows.</summary>
    private sealed record Column<T>(string Name, NpgsqlDbType Type, Func<IReadOnlyList<T>, Array> Values);

    private static void WriteBig(CopyRows w, BigInteger value, string what) => w.Numeric(Columns.Checked(value, what));

    /// <summary>A row of collateral_change_blocks: the block, then each column of its facts rows[start..end) as an array.</summary>
    private static void WriteCollateralBlock(CopyRows w, long chain, BlockRef block, List<CollateralRow> rows, int start, int end)
    {
        var count = end - start;
        w.StartRow();
        w.Int64(chain);
        w.Int64(block.Number);
        w.HexBytes(block.Hash);
        var array = w.StartArray(CopyRows.Int32Oid, count, hasNulls: false);
        for (var i = start; i < end; i++)
        {
            w.Int32(rows[i].Fact.LogIndex);
        }

        w.EndArray(array);
        Addresses(f => f.Contract.Value);
        Addresses(f => f.Account.Value);
        Addresses(f => f.Token.Value);
        array = w.StartArray(CopyRows.NumericOid, count, hasNulls: false);
        for (var i = start; i < end; i++)
        {
            WriteBig(w, rows[i].Fact.Delta, "collateral delta");
        }

        w.EndArray(array);
        array = w.StartArray(CopyRows.TextOid, count, hasNulls: false);
        for (var i = start; i < end; i++)
        {
            w.Text(rows[i].Fact.Kind);
        }

        w.EndArray(array);
        array = w.StartArray(CopyRows.Int64Oid, count, hasNulls: rows.FindIndex(start, count, static r => r.PrevNumber is null) >= 0);
        for (var i = start; i < end; i++)
        {
            if (rows[i].PrevNumber is { } number)
            {
                w.Int64(number);
            }
            else
            {
                w.Null();
            }
        }

        w.EndArray(array);

        void Addresses(Func<CollateralChanged, string> address)
        {
            var at = w.StartArray(CopyRows.ByteaOid, count, hasNulls: false);
            for (var i = start; i < end; i++)
            {
                w.HexBytes(address(rows[i].Fact));
            }

            w.EndArray(at);
        }
    }

    private static void WritePerpPosition(CopyRows w, PerpPositionChanged f)
    {
        w.Text(f.Account.Value);
        WriteBig(w, f.MarketId, "market id");
        WriteBig(w, f.NewSize, "perp size");
        WriteBig(w, f.EntryPrice, "entry price");
        WriteBig(w, f.RealizedPnl, "realized pnl");
    }

    private static void WritePerpMarket(CopyRows w, PerpMarketListed f)
    {
        WriteBig(w, f.MarketId, "market id");
        w.Text(f.Feed.Value);
        w.Text(f.Symbol);
    }

    private static void WriteOptionSeries(CopyRows w, OptionSeriesListed f)
    {
        WriteBig(w, f.SeriesId, "series id");
        w.Text(f.Feed.Value);
        w.Text(f.Symbol);
        WriteBig(w, f.Strike, "strike");
        w.Int64(f.Expiry);
        w.Bool(f.IsCall);
    }

    private static void WriteOptionPosition(CopyRows w, OptionPositionChanged f)
    {
        w.Text(f.Account.Value);
        WriteBig(w, f.SeriesId, "series id");
        WriteBig(w, f.NewSize, "option size");
    }

    private static void WritePriceRound(CopyRows w, PriceRoundUpdated f)
    {
        WriteBig(w, f.RoundId, "round id");
        WriteBig(w, f.Answer, "price answer");
        w.Int64(f.UpdatedAt);
    }

    private static void WriteRejected(CopyRows w, RejectedLog f)
    {
        w.Text(f.Topic0);
        w.Text(f.Reason);
    }

    private static async Task<int> ExecuteAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, Action<NpgsqlCommand> bind, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand(sql, connection, transaction);
        await using (command.ConfigureAwait(false))
        {
            bind(command);
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
