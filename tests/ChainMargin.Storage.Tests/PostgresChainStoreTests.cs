using ChainMargin.Storage.Postgres;
using ChainMargin.Testing;
using Npgsql;

namespace ChainMargin.Storage.Tests;

/// <summary>The repository suite against PostgreSQL, a fresh database per test.</summary>
public sealed class PostgresChainStoreTests : ChainStoreContract
{
    private PostgresDatabase? _database;

    protected override string StoreName => "postgres";

    private PostgresDatabase Database => _database ?? throw new InvalidOperationException("no database");

    protected override async Task CreateDatabaseAsync() => _database = await PostgresDatabase.CreateAsync("cm_store");

    protected override async Task DropDatabaseAsync()
    {
        if (_database is { } database)
        {
            _database = null;
            await database.DisposeAsync();
        }
    }

    protected override SqlChainStore OpenStore() => new PostgresChainStore(Database.ConnectionString, TimeProvider.System);

    protected override async Task<long> CountRowsAsync(string table)
    {
        await using var connection = new NpgsqlConnection(Database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"select count(*) from {table}", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
