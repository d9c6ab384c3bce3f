using System.Data;
using System.Globalization;
using ChainMargin.Core;

namespace ChainMargin.Storage.Webhooks;

/// <summary>Sampled headline health per account, on the webhook store's connection (same SQL on both stores).</summary>
public sealed class SqlHealthSampleStore : IHealthSampleStore
{
    private const int RowsPerStatement = 500;
    private readonly SqlWebhookStore _connections;

    public SqlHealthSampleStore(SqlWebhookStore connections) => _connections = connections;

    public async Task AddSamplesAsync(IReadOnlyList<HealthSample> samples, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (samples.Count == 0)
        {
            return;
        }

        var connection = await _connections.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                // Multi-row inserts: one round trip per chunk rather than per sample.
                foreach (var chunk in samples.Chunk(RowsPerStatement))
                {
                    var command = connection.CreateCommand();
                    await using (command.ConfigureAwait(false))
                    {
                        command.Transaction = transaction;
                        var values = new List<string>(chunk.Length);
                        for (var i = 0; i < chunk.Length; i++)
                        {
                            var sample = chunk[i];
                            values.Add(string.Create(CultureInfo.InvariantCulture, $"(@a{i}, @t{i}, @h{i}, @s{i})"));
                            Add(command, "@a" + i.ToString(CultureInfo.InvariantCulture), sample.Account.Value, DbType.String);
                            Add(command, "@t" + i.ToString(CultureInfo.InvariantCulture), Columns.ToMicroseconds(sample.At), DbType.Int64);
                            Add(command, "@h" + i.ToString(CultureInfo.InvariantCulture), sample.Health is { } h ? Columns.ToText(h) : null, DbType.String);
                            Add(command, "@s" + i.ToString(CultureInfo.InvariantCulture), sample.State, DbType.String);
                        }

                        command.CommandText = "insert into account_health_samples (account, at_us, health, state) values " + string.Join(", ", values);
                        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    }
                }

                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public async Task<IReadOnlyList<HealthSample>> GetSamplesAsync(
        EvmAddress account, DateTimeOffset? since, DateTimeOffset? until, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var connection = await _connections.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = connection.CreateCommand();
            await using (command.ConfigureAwait(false))
            {
                command.CommandText =
                    "select at_us, health, state from account_health_samples where account = @account and at_us >= @from and at_us <= @to " +
                    "order by at_us desc, id desc limit @limit";
                Add(command, "@account", account.Value, DbType.String);
                Add(command, "@from", since is { } f ? Columns.ToMicroseconds(f) : long.MinValue, DbType.Int64);
                Add(command, "@to", until is { } t ? Columns.ToMicroseconds(t) : long.MaxValue, DbType.Int64);
                Add(command, "@limit", limit, DbType.Int32);
                var rows = new List<HealthSample>();
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        rows.Add(new HealthSample(
                            account,
                            Columns.FromMicroseconds(Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture)),
                            reader.IsDBNull(1) ? null : Columns.DecimalFromText(reader.GetString(1)),
                            reader.GetString(2)));
                    }
                }

                rows.Reverse();
                return rows;
            }
        }
    }

    public async Task<long> PruneAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        var connection = await _connections.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = connection.CreateCommand();
            await using (command.ConfigureAwait(false))
            {
                command.CommandText = "delete from account_health_samples where at_us < @before";
                Add(command, "@before", Columns.ToMicroseconds(before), DbType.Int64);
                return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static void Add(System.Data.Common.DbCommand command, string name, object? value, DbType type)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.DbType = type;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
    }
}

/// <summary>Builds the webhook store (and the health samples on its connections) for the configured storage provider.</summary>
public static class WebhookStoreFactory
{
    public static SqlWebhookStore Create(StorageOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        return string.Equals(options.Provider, StorageOptions.Postgres, StringComparison.OrdinalIgnoreCase)
            ? new PostgresWebhookStore(options.ConnectionString, time)
            : new SqliteWebhookStore(options.ConnectionString, time);
    }
}
