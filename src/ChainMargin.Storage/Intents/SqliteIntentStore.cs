using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace ChainMargin.Storage.Intents;

/// <summary>The intent table in the embedded SQLite file (one process; the guarded updates still hold across threads).</summary>
public sealed class SqliteIntentStore : SqlIntentStore
{
    private readonly string _connectionString;

    public SqliteIntentStore(string connectionString, TimeProvider time)
        : base(time) =>
        // A writer waits for the chain store's write transactions instead of failing with SQLITE_BUSY.
        _connectionString = new SqliteConnectionStringBuilder(connectionString) { Pooling = true, DefaultTimeout = 30 }.ConnectionString;

    protected override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        return connection;
    }
}

/// <summary>Builds the intent store for the configured storage provider.</summary>
public static class IntentStoreFactory
{
    public static SqlIntentStore Create(StorageOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        return string.Equals(options.Provider, StorageOptions.Postgres, StringComparison.OrdinalIgnoreCase)
            ? new PostgresIntentStore(options.ConnectionString, time)
            : new SqliteIntentStore(options.ConnectionString, time);
    }
}
