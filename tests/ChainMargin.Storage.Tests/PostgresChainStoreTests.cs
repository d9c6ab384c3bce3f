using System.Globalization;
using ChainMargin.Core;
using ChainMargin.Storage.Postgres;
using ChainMargin.Testing;
using Npgsql;
using Xunit;
using static ChainMargin.Storage.Tests.Facts;

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

    [Fact]
    public async Task CommitAsync_CollateralAtOrBelowItsKeysLastBlock_RefusedNamingTheBlocksAndNothingChanges()
    {
        await Store.CommitAsync(Batch(1, 5, [Collateral(Block(5), 0, 1, 7)]), CancellationToken.None);
        var before = await Snapshot.ReadAsync(Store, Chain);

        // Block 4 of another fork, arriving after block 5 without a rollback: its balance would break the chain of
        // previous touches a rollback reads.
        var late = new ChainBatch(Chain, [Indexed(6)], [Collateral(Block(4, "z"), 1, 1, 3)], Block(6));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Store.CommitAsync(late, CancellationToken.None));

        Assert.Contains("at block 4 is not above block 5", error.Message, StringComparison.Ordinal);
        Snapshot.AssertEqual(before, await Snapshot.ReadAsync(Store, Chain));
        Assert.Equal(Block(5), (await Store.GetCheckpointAsync(Chain, CancellationToken.None))!.Block);
    }

    [Fact]
    public async Task CommitAsync_AnotherForksFactAtAStoredHeight_RefusedNamingBothHashesAndNothingChanges()
    {
        await Store.CommitAsync(Batch(1, 3, [Collateral(Block(2), 4, 1, 7), Perp(Block(3), 0, 1, 2, 3)]), CancellationToken.None);
        var before = await Snapshot.ReadAsync(Store, Chain);

        var otherFork = Batch(2, 4, [Collateral(Block(2, "b"), 4, 1, 9), Collateral(Block(4, "b"), 0, 2, 1)], "b");
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Store.CommitAsync(otherFork, CancellationToken.None));

        Assert.Contains(Block(2).Hash, error.Message, StringComparison.Ordinal);
        Assert.Contains(Block(2, "b").Hash, error.Message, StringComparison.Ordinal);
        Snapshot.AssertEqual(before, await Snapshot.ReadAsync(Store, Chain));
        Assert.Equal(Block(3), (await Store.GetCheckpointAsync(Chain, CancellationToken.None))!.Block);

        // After the rollback the other fork goes in.
        await Store.RollbackToAsync(Block(1), CancellationToken.None);
        await Store.CommitAsync(otherFork, CancellationToken.None);
        Assert.Equal([9, 1], (await Store.GetCollateralAsync(null, CancellationToken.None)).OrderBy(b => b.Account.Value, StringComparer.Ordinal).Select(b => b.Balance));
    }

    [Fact]
    public async Task MigrateAsync_FactsStoredBefore0008_GetTheirPreviousTouchesAndRollBackExactly()
    {
        var facts = Mixed(1, 40, "a", seed: 8);
        await CommitInSpansAsync(facts, last: 40, span: 7);

        var written = await PreviousTouchesAsync();
        Assert.Contains(written, p => p is null);
        Assert.Contains(written, p => p is not null);

        // The database as version 0007 left it: no previous touches, the per-key index back.
        await ExecuteAsync(
            """
            alter table collateral_changes drop column prev_block_number;
            create index collateral_changes_by_key on collateral_changes (chain_id, contract, account, token);
            delete from schema_migrations where version = 8;
            """);
        await Store.MigrateAsync(CancellationToken.None);

        Assert.Equal(written, await PreviousTouchesAsync());
        await Store.RollbackToAsync(Block(17), CancellationToken.None);
        Snapshot.AssertEqual(Snapshot.Expected([.. facts.Where(f => f.Block.Number <= 17)]), await Snapshot.ReadAsync(Store, Chain));
    }

    [Fact]
    public async Task MigrateAsync_CollateralFactsStoredAsTextBefore0010_BecomeTheirBytes_AndRollBackExactly()
    {
        var facts = Mixed(1, 30, "a", seed: 10);
        await CommitInSpansAsync(facts, last: 30, span: 6);

        const string AsText =
            "select block_number, log_index, '0x' || encode(block_hash, 'hex'), '0x' || encode(contract, 'hex'), '0x' || encode(account, 'hex'), " +
            "'0x' || encode(token, 'hex'), delta::text, kind, coalesce(prev_block_number, -1) from collateral_changes order by block_number, log_index";
        var written = await RowsAsync(AsText);
        Assert.Equal(
            facts.OfType<CollateralChanged>().Select(f => f.Block.Hash).Order(StringComparer.Ordinal),
            written.Select(r => r[2]).Order(StringComparer.Ordinal));

        // The database as version 0009 left it: hashes and addresses as 0x-hex text.
        await ExecuteAsync(
            """
            alter table collateral_changes
                alter column block_hash type text using '0x' || encode(block_hash, 'hex'),
                alter column contract type text using '0x' || encode(contract, 'hex'),
                alter column account type text using '0x' || encode(account, 'hex'),
                alter column token type text using '0x' || encode(token, 'hex');
            delete from schema_migrations where version = 10;
            """);
        var plain = AsText.Replace("'0x' || encode(", "(", StringComparison.Ordinal).Replace(", 'hex')", ")", StringComparison.Ordinal);
        Assert.Equal(written, await RowsAsync(plain));
        await Store.MigrateAsync(CancellationToken.None);

        Assert.Equal(written, await RowsAsync(AsText));
        await Store.RollbackToAsync(Block(13), CancellationToken.None);
        Snapshot.AssertEqual(Snapshot.Expected([.. facts.Where(f => f.Block.Number <= 13)]), await Snapshot.ReadAsync(Store, Chain));
    }

    /// <summary>Commits facts of blocks 1..last in spans of <paramref name="span"/> blocks, as a watcher would.</summary>
    private async Task CommitInSpansAsync(IReadOnlyList<ChainFact> facts, long last, int span)
    {
        foreach (var chunk in facts.GroupBy(f => (f.Block.Number - 1) / span))
        {
            var from = (chunk.Key * span) + 1;
            await Store.CommitAsync(Batch(from, Math.Min(last, from + span - 1), chunk), CancellationToken.None);
        }
    }

    private async Task<List<string[]>> RowsAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(Schema.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string[]>();
        while (await reader.ReadAsync())
        {
            rows.Add([.. Enumerable.Range(0, reader.FieldCount).Select(i => Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture)!)]);
        }

        return rows;
    }

    private async Task<List<long?>> PreviousTouchesAsync()
    {
        await using var connection = new NpgsqlConnection(Schema.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("select prev_block_number from collateral_changes order by block_number, log_index", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var touches = new List<long?>();
        while (await reader.ReadAsync())
        {
            touches.Add(reader.IsDBNull(0) ? null : reader.GetInt64(0));
        }

        return touches;
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(Schema.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    protected override async Task<long> CountRowsAsync(string table)
    {
        await using var connection = new NpgsqlConnection(Schema.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"select count(*) from {table}", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
