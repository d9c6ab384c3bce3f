using System.Data.Common;
using ChainMargin.Core;
using ChainMargin.Storage.Postgres;
using Npgsql;
using NpgsqlTypes;

namespace ChainMargin.Storage.Webhooks;

/// <summary>Webhook subscriptions and outbox on PostgreSQL, beside the chain store's account states.</summary>
public sealed class PostgresWebhookStore : SqlWebhookStore, IAsyncDisposable
{
    // The previous state is read in the same statement's snapshot, before the upsert changes it.
    private const string RecordState =
        """
        with previous as (select state from account_states where account = @account),
        changed as (
            insert into account_states as s (account, state, health, reason, block_vector, at)
            values (@account, @state, @health, @reason, @block_vector, @at)
            on conflict (account) do update
            set state = excluded.state, health = excluded.health, reason = excluded.reason,
                block_vector = excluded.block_vector, at = excluded.at
            where s.state is distinct from excluded.state
            returning account
        ),
        history as (
            insert into account_state_history (account, state, health, reason, block_vector, at)
            select @account, @state, @health, @reason, @block_vector, @at from changed
        )
        select (select state from previous) from changed
        """;

    private readonly NpgsqlDataSource _dataSource;

    public PostgresWebhookStore(string connectionString, TimeProvider time)
        : base(time) => _dataSource = NpgsqlDataSource.Create(connectionString);

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    protected internal override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    protected override async Task<(bool Changed, string? From)> RecordStateAsync(
        DbConnection connection, DbTransaction transaction, AccountStateRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        var command = new NpgsqlCommand(RecordState, (NpgsqlConnection)connection, (NpgsqlTransaction)transaction);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.AddWithValue("account", record.Account.Value);
            command.Parameters.AddWithValue("state", record.State);
            command.Parameters.Add(new NpgsqlParameter("health", NpgsqlDbType.Numeric) { Value = (object?)record.Health ?? DBNull.Value });
            command.Parameters.AddWithValue("reason", record.Reason);
            command.Parameters.AddWithValue("block_vector", record.BlockVector);
            command.Parameters.AddWithValue("at", record.At.ToUniversalTime());
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    return (false, null);
                }

                return (true, reader.IsDBNull(0) ? null : reader.GetString(0));
            }
        }
    }
}
