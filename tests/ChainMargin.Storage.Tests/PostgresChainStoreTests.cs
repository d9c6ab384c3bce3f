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

        // The database as version 0007 left it: facts as rows, no previous touches, the per-key index back.
        await ExecuteAsync(
            AsBefore0011 +
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

        var written = await RowsAsync(CollateralRows);
        Assert.Equal(
            facts.OfType<CollateralChanged>().Select(f => f.Block.Hash).Order(StringComparer.Ordinal),
            written.Select(r => r[2]).Order(StringComparer.Ordinal));

        // The database as version 0009 left it: facts as rows, hashes and addresses as 0x-hex text.
        await ExecuteAsync(
            AsBefore0011 +
            """
            alter table collateral_changes
                alter column block_hash type text using '0x' || encode(block_hash, 'hex'),
                alter column contract type text using '0x' || encode(contract, 'hex'),
                alter column account type text using '0x' || encode(account, 'hex'),
                alter column token type text using '0x' || encode(token, 'hex');
            delete from schema_migrations where version = 10;
            """);
        var plain = CollateralRows.Replace("'0x' || encode(", "(", StringComparison.Ordinal).Replace(", 'hex')", ")", StringComparison.Ordinal);
        Assert.Equal(written, await RowsAsync(plain));
        await Store.MigrateAsync(CancellationToken.None);

        Assert.Equal(written, await RowsAsync(CollateralRows));
        await Store.RollbackToAsync(Block(13), CancellationToken.None);
        Snapshot.AssertEqual(Snapshot.Expected([.. facts.Where(f => f.Block.Number <= 13)]), await Snapshot.ReadAsync(Store, Chain));
    }

    [Fact]
    public async Task MigrateAsync_CollateralFactsStoredAsRowsBefore0011_BecomeOneRowPerBlock_AndRollBackExactly()
    {
        var facts = Mixed(1, 30, "a", seed: 11);
        await CommitInSpansAsync(facts, last: 30, span: 6);
        var written = await RowsAsync(CollateralRows);
        var blocks = facts.OfType<CollateralChanged>().Select(f => f.Block.Number).Distinct().Count();
        Assert.Equal(blocks, await CountRowsAsync("collateral_change_blocks"));
        Assert.True(written.Count > blocks, "some block holds several collateral facts");

        await ExecuteAsync(AsBefore0011);
        Assert.Equal("BASE TABLE", await CollateralChangesKindAsync());
        Assert.Equal(written, await RowsAsync(CollateralRows));
        await Store.MigrateAsync(CancellationToken.None);

        Assert.Equal("VIEW", await CollateralChangesKindAsync());
        Assert.Equal(blocks, await CountRowsAsync("collateral_change_blocks"));
        Assert.Equal(written, await RowsAsync(CollateralRows));
        await Store.RollbackToAsync(Block(13), CancellationToken.None);
        Snapshot.AssertEqual(Snapshot.Expected([.. facts.Where(f => f.Block.Number <= 13)]), await Snapshot.ReadAsync(Store, Chain));
        await CommitInSpansAsync([.. facts.Where(f => f.Block.Number > 13)], last: 30, span: 5, first: 14);
        Snapshot.AssertEqual(Snapshot.Expected(facts), await Snapshot.ReadAsync(Store, Chain));
    }

    [Fact]
    public async Task MigrateAsync_RowsOfTwoBlockHashesAtOneHeightBefore0011_FailLoudlyAndNothingIsLost()
    {
        await Store.CommitAsync(Batch(1, 3, [Collateral(Block(2), 0, 1, 7), Collateral(Block(3), 0, 2, 5)]), CancellationToken.None);
        await ExecuteAsync(
            AsBefore0011 +
            """
            insert into collateral_changes (chain_id, block_hash, log_index, block_number, contract, account, token, delta, kind, prev_block_number)
            select chain_id, decode(repeat('ee', 32), 'hex'), log_index + 1, block_number, contract, account, token, delta, kind, prev_block_number
            from collateral_changes where block_number = 2;
            """);

        var error = await Assert.ThrowsAnyAsync<Exception>(() => Store.MigrateAsync(CancellationToken.None));

        Assert.Contains("two block hashes at one block number", error.Message, StringComparison.Ordinal);
        Assert.Equal("BASE TABLE", await CollateralChangesKindAsync());
        Assert.Equal(3, await CountRowsAsync("collateral_changes"));
    }

    [Fact]
    public async Task CommitAsync_CollateralOfOneBlockWithTwoHashes_RefusedNamingBothAndNothingChanges()
    {
        await Store.CommitAsync(Batch(1, 2, [Collateral(Block(2), 0, 1, 7)]), CancellationToken.None);
        var before = await Snapshot.ReadAsync(Store, Chain);

        var mixed = Batch(3, 4, [Collateral(Block(3), 0, 1, 1), Collateral(Block(3, "b"), 1, 2, 1)]);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Store.CommitAsync(mixed, CancellationToken.None));

        Assert.Contains(Block(3).Hash, error.Message, StringComparison.Ordinal);
        Assert.Contains(Block(3, "b").Hash, error.Message, StringComparison.Ordinal);
        Snapshot.AssertEqual(before, await Snapshot.ReadAsync(Store, Chain));
    }

    /// <summary>
    /// Takes the collateral facts back to one row per fact, the table versions 0001-0010 kept (migration 0011 made it a
    /// view over collateral_change_blocks), and forgets 0011.
    /// </summary>
    private const string AsBefore0011 =
        """
        create table collateral_changes_rows as
            select chain_id, block_hash, log_index, block_number, contract, account, token, delta::numeric(78, 0) as delta, kind, prev_block_number
            from collateral_changes;
        drop view collateral_changes;
        drop table collateral_change_blocks;
        alter table collateral_changes_rows rename to collateral_changes;
        alter table collateral_changes add primary key (chain_id, block_number, log_index),
            alter column block_hash set not null, alter column contract set not null, alter column account set not null,
            alter column token set not null, alter column delta set not null, alter column kind set not null;
        delete from schema_migrations where version = 11;

        """;

    private const string CollateralRows =
        "select block_number, log_index, '0x' || encode(block_hash, 'hex'), '0x' || encode(contract, 'hex'), '0x' || encode(account, 'hex'), " +
        "'0x' || encode(token, 'hex'), delta::text, kind, coalesce(prev_block_number, -1) from collateral_changes order by block_number, log_index";

    /// <summary>Commits facts of blocks 1..last in spans of <paramref name="span"/> blocks, as a watcher would.</summary>
    private async Task CommitInSpansAsync(IReadOnlyList<ChainFact> facts, long last, int span, long first = 1)
    {
        foreach (var chunk in facts.GroupBy(f => (f.Block.Number - first) / span))
        {
            var from = (chunk.Key * span) + first;
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

    /// <summary>Whether collateral_changes is a "BASE TABLE" (before migration 0011) or a "VIEW" (since).</summary>
    private async Task<string?> CollateralChangesKindAsync()
    {
        await using var connection = new NpgsqlConnection(Schema.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "select table_type from information_schema.tables where table_name = 'collateral_changes' and table_schema = current_schema()", connection);
        return (string?)await command.ExecuteScalarAsync();
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
