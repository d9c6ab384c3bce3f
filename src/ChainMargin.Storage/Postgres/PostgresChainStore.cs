using System.Data.Common;
using System.Numerics;
using ChainMargin.Core;
using ChainMargin.Storage.Migrations;
using Npgsql;
using NpgsqlTypes;

namespace ChainMargin.Storage.Postgres;

/// <summary>
/// The PostgreSQL store, the system of record. A commit is one transaction: blocks by unnest, facts by binary COPY
/// into per-session staging tables, then one statement per fact table that inserts the new facts and folds them into
/// the aggregates, and the checkpoint.
/// </summary>
public sealed class PostgresChainStore : SqlChainStore, IAsyncDisposable
{
    /// <summary>Advisory lock key held while migrating, so two processes starting at once migrate one after the other.</summary>
    private const long MigrationLockKey = 0x434D_5354_4F52_0001; // "CMSTOR" + 1

    private readonly NpgsqlDataSource _dataSource;

    public PostgresChainStore(string connectionString, TimeProvider timeProvider)
        : base(timeProvider)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            // Pooled sessions keep their temp staging tables: without this, the reset on return to the pool drops
            // them and every commit would pay for recreating them in the catalog.
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
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                await PrepareAsync(connection, transaction, content, cancellationToken).ConfigureAwait(false);
                var apply = new List<string>();
                if (content.Collateral.Count > 0)
                {
                    await CopyAsync(connection, "collateral_changes", PostgresSql.CollateralColumns, content.Collateral, WriteCollateral, content.ChainColumn, cancellationToken).ConfigureAwait(false);
                    apply.Add(PostgresSql.ApplyCollateral);
                }

                if (content.PerpPositions.Count > 0)
                {
                    await CopyAsync(connection, "perp_position_changes", PostgresSql.PerpPositionColumns, content.PerpPositions, WritePerpPosition, content.ChainColumn, cancellationToken).ConfigureAwait(false);
                    apply.Add(PostgresSql.ApplyPerpPositions);
                }

                if (content.PerpMarkets.Count > 0)
                {
                    await CopyAsync(connection, "perp_market_listings", PostgresSql.PerpMarketColumns, content.PerpMarkets, WritePerpMarket, content.ChainColumn, cancellationToken).ConfigureAwait(false);
                    apply.Add(PostgresSql.ApplyPerpMarkets);
                }

                if (content.OptionSeries.Count > 0)
                {
                    await CopyAsync(connection, "option_series_listings", PostgresSql.OptionSeriesColumns, content.OptionSeries, WriteOptionSeries, content.ChainColumn, cancellationToken).ConfigureAwait(false);
                    apply.Add(PostgresSql.ApplyOptionSeries);
                }

                if (content.OptionPositions.Count > 0)
                {
                    await CopyAsync(connection, "option_position_changes", PostgresSql.OptionPositionColumns, content.OptionPositions, WriteOptionPosition, content.ChainColumn, cancellationToken).ConfigureAwait(false);
                    apply.Add(PostgresSql.ApplyOptionPositions);
                }

                if (content.PriceRounds.Count > 0)
                {
                    await CopyAsync(connection, "price_rounds", PostgresSql.PriceRoundColumns, content.PriceRounds, WritePriceRound, content.ChainColumn, cancellationToken).ConfigureAwait(false);
                    apply.Add(PostgresSql.ApplyPriceRounds);
                }

                if (content.Rejected.Count > 0)
                {
                    await CopyAsync(connection, "rejected_logs", PostgresSql.RejectedColumns, content.Rejected, WriteRejected, content.ChainColumn, cancellationToken).ConfigureAwait(false);
                    apply.Add(PostgresSql.ApplyRejected);
                }

                apply.Add(PostgresSql.UpsertCheckpoint);
                var batchCommand = new NpgsqlBatch(connection, transaction);
                await using (batchCommand.ConfigureAwait(false))
                {
                    foreach (var sql in apply)
                    {
                        var command = new NpgsqlBatchCommand(sql);
                        if (ReferenceEquals(sql, PostgresSql.UpsertCheckpoint))
                        {
                            command.Parameters.AddWithValue("chain", content.ChainColumn);
                            command.Parameters.AddWithValue("checkpoint_number", batch.Checkpoint.Number);
                            command.Parameters.AddWithValue("checkpoint_hash", batch.Checkpoint.Hash);
                            command.Parameters.AddWithValue("checkpoint_at", Time.GetUtcNow());
                        }

                        batchCommand.BatchCommands.Add(command);
                    }

                    await batchCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public override async Task RollbackToAsync(BlockRef ancestor, CancellationToken cancellationToken)
    {
        var chain = Columns.ToColumn(ancestor.Chain);
        var statements = new List<string> { RollbackSql.DeleteBlocks };
        statements.AddRange(RollbackSql.FactTables.Select(RollbackSql.DeleteFacts));
        statements.Add(RollbackSql.DeleteOrphanCollateral);
        statements.Add(PostgresSql.RecomputeCollateral);
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
                    },
                    cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
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

    /// <summary>Upserts the blocks and makes sure this session has the staging tables the batch needs: one round trip.</summary>
    private static async Task PrepareAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, BatchContent content, CancellationToken cancellationToken)
    {
        var batch = new NpgsqlBatch(connection, transaction);
        await using (batch.ConfigureAwait(false))
        {
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

            AddStage(batch, "collateral_changes", content.Collateral.Count);
            AddStage(batch, "perp_position_changes", content.PerpPositions.Count);
            AddStage(batch, "perp_market_listings", content.PerpMarkets.Count);
            AddStage(batch, "option_series_listings", content.OptionSeries.Count);
            AddStage(batch, "option_position_changes", content.OptionPositions.Count);
            AddStage(batch, "price_rounds", content.PriceRounds.Count);
            AddStage(batch, "rejected_logs", content.Rejected.Count);
            if (batch.BatchCommands.Count > 0)
            {
                await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static void AddStage(NpgsqlBatch batch, string table, int count)
    {
        if (count > 0)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(PostgresSql.Stage(table)));
        }
    }

    private static async Task CopyAsync<T>(
        NpgsqlConnection connection, string table, string columns, List<T> rows, Action<NpgsqlBinaryImporter, T> write, long chain, CancellationToken cancellationToken)
        where T : ChainFact
    {
        var importer = await connection.BeginBinaryImportAsync(PostgresSql.Copy(table, columns), cancellationToken).ConfigureAwait(false);
        await using (importer.ConfigureAwait(false))
        {
            foreach (var row in rows)
            {
                await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                importer.Write(chain, NpgsqlDbType.Bigint);
                importer.Write(row.Block.Hash, NpgsqlDbType.Text);
                importer.Write(row.LogIndex, NpgsqlDbType.Integer);
                importer.Write(row.Block.Number, NpgsqlDbType.Bigint);
                importer.Write(row.Contract.Value, NpgsqlDbType.Text);
                write(importer, row);
            }

            await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static void WriteBig(NpgsqlBinaryImporter importer, BigInteger value, string what) =>
        importer.Write(Columns.Checked(value, what), NpgsqlDbType.Numeric);

    private static void WriteCollateral(NpgsqlBinaryImporter w, CollateralChanged f)
    {
        w.Write(f.Account.Value, NpgsqlDbType.Text);
        w.Write(f.Token.Value, NpgsqlDbType.Text);
        WriteBig(w, f.Delta, "collateral delta");
        w.Write(f.Kind, NpgsqlDbType.Text);
    }

    private static void WritePerpPosition(NpgsqlBinaryImporter w, PerpPositionChanged f)
    {
        w.Write(f.Account.Value, NpgsqlDbType.Text);
        WriteBig(w, f.MarketId, "market id");
        WriteBig(w, f.NewSize, "perp size");
        WriteBig(w, f.EntryPrice, "entry price");
        WriteBig(w, f.RealizedPnl, "realized pnl");
    }

    private static void WritePerpMarket(NpgsqlBinaryImporter w, PerpMarketListed f)
    {
        WriteBig(w, f.MarketId, "market id");
        w.Write(f.Feed.Value, NpgsqlDbType.Text);
        w.Write(f.Symbol, NpgsqlDbType.Text);
    }

    private static void WriteOptionSeries(NpgsqlBinaryImporter w, OptionSeriesListed f)
    {
        WriteBig(w, f.SeriesId, "series id");
        w.Write(f.Feed.Value, NpgsqlDbType.Text);
        w.Write(f.Symbol, NpgsqlDbType.Text);
        WriteBig(w, f.Strike, "strike");
        w.Write(f.Expiry, NpgsqlDbType.Bigint);
        w.Write(f.IsCall, NpgsqlDbType.Boolean);
    }

    private static void WriteOptionPosition(NpgsqlBinaryImporter w, OptionPositionChanged f)
    {
        w.Write(f.Account.Value, NpgsqlDbType.Text);
        WriteBig(w, f.SeriesId, "series id");
        WriteBig(w, f.NewSize, "option size");
    }

    private static void WritePriceRound(NpgsqlBinaryImporter w, PriceRoundUpdated f)
    {
        WriteBig(w, f.RoundId, "round id");
        WriteBig(w, f.Answer, "price answer");
        w.Write(f.UpdatedAt, NpgsqlDbType.Bigint);
    }

    private static void WriteRejected(NpgsqlBinaryImporter w, RejectedLog f)
    {
        w.Write(f.Topic0, NpgsqlDbType.Text);
        w.Write(f.Reason, NpgsqlDbType.Text);
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
