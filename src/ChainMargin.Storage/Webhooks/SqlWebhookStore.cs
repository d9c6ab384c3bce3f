using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using ChainMargin.Core;

namespace ChainMargin.Storage.Webhooks;

/// <summary>
/// Webhook subscriptions and the outbox on PostgreSQL or SQLite. The tables use the same column types on both
/// (times in microseconds, health as decimal text), so only the account-state write, which shares the chain store's
/// tables, differs per store. The outbox is at-least-once: a delivery is claimed for one attempt at a time by a
/// compare-and-set update, and the claim expires, so an attempt lost with its process is retried by the next one.
/// </summary>
public abstract class SqlWebhookStore : IWebhookStore
{
    private const string DeliveryColumns =
        "id, subscription_id, event_id, account, from_state, to_state, health, methods, reason, block_vector, occurred_us, status, " +
        "attempts, last_status_code, last_error, last_attempt_us, next_attempt_us, delivered_us, created_us";

    private const string SubscriptionColumns = "id, url, secret, states, enabled, description, created_us";

    private static readonly JsonSerializerOptions MethodsJson = new(JsonSerializerDefaults.Web);

    protected SqlWebhookStore(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        Time = time;
    }

    protected TimeProvider Time { get; }

    /// <summary>An open connection to the store's database.</summary>
    protected internal abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Inside <paramref name="transaction"/>: writes the state when it differs from the current one (current row and
    /// history, exactly as the chain store does) and returns whether it changed and the state it changed from.
    /// </summary>
    protected abstract Task<(bool Changed, string? From)> RecordStateAsync(
        DbConnection connection, DbTransaction transaction, AccountStateRecord record, CancellationToken cancellationToken);

    public async Task<WebhookSubscription> AddSubscriptionAsync(NewWebhookSubscription subscription, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = connection.CreateCommand();
            await using (command.ConfigureAwait(false))
            {
                command.CommandText =
                    "insert into webhook_subscriptions (url, secret, states, enabled, description, created_us) " +
                    "values (@url, @secret, @states, @enabled, @description, @now) returning " + SubscriptionColumns;
                Add(command, "@url", subscription.Url.AbsoluteUri, DbType.String);
                Add(command, "@secret", subscription.Secret, DbType.String);
                Add(command, "@states", StatesColumn(subscription.States), DbType.String);
                Add(command, "@enabled", subscription.Enabled ? 1 : 0, DbType.Int32);
                Add(command, "@description", subscription.Description, DbType.String);
                Add(command, "@now", Columns.ToMicroseconds(Time.GetUtcNow()), DbType.Int64);
                var rows = await ReadAllAsync(command, ReadSubscription, cancellationToken).ConfigureAwait(false);
                return rows[0];
            }
        }
    }

    public async Task<IReadOnlyList<WebhookSubscription>> GetSubscriptionsAsync(CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = connection.CreateCommand();
            await using (command.ConfigureAwait(false))
            {
                command.CommandText = "select " + SubscriptionColumns + " from webhook_subscriptions order by id";
                return await ReadAllAsync(command, ReadSubscription, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public async Task<WebhookSubscription?> UpdateSubscriptionAsync(long id, WebhookSubscriptionChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = connection.CreateCommand();
            await using (command.ConfigureAwait(false))
            {
                command.CommandText =
                    "update webhook_subscriptions set url = coalesce(@url, url), secret = coalesce(@secret, secret), " +
                    "states = coalesce(@states, states), enabled = coalesce(@enabled, enabled), " +
                    "description = case when @description_given = 1 then @description else description end " +
                    "where id = @id returning " + SubscriptionColumns;
                Add(command, "@url", change.Url?.AbsoluteUri, DbType.String);
                Add(command, "@secret", change.Secret, DbType.String);
                Add(command, "@states", change.States is null ? null : StatesColumn(change.States), DbType.String);
                Add(command, "@enabled", change.Enabled is { } enabled ? (enabled ? 1 : 0) : null, DbType.Int32);
                Add(command, "@description_given", change.Description is null ? 0 : 1, DbType.Int32);
                Add(command, "@description", string.IsNullOrEmpty(change.Description) ? null : change.Description, DbType.String);
                Add(command, "@id", id, DbType.Int64);
                var rows = await ReadAllAsync(command, ReadSubscription, cancellationToken).ConfigureAwait(false);
                return rows.Count == 0 ? null : rows[0];
            }
        }
    }

    public async Task<bool> DeleteSubscriptionAsync(long id, CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                await ExecuteAsync(connection, transaction, "delete from webhook_deliveries where subscription_id = @id", c => Add(c, "@id", id, DbType.Int64), cancellationToken).ConfigureAwait(false);
                var deleted = await ExecuteAsync(connection, transaction, "delete from webhook_subscriptions where id = @id", c => Add(c, "@id", id, DbType.Int64), cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return deleted > 0;
            }
        }
    }

    public async Task<RecordedChange> RecordAccountStateAsync(AccountObservation observation, Guid eventId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(observation);
        var record = observation.Record;
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            // Most recomputes change nothing: a read settles them without taking a write lock. A change is checked
            // again inside the transaction, so a state moved meanwhile by another process is still compared right.
            var current = connection.CreateCommand();
            await using (current.ConfigureAwait(false))
            {
                current.CommandText = "select state from account_states where account = @account";
                Add(current, "@account", record.Account.Value, DbType.String);
                if (await current.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is string state &&
                    string.Equals(state, record.State, StringComparison.Ordinal))
                {
                    return RecordedChange.Unchanged;
                }
            }

            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                var (changed, from) = await RecordStateAsync(connection, transaction, record, cancellationToken).ConfigureAwait(false);
                if (!changed)
                {
                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                    return RecordedChange.Unchanged;
                }

                var command = connection.CreateCommand();
                await using (command.ConfigureAwait(false))
                {
                    command.Transaction = transaction;
                    command.CommandText =
                        """
                        insert into webhook_deliveries (subscription_id, event_id, account, from_state, to_state, health, methods, reason,
                            block_vector, occurred_us, status, attempts, next_attempt_us, created_us)
                        select id, @event_id, @account, @from_state, @to_state, @health, @methods, @reason,
                            @block_vector, @occurred, 'pending', 0, @now, @now
                        from webhook_subscriptions
                        where enabled = 1 and (states = '' or states like @pattern)
                        returning id
                        """;
                    Add(command, "@event_id", eventId.ToString("D"), DbType.String);
                    Add(command, "@account", record.Account.Value, DbType.String);
                    Add(command, "@from_state", from, DbType.String);
                    Add(command, "@to_state", record.State, DbType.String);
                    Add(command, "@health", record.Health is { } h ? Columns.ToText(h) : null, DbType.String);
                    Add(command, "@methods", JsonSerializer.Serialize(observation.Methods, MethodsJson), DbType.String);
                    Add(command, "@reason", record.Reason, DbType.String);
                    Add(command, "@block_vector", record.BlockVector, DbType.String);
                    Add(command, "@occurred", Columns.ToMicroseconds(record.At), DbType.Int64);
                    Add(command, "@now", Columns.ToMicroseconds(Time.GetUtcNow()), DbType.Int64);
                    Add(command, "@pattern", "%," + record.State + ",%", DbType.String);
                    var ids = await ReadAllAsync(command, r => Convert.ToInt64(r.GetValue(0), CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false);
                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                    return new RecordedChange(true, from, ids);
                }
            }
        }
    }

    public async Task<IReadOnlyList<long>> GetDueDeliveriesAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = connection.CreateCommand();
            await using (command.ConfigureAwait(false))
            {
                command.CommandText =
                    "select id from webhook_deliveries where status = 'pending' and next_attempt_us <= @now " +
                    "and (locked_until_us is null or locked_until_us < @now) order by id limit @limit";
                Add(command, "@now", Columns.ToMicroseconds(now), DbType.Int64);
                Add(command, "@limit", limit, DbType.Int32);
                return await ReadAllAsync(command, r => Convert.ToInt64(r.GetValue(0), CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public async Task<ClaimedDelivery?> TryClaimAsync(long deliveryId, DateTimeOffset now, DateTimeOffset lockedUntil, CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            WebhookDelivery? delivery;
            var claim = connection.CreateCommand();
            await using (claim.ConfigureAwait(false))
            {
                // One statement: of two jobs racing for the same delivery (a retry and the outbox sweep), one wins.
                claim.CommandText =
                    "update webhook_deliveries set attempts = attempts + 1, last_attempt_us = @now, locked_until_us = @until " +
                    "where id = @id and status = 'pending' and next_attempt_us <= @now and (locked_until_us is null or locked_until_us < @now) " +
                    "returning " + DeliveryColumns;
                Add(claim, "@id", deliveryId, DbType.Int64);
                Add(claim, "@now", Columns.ToMicroseconds(now), DbType.Int64);
                Add(claim, "@until", Columns.ToMicroseconds(lockedUntil), DbType.Int64);
                var rows = await ReadAllAsync(claim, ReadDelivery, cancellationToken).ConfigureAwait(false);
                delivery = rows.Count == 0 ? null : rows[0];
            }

            if (delivery is null)
            {
                return null;
            }

            var select = connection.CreateCommand();
            await using (select.ConfigureAwait(false))
            {
                select.CommandText = "select " + SubscriptionColumns + " from webhook_subscriptions where id = @id";
                Add(select, "@id", delivery.SubscriptionId, DbType.Int64);
                var subscriptions = await ReadAllAsync(select, ReadSubscription, cancellationToken).ConfigureAwait(false);
                return subscriptions.Count == 0 ? null : new ClaimedDelivery(delivery, subscriptions[0]);
            }
        }
    }

    public async Task CompleteAttemptAsync(long deliveryId, WebhookAttempt attempt, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        var status = attempt.Delivered ? WebhookDeliveryStates.Delivered : attempt.GiveUp ? WebhookDeliveryStates.Failed : WebhookDeliveryStates.Pending;
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            await ExecuteAsync(
                connection,
                null,
                "update webhook_deliveries set status = @status, last_status_code = @code, last_error = @error, next_attempt_us = @next, " +
                "delivered_us = @delivered, locked_until_us = null where id = @id and status = 'pending'",
                c =>
                {
                    Add(c, "@id", deliveryId, DbType.Int64);
                    Add(c, "@status", status, DbType.String);
                    Add(c, "@code", attempt.StatusCode, DbType.Int32);
                    Add(c, "@error", attempt.Error is { Length: > 1000 } e ? e[..1000] : attempt.Error, DbType.String);
                    Add(c, "@next", Columns.ToMicroseconds(attempt.NextAttemptAt), DbType.Int64);
                    Add(c, "@delivered", attempt.Delivered ? Columns.ToMicroseconds(now) : null, DbType.Int64);
                },
                cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<WebhookDelivery?> GetDeliveryAsync(long deliveryId, CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = connection.CreateCommand();
            await using (command.ConfigureAwait(false))
            {
                command.CommandText = "select " + DeliveryColumns + " from webhook_deliveries where id = @id";
                Add(command, "@id", deliveryId, DbType.Int64);
                var rows = await ReadAllAsync(command, ReadDelivery, cancellationToken).ConfigureAwait(false);
                return rows.Count == 0 ? null : rows[0];
            }
        }
    }

    public async Task<IReadOnlyList<WebhookDelivery>> GetRecentDeliveriesAsync(long? subscriptionId, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = connection.CreateCommand();
            await using (command.ConfigureAwait(false))
            {
                command.CommandText = "select " + DeliveryColumns + " from webhook_deliveries" +
                    (subscriptionId is null ? "" : " where subscription_id = @subscription") + " order by id desc limit @limit";
                if (subscriptionId is { } s)
                {
                    Add(command, "@subscription", s, DbType.Int64);
                }

                Add(command, "@limit", limit, DbType.Int32);
                return await ReadAllAsync(command, ReadDelivery, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    protected static void Add(DbCommand command, string name, object? value, DbType type)
    {
        ArgumentNullException.ThrowIfNull(command);
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.DbType = type;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
    }

    protected static async Task<int> ExecuteAsync(
        DbConnection connection, DbTransaction? transaction, string sql, Action<DbCommand> bind, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(bind);
        var command = connection.CreateCommand();
        await using (command.ConfigureAwait(false))
        {
            command.Transaction = transaction;
            command.CommandText = sql;
            bind(command);
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    protected static async Task<List<T>> ReadAllAsync<T>(DbCommand command, Func<DbDataReader, T> read, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(read);
        var rows = new List<T>();
        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                rows.Add(read(reader));
            }
        }

        return rows;
    }

    private static string StatesColumn(IReadOnlyList<string> states) =>
        states.Count == 0 ? "" : "," + string.Join(",", states.Distinct(StringComparer.Ordinal)) + ",";

    private static long Long(DbDataReader r, int i) => Convert.ToInt64(r.GetValue(i), CultureInfo.InvariantCulture);

    private static long? NullableLong(DbDataReader r, int i) => r.IsDBNull(i) ? null : Long(r, i);

    private static string? Text(DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    private static DateTimeOffset? At(DbDataReader r, int i) => NullableLong(r, i) is { } us ? Columns.FromMicroseconds(us) : null;

    private static WebhookSubscription ReadSubscription(DbDataReader r) => new(
        Long(r, 0),
        new Uri(r.GetString(1), UriKind.Absolute),
        r.GetString(2),
        r.GetString(3).Split(',', StringSplitOptions.RemoveEmptyEntries),
        Long(r, 4) != 0,
        Text(r, 5),
        Columns.FromMicroseconds(Long(r, 6)));

    private static WebhookDelivery ReadDelivery(DbDataReader r) => new(
        Long(r, 0),
        Long(r, 1),
        Guid.Parse(r.GetString(2)),
        EvmAddress.Parse(r.GetString(3)),
        Text(r, 4),
        r.GetString(5),
        Text(r, 6) is { } health ? Columns.DecimalFromText(health) : null,
        JsonSerializer.Deserialize<List<MethodHealth>>(r.GetString(7), MethodsJson) ?? [],
        r.GetString(8),
        r.GetString(9),
        Columns.FromMicroseconds(Long(r, 10)),
        r.GetString(11),
        (int)Long(r, 12),
        NullableLong(r, 13) is { } code ? (int)code : null,
        Text(r, 14),
        At(r, 15),
        Columns.FromMicroseconds(Long(r, 16)),
        At(r, 17),
        Columns.FromMicroseconds(Long(r, 18)));
}
