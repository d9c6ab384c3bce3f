using System.Data.Common;
using ChainMargin.Core;
using Microsoft.Data.Sqlite;

namespace ChainMargin.Storage.Webhooks;

/// <summary>
/// Webhook subscriptions and outbox in the embedded SQLite file, beside the chain store's account states. Writes are
/// IMMEDIATE transactions on their own connection; a writer waits for the chain store's commits instead of failing.
/// </summary>
public sealed class SqliteWebhookStore : SqlWebhookStore
{
    private readonly string _connectionString;

    public SqliteWebhookStore(string connectionString, TimeProvider time)
        : base(time) =>
        _connectionString = new SqliteConnectionStringBuilder(connectionString) { Pooling = true, DefaultTimeout = 30 }.ConnectionString;

    protected internal override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        return connection;
    }

    protected override async Task<(bool Changed, string? From)> RecordStateAsync(
        DbConnection connection, DbTransaction transaction, AccountStateRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        string? previous;
        var select = connection.CreateCommand();
        await using (select.ConfigureAwait(false))
        {
            select.Transaction = transaction;
            select.CommandText = "select state from account_states where account = @account";
            select.Parameters.Add(new SqliteParameter("@account", record.Account.Value));
            previous = await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
        }

        if (string.Equals(previous, record.State, StringComparison.Ordinal))
        {
            return (false, previous);
        }

        // The transaction is IMMEDIATE (it holds the write lock from its start), so the state read above cannot change.
        foreach (var sql in new[]
                 {
                     """
                     insert into account_states (account, state, health, reason, block_vector, at)
                     values (@account, @state, @health, @reason, @block_vector, @at)
                     on conflict (account) do update
                     set state = excluded.state, health = excluded.health, reason = excluded.reason,
                         block_vector = excluded.block_vector, at = excluded.at
                     """,
                     """
                     insert into account_state_history (account, state, health, reason, block_vector, at)
                     values (@account, @state, @health, @reason, @block_vector, @at)
                     """,
                 })
        {
            var command = connection.CreateCommand();
            await using (command.ConfigureAwait(false))
            {
                command.Transaction = transaction;
                command.CommandText = sql;
                command.Parameters.Add(new SqliteParameter("@account", record.Account.Value));
                command.Parameters.Add(new SqliteParameter("@state", record.State));
                command.Parameters.Add(new SqliteParameter("@health", record.Health is { } h ? Columns.ToText(h) : DBNull.Value));
                command.Parameters.Add(new SqliteParameter("@reason", record.Reason));
                command.Parameters.Add(new SqliteParameter("@block_vector", record.BlockVector));
                command.Parameters.Add(new SqliteParameter("@at", Columns.ToMicroseconds(record.At)));
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        return (true, previous);
    }
}
