using ChainMargin.Storage.Postgres;
using ChainMargin.Testing;
using Npgsql;
using Xunit;

namespace ChainMargin.Storage.Tests;

/// <summary>One database for the PostgreSQL suite; each test gets its own schema in it.</summary>
public sealed class PostgresDatabaseFixture : IAsyncLifetime
{
    private PostgresDatabase? _database;

    public PostgresDatabase Database => _database ?? throw new InvalidOperationException("no database");

    public async Task InitializeAsync() => _database = await PostgresDatabase.CreateAsync("cm_store");

    public async Task DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }
}

/// <summary>The repository suite against PostgreSQL, a fresh schema per test.</summary>
public sealed class PostgresChainStoreTests(PostgresDatabaseFixture fixture) : ChainStoreContract, IClassFixture<PostgresDatabaseFixture>
{
    private PostgresSchema? _schema;

    protected override string StoreName => "postgres";

    private PostgresSchema Schema => _schema ?? throw new InvalidOperationException("no schema");

    protected override async Task CreateDatabaseAsync() => _schema = await PostgresSchema.CreateAsync(fixture.Database, "store");

    protected override async Task DropDatabaseAsync()
    {
        if (_schema is { } schema)
        {
            _schema = null;
            await schema.DisposeAsync();
        }
    }

    protected override SqlChainStore OpenStore() => new PostgresChainStore(Schema.ConnectionString, TimeProvider.System);

    protected override async Task<long> CountRowsAsync(string table)
    {
        await using var connection = new NpgsqlConnection(Schema.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"select count(*) from {table}", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
