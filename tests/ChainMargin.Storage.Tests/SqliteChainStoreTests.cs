using ChainMargin.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace ChainMargin.Storage.Tests;

/// <summary>The repository suite against SQLite, a fresh file per test.</summary>
public sealed class SqliteChainStoreTests : ChainStoreContract
{
    private string? _path;

    protected override string StoreName => "sqlite";

    private string ConnectionString => $"Data Source={_path ?? throw new InvalidOperationException("no database")}";

    protected override Task CreateDatabaseAsync()
    {
        _path = Path.Combine(Path.GetTempPath(), $"chainmargin-store-{Guid.NewGuid():N}.db");
        return Task.CompletedTask;
    }

    protected override Task DropDatabaseAsync()
    {
        if (_path is { } path)
        {
            _path = null;
            SqliteConnection.ClearAllPools();
            foreach (var file in new[] { path, path + "-wal", path + "-shm" })
            {
                File.Delete(file);
            }
        }

        return Task.CompletedTask;
    }

    protected override SqlChainStore OpenStore() => new SqliteChainStore(ConnectionString, TimeProvider.System);

    protected override async Task<long> CountRowsAsync(string table)
    {
        await using var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"select count(*) from {table}";
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
