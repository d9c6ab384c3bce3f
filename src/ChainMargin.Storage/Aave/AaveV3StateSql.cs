using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Numerics;
using System.Text;
using ChainMargin.Core;

namespace ChainMargin.Storage.Aave;

/// <summary>
/// The Aave V3 state tables (migrations postgres 0005, sqlite 0004), shared by both stores: versioned rows keyed by
/// (chain, key, block). Writes are multi-row upserts inside the chain store's commit transaction, so a batch
/// committed twice leaves the same rows (exactly once) and the state never gets ahead of or behind the checkpoint.
/// Reads take the latest version of each key, with the checkpoint, in one snapshot.
/// </summary>
internal static class AaveV3StateSql
{
    /// <summary>Versioned tables a rollback trims above the ancestor, like the fact tables.</summary>
    public static readonly string[] Tables = ["aave_reserve_states", "aave_emode_states", "aave_user_states", "aave_user_balances"];

    /// <summary>Rows per insert statement: well under SQLite's parameter limit with the widest table (17 columns).</summary>
    private const int RowsPerStatement = 200;

    public static readonly Dialect Postgres = new(
        v => Columns.Checked(v, "value"),
        b => b,
        (r, i) => r.GetFieldValue<BigInteger>(i),
        (r, i) => r.GetBoolean(i));

    public static readonly Dialect Sqlite = new(
        v => Columns.ToText(v, "value"),
        b => b ? 1L : 0L,
        (r, i) => Columns.FromText(r.GetString(i)),
        (r, i) => r.GetInt64(i) != 0);

    private static readonly Table<AaveV3ReserveRow> Reserves = new(
        "aave_reserve_states", ["asset", "block_number"],
        [
            ("asset", (r, _) => r.Asset.Value), ("block_number", (r, _) => r.Block.Number), ("block_hash", (r, _) => r.Block.Hash),
            ("reserve_id", (r, _) => r.ReserveId), ("a_token", (r, _) => r.AToken.Value), ("stable_debt_token", (r, _) => r.StableDebtToken.Value),
            ("variable_debt_token", (r, _) => r.VariableDebtToken.Value), ("dropped", (r, d) => d.Bool(r.Dropped)),
            ("configuration", (r, d) => d.Big(r.Configuration)), ("liquidity_index", (r, d) => d.Big(r.LiquidityIndex)),
            ("liquidity_rate", (r, d) => d.Big(r.LiquidityRate)), ("variable_borrow_index", (r, d) => d.Big(r.VariableBorrowIndex)),
            ("variable_borrow_rate", (r, d) => d.Big(r.VariableBorrowRate)), ("last_update_timestamp", (r, _) => r.LastUpdateTimestamp),
            ("price", (r, d) => r.Price is { } p ? d.Big(p) : DBNull.Value), ("price_reason", (r, _) => (object?)r.PriceReason ?? DBNull.Value),
        ]);

    private static readonly Table<AaveV3EModeRow> EModes = new(
        "aave_emode_states", ["category_id", "block_number"],
        [
            ("category_id", (r, _) => r.CategoryId), ("block_number", (r, _) => r.Block.Number), ("block_hash", (r, _) => r.Block.Hash),
            ("ltv", (r, _) => r.Ltv), ("liquidation_threshold", (r, _) => r.LiquidationThreshold), ("liquidation_bonus", (r, _) => r.LiquidationBonus),
            ("price_source", (r, _) => r.PriceSource.Value), ("price", (r, d) => r.Price is { } p ? d.Big(p) : DBNull.Value),
            ("price_reason", (r, _) => (object?)r.PriceReason ?? DBNull.Value),
        ]);

    private static readonly Table<AaveV3UserRow> Users = new(
        "aave_user_states", ["account", "block_number"],
        [
            ("account", (r, _) => r.User.Value), ("block_number", (r, _) => r.Block.Number), ("block_hash", (r, _) => r.Block.Hash),
            ("configuration", (r, d) => d.Big(r.Configuration)), ("emode", (r, _) => r.EModeCategory),
        ]);

    private static readonly Table<AaveV3BalanceRow> Balances = new(
        "aave_user_balances", ["account", "reserve_id", "block_number"],
        [
            ("account", (r, _) => r.User.Value), ("reserve_id", (r, _) => r.ReserveId), ("block_number", (r, _) => r.Block.Number),
            ("block_hash", (r, _) => r.Block.Hash), ("scaled_a_balance", (r, d) => d.Big(r.ScaledATokenBalance)),
            ("scaled_variable_debt", (r, d) => d.Big(r.ScaledVariableDebt)), ("stable_principal", (r, d) => d.Big(r.StablePrincipal)),
            ("stable_rate", (r, d) => d.Big(r.StableRate)), ("stable_timestamp", (r, _) => r.StableLastUpdated),
        ]);

    /// <summary>The upserts of a batch's Aave changes, ready to run in its transaction (none when it has none).</summary>
    public static List<DbCommand> Commands(DbConnection connection, DbTransaction transaction, ChainBatch batch, Dialect dialect)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var commands = new List<DbCommand>();
        foreach (var change in batch.VenueStates.OfType<AaveV3StateChange>())
        {
            if (change.Chain != batch.Chain)
            {
                throw new ArgumentException($"Aave V3 state of chain {change.Chain} in a batch of chain {batch.Chain}", nameof(batch));
            }

            var blocks = change.Reserves.Select(r => r.Block).Concat(change.EModes.Select(e => e.Block))
                .Concat(change.Users.Select(u => u.Block)).Concat(change.Balances.Select(b => b.Block));
            foreach (var block in blocks)
            {
                if (block.Chain != batch.Chain || block.Number > batch.Checkpoint.Number)
                {
                    throw new ArgumentException($"Aave V3 state at {block} is not on chain {batch.Chain} at or below the checkpoint {batch.Checkpoint.Number}", nameof(batch));
                }
            }

            var chain = Columns.ToColumn(change.Chain);
            commands.AddRange(Reserves.Upserts(connection, transaction, chain, change.Reserves, dialect));
            commands.AddRange(EModes.Upserts(connection, transaction, chain, change.EModes, dialect));
            commands.AddRange(Users.Upserts(connection, transaction, chain, change.Users, dialect));
            commands.AddRange(Balances.Upserts(connection, transaction, chain, change.Balances, dialect));
        }

        return commands;
    }

    /// <summary>Runs the batch's Aave upserts in the commit transaction (PostgreSQL: async).</summary>
    public static async Task WriteAsync(DbConnection connection, DbTransaction transaction, ChainBatch batch, Dialect dialect, CancellationToken cancellationToken)
    {
        foreach (var command in Commands(connection, transaction, batch, dialect))
        {
            await using (command.ConfigureAwait(false))
            {
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Runs the batch's Aave upserts in the commit transaction (SQLite: its writes are synchronous).</summary>
    public static void Write(DbConnection connection, DbTransaction transaction, ChainBatch batch, Dialect dialect)
    {
        foreach (var command in Commands(connection, transaction, batch, dialect))
        {
            using (command)
            {
                command.ExecuteNonQuery();
            }
        }
    }

    /// <summary>
    /// The checkpoint and the latest version of every row of the chain, read inside <paramref name="transaction"/> (one
    /// snapshot); with <paramref name="since"/> only the rows whose latest version is newer than it (null when
    /// <paramref name="since"/> is not the stored block at its height any more).
    /// </summary>
    public static async Task<AaveV3StoredState?> LoadAsync(
        DbConnection connection, DbTransaction transaction, ChainId chain, Dialect dialect, BlockRef? since, CancellationToken cancellationToken)
    {
        var column = Columns.ToColumn(chain);
        if (since is { } from)
        {
            // The same hash at the same height means no rollback went below it: every row version at or below it is
            // still there, and nothing at or below it can have changed since.
            var stored = await QueryAsync(
                connection, transaction, column, $"select hash from blocks where chain_id = @chain and number = {from.Number.ToString(CultureInfo.InvariantCulture)}",
                r => r.GetString(0), cancellationToken).ConfigureAwait(false);
            if (stored.Count != 1 || !string.Equals(stored[0], from.Hash, StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }
        }

        var after = since is { } s ? s.Number.ToString(CultureInfo.InvariantCulture) : null;
        var head = await QueryAsync(
            connection, transaction, column,
            """
            select c.block_number, c.block_hash, b.timestamp from chain_checkpoints c
            left join blocks b on b.chain_id = c.chain_id and b.number = c.block_number
            where c.chain_id = @chain
            """,
            r => (Checkpoint: new BlockRef(chain, r.GetInt64(0), r.GetString(1)), Timestamp: r.IsDBNull(2) ? (long?)null : r.GetInt64(2)),
            cancellationToken).ConfigureAwait(false);
        var reserves = await QueryAsync(
            connection, transaction, column,
            Latest(Reserves, ["asset"], "reserve_id, a_token, stable_debt_token, variable_debt_token, dropped, configuration, liquidity_index, liquidity_rate, variable_borrow_index, variable_borrow_rate, last_update_timestamp, price, price_reason", after),
            r => new AaveV3ReserveRow(
                EvmAddress.Parse(r.GetString(0)), r.GetInt32(3), EvmAddress.Parse(r.GetString(4)), EvmAddress.Parse(r.GetString(5)), EvmAddress.Parse(r.GetString(6)),
                dialect.ReadBool(r, 7), dialect.ReadBig(r, 8), dialect.ReadBig(r, 9), dialect.ReadBig(r, 10), dialect.ReadBig(r, 11), dialect.ReadBig(r, 12),
                r.GetInt64(13), r.IsDBNull(14) ? null : dialect.ReadBig(r, 14), r.IsDBNull(15) ? null : r.GetString(15),
                new BlockRef(chain, r.GetInt64(1), r.GetString(2))),
            cancellationToken).ConfigureAwait(false);
        var eModes = await QueryAsync(
            connection, transaction, column,
            Latest(EModes, ["category_id"], "ltv, liquidation_threshold, liquidation_bonus, price_source, price, price_reason", after),
            r => new AaveV3EModeRow(
                r.GetInt32(0), r.GetInt32(3), r.GetInt32(4), r.GetInt32(5), EvmAddress.Parse(r.GetString(6)),
                r.IsDBNull(7) ? null : dialect.ReadBig(r, 7), r.IsDBNull(8) ? null : r.GetString(8), new BlockRef(chain, r.GetInt64(1), r.GetString(2))),
            cancellationToken).ConfigureAwait(false);
        var users = await QueryAsync(
            connection, transaction, column,
            Latest(Users, ["account"], "configuration, emode", after),
            r => new AaveV3UserRow(EvmAddress.Parse(r.GetString(0)), dialect.ReadBig(r, 3), r.GetInt32(4), new BlockRef(chain, r.GetInt64(1), r.GetString(2))),
            cancellationToken).ConfigureAwait(false);
        var balances = await QueryAsync(
            connection, transaction, column,
            Latest(Balances, ["account", "reserve_id"], "reserve_id, scaled_a_balance, scaled_variable_debt, stable_principal, stable_rate, stable_timestamp", after),
            r => new AaveV3BalanceRow(
                EvmAddress.Parse(r.GetString(0)), r.GetInt32(3), dialect.ReadBig(r, 4), dialect.ReadBig(r, 5), dialect.ReadBig(r, 6), dialect.ReadBig(r, 7),
                r.GetInt64(8), new BlockRef(chain, r.GetInt64(1), r.GetString(2))),
            cancellationToken).ConfigureAwait(false);
        var checkpoint = head.Count == 0 ? ((BlockRef?)null, (long?)null) : (head[0].Checkpoint, head[0].Timestamp);
        return new AaveV3StoredState(
            chain, checkpoint.Item1, checkpoint.Item2,
            [.. reserves.OrderBy(r => r.ReserveId).ThenBy(r => r.Asset)],
            [.. eModes.OrderBy(e => e.CategoryId)],
            [.. users.OrderBy(u => u.User)],
            [.. balances.OrderBy(b => b.User).ThenBy(b => b.ReserveId)]);
    }

    /// <summary>
    /// The latest version per key. The key's first column is selected first, then block_number and block_hash, then
    /// <paramref name="columns"/>; a portable correlated max (both dialects), served by the primary key index.
    /// </summary>
    private static string Latest<T>(Table<T> table, string[] keys, string columns, string? after)
    {
        var match = string.Join(" and ", keys.Select(k => $"b.{k} = a.{k}"));
        var selected = string.Join(", ", columns.Split(',', StringSplitOptions.TrimEntries).Select(c => "a." + c));
        return $"""
            select a.{keys[0]}, a.block_number, a.block_hash, {selected} from {table.Name} a
            where a.chain_id = @chain
              and a.block_number = (select max(b.block_number) from {table.Name} b where b.chain_id = a.chain_id and {match})
            {(after is null ? "" : "and a.block_number > " + after)}
            """;
    }

    private static async Task<List<T>> QueryAsync<T>(
        DbConnection connection, DbTransaction transaction, long chain, string sql, Func<DbDataReader, T> read, CancellationToken cancellationToken)
    {
        var command = connection.CreateCommand();
        await using (command.ConfigureAwait(false))
        {
            command.Transaction = transaction;
            command.CommandText = sql;
            var parameter = command.CreateParameter();
            parameter.ParameterName = "chain";
            parameter.Value = chain;
            command.Parameters.Add(parameter);
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                var rows = new List<T>();
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    rows.Add(read(reader));
                }

                return rows;
            }
        }
    }

    /// <summary>How one store writes and reads big integers and booleans.</summary>
    internal sealed record Dialect(
        Func<BigInteger, object> Big, Func<bool, object> Bool, Func<DbDataReader, int, BigInteger> ReadBig, Func<DbDataReader, int, bool> ReadBool);

    private sealed class Table<T>(string name, string[] key, (string Column, Func<T, Dialect, object> Value)[] columns)
    {
        public string Name => name;

        public IEnumerable<DbCommand> Upserts(DbConnection connection, DbTransaction transaction, long chain, IReadOnlyList<T> rows, Dialect dialect)
        {
            // One row per key in one statement: an upsert may not touch a row twice, and the last version given wins.
            var distinct = rows.GroupBy(r => string.Join("|", key.Select(k => Convert.ToString(columns.First(c => c.Column == k).Value(r, dialect), CultureInfo.InvariantCulture))))
                .Select(g => g.Last()).ToList();
            foreach (var chunk in distinct.Chunk(RowsPerStatement))
            {
                var command = connection.CreateCommand();
                command.Transaction = transaction;
                var sql = new StringBuilder();
                sql.Append(CultureInfo.InvariantCulture, $"insert into {name} (chain_id, {string.Join(", ", columns.Select(c => c.Column))}) values ");
                for (var i = 0; i < chunk.Length; i++)
                {
                    sql.Append(i == 0 ? "(" : ", (").Append("@chain");
                    for (var j = 0; j < columns.Length; j++)
                    {
                        var parameter = command.CreateParameter();
                        parameter.ParameterName = string.Create(CultureInfo.InvariantCulture, $"p{i}_{j}");
                        parameter.Value = columns[j].Value(chunk[i], dialect);
                        command.Parameters.Add(parameter);
                        sql.Append(", @").Append(parameter.ParameterName);
                    }

                    sql.Append(')');
                }

                var chainParameter = command.CreateParameter();
                chainParameter.ParameterName = "chain";
                chainParameter.Value = chain;
                command.Parameters.Add(chainParameter);
                var updates = columns.Select(c => c.Column).Where(c => !key.Contains(c)).Select(c => $"{c} = excluded.{c}");
                sql.Append(CultureInfo.InvariantCulture, $" on conflict (chain_id, {string.Join(", ", key)}) do update set {string.Join(", ", updates)}");
                command.CommandText = sql.ToString();
                yield return command;
            }
        }
    }
}
