using System.Data.Common;
using System.Numerics;
using ChainMargin.Core;
using ChainMargin.Storage.Migrations;
using Microsoft.Data.Sqlite;

namespace ChainMargin.Storage.Sqlite;

/// <summary>
/// The embedded SQLite store: same tables as PostgreSQL, big integers as decimal text and summed in C# with
/// BigInteger. Writes are serialised in-process (SQLite has one writer) and each is one IMMEDIATE transaction with
/// prepared statements reused across the batch's rows. WAL journal, synchronous=NORMAL.
/// </summary>
public sealed class SqliteChainStore : SqlChainStore, IAsyncDisposable
{
    private readonly string _connectionString;
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    public SqliteChainStore(string connectionString, TimeProvider timeProvider)
        : base(timeProvider)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _connectionString = new SqliteConnectionStringBuilder(connectionString) { Pooling = true }.ConnectionString;
    }

    public override async Task MigrateAsync(CancellationToken cancellationToken)
    {
        var scripts = MigrationScript.Load("sqlite");
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                // journal_mode is stored in the file; it cannot change inside a transaction.
                Execute(connection, null, "pragma journal_mode = wal");
                Execute(connection, null, "create table if not exists schema_migrations (version integer primary key, name text not null, applied_at integer not null)");
                foreach (var script in scripts)
                {
                    cancellationToken.ThrowIfCancellationRequested();

                    // IMMEDIATE takes the write lock before the check, so two processes cannot both apply a version.
                    using var transaction = connection.BeginTransaction(deferred: false);
                    using var check = Command(connection, transaction, "select count(*) from schema_migrations where version = @version");
                    check.Parameters.AddWithValue("@version", script.Version);
                    if (Convert.ToInt64(check.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0)
                    {
                        continue;
                    }

                    Execute(connection, transaction, script.Sql);
                    using var record = Command(connection, transaction, "insert into schema_migrations (version, name, applied_at) values (@version, @name, @at)");
                    record.Parameters.AddWithValue("@version", script.Version);
                    record.Parameters.AddWithValue("@name", script.Name);
                    record.Parameters.AddWithValue("@at", Columns.ToMicroseconds(Time.GetUtcNow()));
                    record.ExecuteNonQuery();
                    transaction.Commit();
                }
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public override async Task CommitAsync(ChainBatch batch, CancellationToken cancellationToken)
    {
        var content = BatchContent.From(batch);
        await WriteAsync(
            (connection, transaction) =>
            {
                UpsertBlocks(connection, transaction, content);
                ApplyCollateral(connection, transaction, content, cancellationToken);
                ApplyPerpPositions(connection, transaction, content, cancellationToken);
                ApplyPerpMarkets(connection, transaction, content, cancellationToken);
                ApplyOptionSeries(connection, transaction, content, cancellationToken);
                ApplyOptionPositions(connection, transaction, content, cancellationToken);
                ApplyPriceRounds(connection, transaction, content, cancellationToken);
                ApplyRejected(connection, transaction, content, cancellationToken);
                Aave.AaveV3StateSql.Write(connection, transaction, batch, Aave.AaveV3StateSql.Sqlite);
                UpsertFeedStates(connection, transaction, content);
                UpsertCheckpoint(connection, transaction, content.ChainColumn, batch.Checkpoint);
                return true;
            },
            cancellationToken).ConfigureAwait(false);
    }

    public override async Task RollbackToAsync(BlockRef ancestor, CancellationToken cancellationToken)
    {
        var chain = Columns.ToColumn(ancestor.Chain);
        await WriteAsync(
            (connection, transaction) =>
            {
                void Run(string sql)
                {
                    using var command = Command(connection, transaction, sql);
                    command.Parameters.AddWithValue("@chain", chain);
                    command.Parameters.AddWithValue("@number", ancestor.Number);
                    command.ExecuteNonQuery();
                }

                Run(RollbackSql.DeleteBlocks);
                foreach (var table in RollbackSql.FactTables)
                {
                    Run(RollbackSql.DeleteFacts(table));
                }

                Run(RollbackSql.DeleteFeedStates);
                Run(RollbackSql.DeleteOrphanCollateral);
                RecomputeCollateral(connection, transaction, chain, ancestor.Number, cancellationToken);
                foreach (var sql in RollbackSql.RecomputeLatest)
                {
                    Run(sql);
                }

                UpsertCheckpoint(connection, transaction, chain, ancestor);
                return true;
            },
            cancellationToken).ConfigureAwait(false);
    }

    public override async Task<int> PruneSupersededAsync(ChainId chain, long after, long horizon, CancellationToken cancellationToken) =>
        await WriteAsync(
            (connection, transaction) =>
            {
                var deleted = 0;
                foreach (var (table, key, supersedes) in PruneSql.Tables)
                {
                    using var command = Command(connection, transaction, PruneSql.Prune(table, key, supersedes));
                    command.Parameters.AddWithValue("@chain", Columns.ToColumn(chain));
                    command.Parameters.AddWithValue("@after", after);
                    command.Parameters.AddWithValue("@horizon", horizon);
                    deleted += command.ExecuteNonQuery();
                }

                return deleted;
            },
            cancellationToken).ConfigureAwait(false);

    public override async Task<bool> RecordAccountStateAsync(AccountStateRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        return await WriteAsync(
            (connection, transaction) =>
            {
                using var upsert = Command(
                    connection,
                    transaction,
                    """
                    insert into account_states (account, state, health, reason, block_vector, at)
                    values (@account, @state, @health, @reason, @block_vector, @at)
                    on conflict (account) do update
                    set state = excluded.state, health = excluded.health, reason = excluded.reason,
                        block_vector = excluded.block_vector, at = excluded.at
                    where account_states.state is not excluded.state
                    """);
                BindAccountState(upsert, record);
                if (upsert.ExecuteNonQuery() == 0)
                {
                    return false;
                }

                using var history = Command(
                    connection,
                    transaction,
                    """
                    insert into account_state_history (account, state, health, reason, block_vector, at)
                    values (@account, @state, @health, @reason, @block_vector, @at)
                    """);
                BindAccountState(history, record);
                history.ExecuteNonQuery();
                return true;
            },
            cancellationToken).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync()
    {
        _writeLock.Dispose();
        return ValueTask.CompletedTask;
    }

    protected override async ValueTask<DbConnection> OpenReadConnectionAsync(CancellationToken cancellationToken) =>
        await OpenAsync(cancellationToken).ConfigureAwait(false);

    protected override BigInteger ReadBig(DbDataReader reader, int ordinal)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return Columns.FromText(reader.GetString(ordinal));
    }

    protected override DateTimeOffset ReadTime(DbDataReader reader, int ordinal)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return Columns.FromMicroseconds(reader.GetInt64(ordinal));
    }

    protected override decimal? ReadDecimal(DbDataReader reader, int ordinal)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return reader.IsDBNull(ordinal) ? null : Columns.DecimalFromText(reader.GetString(ordinal));
    }

    protected override bool ReadBool(DbDataReader reader, int ordinal)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return reader.GetInt64(ordinal) != 0;
    }

    private static void BindAccountState(SqliteCommand command, AccountStateRecord record)
    {
        command.Parameters.AddWithValue("@account", record.Account.Value);
        command.Parameters.AddWithValue("@state", record.State);
        command.Parameters.AddWithValue("@health", record.Health is { } h ? Columns.ToText(h) : DBNull.Value);
        command.Parameters.AddWithValue("@reason", record.Reason);
        command.Parameters.AddWithValue("@block_vector", record.BlockVector);
        command.Parameters.AddWithValue("@at", Columns.ToMicroseconds(record.At));
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);

            // synchronous is per connection: NORMAL is durable across a process crash in WAL mode, and a power loss
            // can only lose the last commits, which the watcher re-indexes from its checkpoint.
            Execute(connection, null, "pragma synchronous = normal");
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, T> work, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                using var transaction = connection.BeginTransaction(deferred: false);
                var result = work(connection, transaction);
                cancellationToken.ThrowIfCancellationRequested();
                transaction.Commit();
                return result;
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        using var command = Command(connection, transaction, sql);
        command.ExecuteNonQuery();
    }

    /// <summary>A prepared statement whose parameters are created once and re-bound per row.</summary>
    private static SqliteCommand Prepared(SqliteConnection connection, SqliteTransaction transaction, string sql, params string[] parameters)
    {
        var command = Command(connection, transaction, sql);
        foreach (var name in parameters)
        {
            command.Parameters.Add(new SqliteParameter("@" + name, null));
        }

        command.Prepare();
        return command;
    }

    private static void UpsertBlocks(SqliteConnection connection, SqliteTransaction transaction, BatchContent content)
    {
        if (content.Blocks.Count == 0)
        {
            return;
        }

        using var upsert = Prepared(
            connection,
            transaction,
            """
            insert into blocks (chain_id, number, hash, parent_hash, timestamp) values (@chain, @number, @hash, @parent, @timestamp)
            on conflict (chain_id, number) do update
            set hash = excluded.hash, parent_hash = excluded.parent_hash, timestamp = excluded.timestamp
            """,
            "chain", "number", "hash", "parent", "timestamp");
        var p = upsert.Parameters;
        p[0].Value = content.ChainColumn;
        foreach (var block in content.Blocks)
        {
            p[1].Value = block.Block.Number;
            p[2].Value = block.Block.Hash;
            p[3].Value = block.ParentHash;
            p[4].Value = block.Timestamp;
            upsert.ExecuteNonQuery();
        }
    }

    private static void UpsertCheckpoint(SqliteConnection connection, SqliteTransaction transaction, long chain, BlockRef checkpoint, DateTimeOffset at)
    {
        using var upsert = Command(
            connection,
            transaction,
            """
            insert into chain_checkpoints (chain_id, block_number, block_hash, updated_at) values (@chain, @number, @hash, @at)
            on conflict (chain_id) do update
            set block_number = excluded.block_number, block_hash = excluded.block_hash, updated_at = excluded.updated_at
            """);
        upsert.Parameters.AddWithValue("@chain", chain);
        upsert.Parameters.AddWithValue("@number", checkpoint.Number);
        upsert.Parameters.AddWithValue("@hash", checkpoint.Hash);
        upsert.Parameters.AddWithValue("@at", Columns.ToMicroseconds(at));
        upsert.ExecuteNonQuery();
    }

    private void UpsertCheckpoint(SqliteConnection connection, SqliteTransaction transaction, long chain, BlockRef checkpoint) =>
        UpsertCheckpoint(connection, transaction, chain, checkpoint, Time.GetUtcNow());

    /// <summary>
    /// Inserts the facts with ON CONFLICT DO NOTHING and returns those actually inserted: only they may reach an
    /// aggregate, so a re-committed batch changes nothing.
    /// </summary>
    private static List<T> InsertFacts<T>(
        SqliteConnection connection, SqliteTransaction transaction, long chain, List<T> facts, string table, string[] extraColumns,
        Action<SqliteParameterCollection, T> bind, CancellationToken cancellationToken)
        where T : ChainFact
    {
        var inserted = new List<T>(facts.Count);
        if (facts.Count == 0)
        {
            return inserted;
        }

        string[] columns = ["chain_id", "block_hash", "log_index", "block_number", "contract", .. extraColumns];
        using var insert = Prepared(
            connection,
            transaction,
            $"insert into {table} ({string.Join(", ", columns)}) values ({string.Join(", ", columns.Select(c => "@" + c))}) on conflict do nothing",
            columns);
        var p = insert.Parameters;
        p[0].Value = chain;
        foreach (var fact in facts)
        {
            cancellationToken.ThrowIfCancellationRequested();
            p[1].Value = fact.Block.Hash;
            p[2].Value = fact.LogIndex;
            p[3].Value = fact.Block.Number;
            p[4].Value = fact.Contract.Value;
            bind(p, fact);
            if (insert.ExecuteNonQuery() > 0)
            {
                inserted.Add(fact);
            }
        }

        return inserted;
    }

    private static void ApplyCollateral(SqliteConnection connection, SqliteTransaction transaction, BatchContent content, CancellationToken cancellationToken)
    {
        var inserted = InsertFacts(
            connection, transaction, content.ChainColumn, content.Collateral, "collateral_changes", ["account", "token", "delta", "kind"],
            (p, f) =>
            {
                p[5].Value = f.Account.Value;
                p[6].Value = f.Token.Value;
                p[7].Value = Columns.ToText(f.Delta, "collateral delta");
                p[8].Value = f.Kind;
            },
            cancellationToken);

        var sums = new Dictionary<(EvmAddress Venue, EvmAddress Account, EvmAddress Token), CollateralSum>();
        foreach (var f in inserted)
        {
            var key = (f.Contract, f.Account, f.Token);
            sums[key] = sums.TryGetValue(key, out var sum) ? sum.Add(f.Delta, f.Block) : new CollateralSum(f.Delta, f.Block);
        }

        if (sums.Count == 0)
        {
            return;
        }

        using var read = Prepared(
            connection,
            transaction,
            "select balance, block_number, block_hash from collateral_balances where chain_id = @chain and venue = @venue and account = @account and token = @token",
            "chain", "venue", "account", "token");
        using var write = Prepared(
            connection,
            transaction,
            """
            insert into collateral_balances (chain_id, venue, account, token, balance, block_number, block_hash)
            values (@chain, @venue, @account, @token, @balance, @block_number, @block_hash)
            on conflict (chain_id, venue, account, token) do update
            set balance = excluded.balance, block_number = excluded.block_number, block_hash = excluded.block_hash
            """,
            "chain", "venue", "account", "token", "balance", "block_number", "block_hash");
        read.Parameters[0].Value = content.ChainColumn;
        write.Parameters[0].Value = content.ChainColumn;
        foreach (var ((venue, account, token), sum) in sums)
        {
            read.Parameters[1].Value = venue.Value;
            read.Parameters[2].Value = account.Value;
            read.Parameters[3].Value = token.Value;
            var total = sum;
            using (var reader = read.ExecuteReader())
            {
                if (reader.Read())
                {
                    var stored = new CollateralSum(
                        Columns.FromText(reader.GetString(0)), new BlockRef(content.Batch.Chain, reader.GetInt64(1), reader.GetString(2)));
                    total = stored.Add(sum.Balance, sum.Last);
                }
            }

            write.Parameters[1].Value = venue.Value;
            write.Parameters[2].Value = account.Value;
            write.Parameters[3].Value = token.Value;
            write.Parameters[4].Value = Columns.ToText(total.Balance, "collateral balance");
            write.Parameters[5].Value = total.Last.Number;
            write.Parameters[6].Value = total.Last.Hash;
            write.ExecuteNonQuery();
        }
    }

    private static void RecomputeCollateral(SqliteConnection connection, SqliteTransaction transaction, long chain, long number, CancellationToken cancellationToken)
    {
        var keys = new List<(string Venue, string Account, string Token)>();
        using (var affected = Command(
                   connection,
                   transaction,
                   "select venue, account, token from collateral_balances where chain_id = @chain and block_number > @number"))
        {
            affected.Parameters.AddWithValue("@chain", chain);
            affected.Parameters.AddWithValue("@number", number);
            using var reader = affected.ExecuteReader();
            while (reader.Read())
            {
                keys.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
            }
        }

        if (keys.Count == 0)
        {
            return;
        }

        using var facts = Prepared(
            connection,
            transaction,
            "select delta, block_number, block_hash from collateral_changes where chain_id = @chain and contract = @venue and account = @account and token = @token",
            "chain", "venue", "account", "token");
        using var update = Prepared(
            connection,
            transaction,
            """
            update collateral_balances set balance = @balance, block_number = @block_number, block_hash = @block_hash
            where chain_id = @chain and venue = @venue and account = @account and token = @token
            """,
            "balance", "block_number", "block_hash", "chain", "venue", "account", "token");
        facts.Parameters[0].Value = chain;
        update.Parameters[3].Value = chain;
        var chainId = Columns.ToChain(chain);
        foreach (var (venue, account, token) in keys)
        {
            cancellationToken.ThrowIfCancellationRequested();
            facts.Parameters[1].Value = venue;
            facts.Parameters[2].Value = account;
            facts.Parameters[3].Value = token;
            CollateralSum? total = null;
            using (var reader = facts.ExecuteReader())
            {
                while (reader.Read())
                {
                    var delta = Columns.FromText(reader.GetString(0));
                    var block = new BlockRef(chainId, reader.GetInt64(1), reader.GetString(2));
                    total = total is { } t ? t.Add(delta, block) : new CollateralSum(delta, block);
                }
            }

            // Orphans (no fact left) were deleted before: every remaining affected row has facts.
            if (total is { } sum)
            {
                update.Parameters[0].Value = Columns.ToText(sum.Balance, "collateral balance");
                update.Parameters[1].Value = sum.Last.Number;
                update.Parameters[2].Value = sum.Last.Hash;
                update.Parameters[4].Value = venue;
                update.Parameters[5].Value = account;
                update.Parameters[6].Value = token;
                update.ExecuteNonQuery();
            }
        }
    }

    /// <summary>
    /// Upserts the latest fact per key among those inserted; an existing row only yields to a later (block, log index),
    /// so the result does not depend on the order batches arrive in.
    /// </summary>
    private static void UpsertLatest<T, TKey>(
        SqliteConnection connection, SqliteTransaction transaction, long chain, List<T> inserted, Func<T, TKey> key,
        string table, string[] columns, Action<SqliteParameterCollection, T> bind)
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

        string[] all = ["chain_id", .. columns, "block_number", "block_hash", "log_index"];
        var keyColumns = string.Join(", ", all.Take(KeyWidth(table)));
        using var upsert = Prepared(
            connection,
            transaction,
            $"""
            insert into {table} ({string.Join(", ", all)}) values ({string.Join(", ", all.Select(c => "@" + c))})
            on conflict ({keyColumns}) do update
            set {string.Join(", ", all.Skip(KeyWidth(table)).Select(c => $"{c} = excluded.{c}"))}
            where (excluded.block_number, excluded.log_index) > ({table}.block_number, {table}.log_index)
            """,
            all);
        var p = upsert.Parameters;
        p[0].Value = chain;
        foreach (var fact in latest.Values)
        {
            bind(p, fact);
            p[all.Length - 3].Value = fact.Block.Number;
            p[all.Length - 2].Value = fact.Block.Hash;
            p[all.Length - 1].Value = fact.LogIndex;
            upsert.ExecuteNonQuery();
        }
    }

    /// <summary>How many leading columns (chain_id first) form the aggregate's primary key.</summary>
    private static int KeyWidth(string table) => table switch
    {
        "perp_positions" or "option_positions" => 4,
        "perp_markets" or "option_series" => 3,
        "price_latest" => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(table), table, "not a latest-wins aggregate"),
    };

    private static void ApplyPerpPositions(SqliteConnection connection, SqliteTransaction transaction, BatchContent content, CancellationToken cancellationToken)
    {
        var inserted = InsertFacts(
            connection, transaction, content.ChainColumn, content.PerpPositions, "perp_position_changes",
            ["account", "market_id", "new_size", "entry_price", "realized_pnl"],
            (p, f) =>
            {
                p[5].Value = f.Account.Value;
                p[6].Value = Columns.ToText(f.MarketId, "market id");
                p[7].Value = Columns.ToText(f.NewSize, "perp size");
                p[8].Value = Columns.ToText(f.EntryPrice, "entry price");
                p[9].Value = Columns.ToText(f.RealizedPnl, "realized pnl");
            },
            cancellationToken);
        UpsertLatest(
            connection, transaction, content.ChainColumn, inserted, f => (f.Contract, f.Account, f.MarketId), "perp_positions",
            ["venue", "account", "market_id", "size", "entry_price"],
            (p, f) =>
            {
                p[1].Value = f.Contract.Value;
                p[2].Value = f.Account.Value;
                p[3].Value = Columns.ToText(f.MarketId, "market id");
                p[4].Value = Columns.ToText(f.NewSize, "perp size");
                p[5].Value = Columns.ToText(f.EntryPrice, "entry price");
            });
    }

    private static void ApplyOptionPositions(SqliteConnection connection, SqliteTransaction transaction, BatchContent content, CancellationToken cancellationToken)
    {
        var inserted = InsertFacts(
            connection, transaction, content.ChainColumn, content.OptionPositions, "option_position_changes",
            ["account", "series_id", "new_size"],
            (p, f) =>
            {
                p[5].Value = f.Account.Value;
                p[6].Value = Columns.ToText(f.SeriesId, "series id");
                p[7].Value = Columns.ToText(f.NewSize, "option size");
            },
            cancellationToken);
        UpsertLatest(
            connection, transaction, content.ChainColumn, inserted, f => (f.Contract, f.Account, f.SeriesId), "option_positions",
            ["venue", "account", "series_id", "size"],
            (p, f) =>
            {
                p[1].Value = f.Contract.Value;
                p[2].Value = f.Account.Value;
                p[3].Value = Columns.ToText(f.SeriesId, "series id");
                p[4].Value = Columns.ToText(f.NewSize, "option size");
            });
    }

    private static void ApplyPerpMarkets(SqliteConnection connection, SqliteTransaction transaction, BatchContent content, CancellationToken cancellationToken)
    {
        var inserted = InsertFacts(
            connection, transaction, content.ChainColumn, content.PerpMarkets, "perp_market_listings",
            ["market_id", "feed", "symbol"],
            (p, f) =>
            {
                p[5].Value = Columns.ToText(f.MarketId, "market id");
                p[6].Value = f.Feed.Value;
                p[7].Value = f.Symbol;
            },
            cancellationToken);
        UpsertLatest(
            connection, transaction, content.ChainColumn, inserted, f => (f.Contract, f.MarketId), "perp_markets",
            ["venue", "market_id", "feed", "symbol"],
            (p, f) =>
            {
                p[1].Value = f.Contract.Value;
                p[2].Value = Columns.ToText(f.MarketId, "market id");
                p[3].Value = f.Feed.Value;
                p[4].Value = f.Symbol;
            });
    }

    private static void ApplyOptionSeries(SqliteConnection connection, SqliteTransaction transaction, BatchContent content, CancellationToken cancellationToken)
    {
        var inserted = InsertFacts(
            connection, transaction, content.ChainColumn, content.OptionSeries, "option_series_listings",
            ["series_id", "feed", "symbol", "strike", "expiry", "is_call"],
            (p, f) =>
            {
                p[5].Value = Columns.ToText(f.SeriesId, "series id");
                p[6].Value = f.Feed.Value;
                p[7].Value = f.Symbol;
                p[8].Value = Columns.ToText(f.Strike, "strike");
                p[9].Value = f.Expiry;
                p[10].Value = f.IsCall ? 1 : 0;
            },
            cancellationToken);
        UpsertLatest(
            connection, transaction, content.ChainColumn, inserted, f => (f.Contract, f.SeriesId), "option_series",
            ["venue", "series_id", "feed", "symbol", "strike", "expiry", "is_call"],
            (p, f) =>
            {
                p[1].Value = f.Contract.Value;
                p[2].Value = Columns.ToText(f.SeriesId, "series id");
                p[3].Value = f.Feed.Value;
                p[4].Value = f.Symbol;
                p[5].Value = Columns.ToText(f.Strike, "strike");
                p[6].Value = f.Expiry;
                p[7].Value = f.IsCall ? 1 : 0;
            });
    }

    private static void ApplyPriceRounds(SqliteConnection connection, SqliteTransaction transaction, BatchContent content, CancellationToken cancellationToken)
    {
        var inserted = InsertFacts(
            connection, transaction, content.ChainColumn, content.PriceRounds, "price_rounds",
            ["round_id", "answer", "updated_at"],
            (p, f) =>
            {
                p[5].Value = Columns.ToText(f.RoundId, "round id");
                p[6].Value = Columns.ToText(f.Answer, "price answer");
                p[7].Value = f.UpdatedAt;
            },
            cancellationToken);
        UpsertLatest(
            connection, transaction, content.ChainColumn, inserted, f => f.Contract, "price_latest",
            ["feed", "round_id", "answer", "updated_at"],
            (p, f) =>
            {
                p[1].Value = f.Contract.Value;
                p[2].Value = Columns.ToText(f.RoundId, "round id");
                p[3].Value = Columns.ToText(f.Answer, "price answer");
                p[4].Value = f.UpdatedAt;
            });
    }

    /// <summary>A state read again at the same block (a span re-indexed after a crash) replaces the earlier one.</summary>
    private static void UpsertFeedStates(SqliteConnection connection, SqliteTransaction transaction, BatchContent content)
    {
        if (content.FeedStates.Count == 0)
        {
            return;
        }

        using var upsert = Command(
            connection,
            transaction,
            """
            insert or replace into feed_states (chain_id, feed, block_number, block_hash, decimals, round_id, answer, updated_at, reason)
            values (@chain, @feed, @number, @hash, @decimals, @round_id, @answer, @updated_at, @reason)
            """);
        foreach (var state in content.FeedStates)
        {
            upsert.Parameters.Clear();
            upsert.Parameters.AddWithValue("@chain", content.ChainColumn);
            upsert.Parameters.AddWithValue("@feed", state.Feed.Value);
            upsert.Parameters.AddWithValue("@number", state.Block.Number);
            upsert.Parameters.AddWithValue("@hash", state.Block.Hash);
            upsert.Parameters.AddWithValue("@decimals", (object?)state.Decimals ?? DBNull.Value);
            upsert.Parameters.AddWithValue("@round_id", state.RoundId is { } round ? Columns.ToText(round, "round id") : DBNull.Value);
            upsert.Parameters.AddWithValue("@answer", state.Answer is { } answer ? Columns.ToText(answer, "price answer") : DBNull.Value);
            upsert.Parameters.AddWithValue("@updated_at", (object?)state.UpdatedAt ?? DBNull.Value);
            upsert.Parameters.AddWithValue("@reason", (object?)state.Reason ?? DBNull.Value);
            upsert.ExecuteNonQuery();
        }
    }

    private static void ApplyRejected(SqliteConnection connection, SqliteTransaction transaction, BatchContent content, CancellationToken cancellationToken) =>
        InsertFacts(
            connection, transaction, content.ChainColumn, content.Rejected, "rejected_logs", ["topic0", "reason"],
            (p, f) =>
            {
                p[5].Value = f.Topic0;
                p[6].Value = f.Reason;
            },
            cancellationToken);

    /// <summary>A running collateral sum and the last block that touched it.</summary>
    private readonly record struct CollateralSum(BigInteger Balance, BlockRef Last)
    {
        public CollateralSum Add(BigInteger delta, BlockRef block) =>
            new(Balance + delta, block.Number >= Last.Number ? block : Last);
    }
}
