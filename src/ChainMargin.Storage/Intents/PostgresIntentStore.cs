using System.Data.Common;
using Npgsql;

namespace ChainMargin.Storage.Intents;

/// <summary>The intent table on PostgreSQL: the store several keeper processes share.</summary>
public sealed class PostgresIntentStore : SqlIntentStore, IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;

    public PostgresIntentStore(string connectionString, TimeProvider time)
        : base(time) => _dataSource = NpgsqlDataSource.Create(connectionString);

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    protected override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
}
