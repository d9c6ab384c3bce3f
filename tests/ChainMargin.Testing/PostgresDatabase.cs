using System.Globalization;
using Npgsql;

namespace ChainMargin.Testing;

/// <summary>
/// A fresh, uniquely named database on the test PostgreSQL server, dropped on dispose. The server comes from env
/// CHAINMARGIN_PG (default Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres). An unreachable server fails
/// the test with a message saying how to start one: a storage test that silently skips proves nothing.
/// </summary>
public sealed class PostgresDatabase : IAsyncDisposable
{
    public const string EnvironmentVariable = "CHAINMARGIN_PG";

    public const string DefaultServer = "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres";

    private readonly string _adminConnectionString;

    private PostgresDatabase(string adminConnectionString, string name, string connectionString)
    {
        _adminConnectionString = adminConnectionString;
        Name = name;
        ConnectionString = connectionString;
    }

    public string Name { get; }

    /// <summary>A connection string to the new database.</summary>
    public string ConnectionString { get; }

    /// <summary>The server's connection string (env CHAINMARGIN_PG or the local default), without a database.</summary>
    public static string ServerConnectionString =>
        Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : DefaultServer;

    public static async Task<PostgresDatabase> CreateAsync(string prefix = "cm_test")
    {
        var server = new NpgsqlConnectionStringBuilder(ServerConnectionString);
        var admin = new NpgsqlConnectionStringBuilder(server.ConnectionString) { Database = "postgres", Pooling = false };
        var name = string.Create(CultureInfo.InvariantCulture, $"{prefix}_{Guid.NewGuid():N}").ToLowerInvariant();
        try
        {
            await using var connection = new NpgsqlConnection(admin.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"create database \"{name}\"", connection);
            await command.ExecuteNonQueryAsync();
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
        {
            throw new InvalidOperationException(
                $"PostgreSQL is not reachable at Host={server.Host};Port={server.Port};Username={server.Username} " +
                $"({e.Message}). Start it with scripts/ensure-postgres.sh or point {EnvironmentVariable} at a server.",
                e);
        }

        var database = new NpgsqlConnectionStringBuilder(server.ConnectionString) { Database = name };
        return new PostgresDatabase(admin.ConnectionString, name, database.ConnectionString);
    }

    public async ValueTask DisposeAsync()
    {
        await using var connection = new NpgsqlConnection(_adminConnectionString);
        await connection.OpenAsync();

        // FORCE ends sessions still open on it (pooled connections of the code under test).
        await using var command = new NpgsqlCommand($"drop database if exists \"{Name}\" with (force)", connection);
        await command.ExecuteNonQueryAsync();
    }
}
