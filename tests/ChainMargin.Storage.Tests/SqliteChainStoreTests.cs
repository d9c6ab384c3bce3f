using ChainMargin.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace ChainMargin.Storage.Tests;

/// <summary>The repository suite against SQLite, a fresh file per test.</summary>
public sealed class SqliteChainStoreTests : ChainStoreContract
{
    private readonly SqliteTestFile _file = new("store");

    protected override string StoreName => "sqlite";

    private string ConnectionString => _file.ConnectionString;

    protected override Task CreateDatabaseAsync() => _file.CreateAsync();

    protected override Task DropDatabaseAsync() => _file.DeleteAsync();

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
