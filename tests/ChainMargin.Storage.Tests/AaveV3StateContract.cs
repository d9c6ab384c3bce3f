using System.Numerics;
using ChainMargin.Core;
using ChainMargin.Storage.Postgres;
using ChainMargin.Storage.Sqlite;
using ChainMargin.Testing;
using Microsoft.Data.Sqlite;
using Xunit;
using static ChainMargin.Storage.Tests.Facts;

namespace ChainMargin.Storage.Tests;

/// <summary>
/// The persisted Aave V3 state, the same suite for both stores: versions committed with the checkpoint, the latest
/// version per key read back with the checkpoint, a rollback that trims versions above the ancestor (as the facts),
/// a batch committed twice applied once, and values that need all 256 bits.
/// </summary>
public abstract class AaveV3StateContract : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly BigInteger Ray = BigInteger.Pow(10, 27);
    private SqlChainStore? _store;

    protected SqlChainStore Store => _store ?? throw new InvalidOperationException("store not initialised");

    protected abstract Task CreateDatabaseAsync();

    protected abstract Task DropDatabaseAsync();

    protected abstract SqlChainStore OpenStore();

    public async Task InitializeAsync()
    {
        await CreateDatabaseAsync();
        _store = OpenStore();
        await _store.MigrateAsync(None);
    }

    public async Task DisposeAsync()
    {
        if (_store is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }

        await DropDatabaseAsync();
    }

    [Fact]
    public async Task LoadAsync_AfterCommits_ReturnsTheLatestVersionOfEachRowWithTheCheckpoint()
    {
        await Store.CommitAsync(Batch(1, 3, []) with { VenueStates = [Change(Reserve(2, 1), User(1, 2, 0b10), Balance(1, 2, 100, 0))] }, None);
        await Store.CommitAsync(Batch(4, 6, []) with { VenueStates = [Change(Reserve(5, 2), User(1, 5, 0b11), Balance(1, 5, 100, 40), EMode(5, 1))] }, None);

        var state = await Store.LoadAsync(Chain, None);

        Assert.Equal(Block(6), state.Checkpoint);
        Assert.Equal(Indexed(6).Timestamp, state.CheckpointTimestamp);
        var reserve = Assert.Single(state.Reserves);
        Assert.Equal(Reserve(5, 2), reserve);
        Assert.Equal(User(1, 5, 0b11), Assert.Single(state.Users));
        Assert.Equal(Balance(1, 5, 100, 40), Assert.Single(state.Balances));
        Assert.Equal(EMode(5, 1), Assert.Single(state.EModes));
        Assert.Empty((await Store.LoadAsync(OtherChain, None)).Users);
    }

    [Fact]
    public async Task LoadChangesAsync_LaidOverTheEarlierLoad_EqualsAFullLoad_AndIsNullOnceARollbackWentBelowIt()
    {
        await Store.CommitAsync(Batch(1, 3, []) with { VenueStates = [Change(Reserve(2, 1), User(1, 2, 0b10), Balance(1, 2, 100, 0), User(2, 3, 0b1), Balance(2, 3, 5, 0))] }, None);
        var earlier = await Store.LoadAsync(Chain, None);
        Assert.Equal(Block(3), earlier.Checkpoint);

        // Block 5 changes user 1, a reserve and an e-mode, and adds user 3; user 2 is untouched.
        await Store.CommitAsync(Batch(4, 6, []) with { VenueStates = [Change(Reserve(5, 2), User(1, 5, 0b11), Balance(1, 5, 100, 40), EMode(5, 1), User(3, 6, 0b10), Balance(3, 6, 9, 0))] }, None);

        var changes = await Store.LoadChangesAsync(Chain, earlier.Checkpoint!.Value, None);
        Assert.NotNull(changes);
        Assert.Equal(Block(6), changes.Checkpoint);
        Assert.Equal(Indexed(6).Timestamp, changes.CheckpointTimestamp);
        Assert.Equal([Address(1), Address(3)], changes.Users.Select(u => u.User).Order());
        Assert.Equal([Address(1), Address(3)], changes.Balances.Select(b => b.User).Order());
        Assert.Equal(Reserve(5, 2), Assert.Single(changes.Reserves));
        Assert.Equal(EMode(5, 1), Assert.Single(changes.EModes));
        AssertSameState(await Store.LoadAsync(Chain, None), earlier.Apply(changes));

        // Nothing newer: no rows, the same checkpoint.
        var none = await Store.LoadChangesAsync(Chain, Block(6), None);
        Assert.Equal(Block(6), none!.Checkpoint);
        Assert.Empty(none.Users);
        Assert.Empty(none.Reserves);

        // A rollback below the earlier checkpoint, and another fork over its number: the earlier load is stale.
        await Store.RollbackToAsync(Block(2), None);
        Assert.Null(await Store.LoadChangesAsync(Chain, Block(3), None));
        await Store.CommitAsync(Batch(3, 4, [], fork: "b") with { VenueStates = [Change(User(1, 4, 0b1, "b"))] }, None);
        Assert.Null(await Store.LoadChangesAsync(Chain, Block(3), None));

        // A block the store holds with the same hash is a good base again.
        var fresh = await Store.LoadAsync(Chain, None);
        await Store.CommitAsync(Batch(5, 5, [], fork: "b") with { VenueStates = [Change(User(2, 5, 0b11, "b"))] }, None);
        AssertSameState(await Store.LoadAsync(Chain, None), fresh.Apply((await Store.LoadChangesAsync(Chain, fresh.Checkpoint!.Value, None))!));
    }

    private static void AssertSameState(AaveV3StoredState expected, AaveV3StoredState actual)
    {
        Assert.Equal(expected.Checkpoint, actual.Checkpoint);
        Assert.Equal(expected.CheckpointTimestamp, actual.CheckpointTimestamp);
        Assert.Equal(expected.Reserves, actual.Reserves);
        Assert.Equal(expected.EModes, actual.EModes);
        Assert.Equal(expected.Users, actual.Users);
        Assert.Equal(expected.Balances, actual.Balances);
    }

    [Fact]
    public async Task RollbackToAsync_RemovesVersionsAboveTheAncestor_AndTheEarlierVersionsComeBack()
    {
        await Store.CommitAsync(Batch(1, 3, []) with { VenueStates = [Change(Reserve(2, 1), User(1, 2, 0b10), Balance(1, 2, 100, 0))] }, None);
        await Store.CommitAsync(Batch(4, 6, []) with { VenueStates = [Change(Reserve(5, 2), User(1, 5, 0b11), Balance(1, 5, 100, 40), User(2, 6, 0b10))] }, None);

        await Store.RollbackToAsync(Block(4), None);
        var state = await Store.LoadAsync(Chain, None);

        Assert.Equal(Block(4), state.Checkpoint);
        Assert.Equal(Reserve(2, 1), Assert.Single(state.Reserves));
        Assert.Equal(User(1, 2, 0b10), Assert.Single(state.Users));
        Assert.Equal(Balance(1, 2, 100, 0), Assert.Single(state.Balances));

        // The other fork's blocks commit their own versions over the same numbers.
        await Store.CommitAsync(Batch(5, 6, [], fork: "b") with { VenueStates = [Change(User(1, 5, 0b11, "b"))] }, None);
        var after = await Store.LoadAsync(Chain, None);
        Assert.Equal(Block(5, "b"), Assert.Single(after.Users).Block);
    }

    [Fact]
    public async Task CommitAsync_SameBatchTwice_LeavesOneVersionPerKeyAndBlock()
    {
        var batch = Batch(1, 3, []) with { VenueStates = [Change(Reserve(2, 1), User(1, 2, 0b10), Balance(1, 2, 100, 7))] };
        await Store.CommitAsync(batch, None);
        await Store.CommitAsync(batch, None);

        var state = await Store.LoadAsync(Chain, None);
        Assert.Single(state.Balances);
        Assert.Equal(Balance(1, 2, 100, 7), state.Balances[0]);
    }

    [Fact]
    public async Task CommitAsync_Uint256Values_RoundTripExactly()
    {
        var max = (BigInteger.One << 256) - 1;
        var balance = new AaveV3BalanceRow(Address(1), 3, max, max - 1, 0, 5 * Ray, 1_700_000_000, Block(2));
        var user = new AaveV3UserRow(Address(1), max, 2, Block(2));
        await Store.CommitAsync(Batch(1, 2, []) with { VenueStates = [Change(user, balance)] }, None);

        var state = await Store.LoadAsync(Chain, None);
        Assert.Equal(balance, Assert.Single(state.Balances));
        Assert.Equal(user, Assert.Single(state.Users));
    }

    [Fact]
    public async Task CommitAsync_StateAboveTheCheckpoint_IsRefusedAndNothingIsWritten()
    {
        var batch = Batch(1, 3, []) with { VenueStates = [Change(User(1, 4, 0b10))] };
        var error = await Assert.ThrowsAsync<ArgumentException>(() => Store.CommitAsync(batch, None));
        Assert.Contains("checkpoint", error.Message, StringComparison.Ordinal);
        Assert.Null((await Store.LoadAsync(Chain, None)).Checkpoint);
    }

    [Fact]
    public async Task PruneSupersededAsync_KeepsTheNewestVersionAtOrBelowTheHorizonAndEverythingAbove()
    {
        // Blocks 1..10: a user version and a feed read per block (the read at block 5 failed), reserve versions at 2 and 7.
        for (var n = 1; n <= 10; n++)
        {
            object[] rows = n is 2 or 7 ? [User(1, n, n), Reserve(n, n == 2 ? 1 : 3)] : [User(1, n, n)];
            var read = new FeedState(Block(n), Address(300), n == 5 ? null : 8, n == 5 ? null : n, n == 5 ? null : 2_000 + n, n == 5 ? null : 1_700_000_000 + n, n == 5 ? "decimals() reverted" : null);
            await Store.CommitAsync(Batch(n, n, []) with { VenueStates = [Change(rows)], FeedStates = [read] }, None);
        }

        var before = await Store.LoadAsync(Chain, None);

        // Horizon 5: the failed read at 5 supersedes nothing, so the read at 4 (the newest with decimals) stays.
        await Store.PruneSupersededAsync(Chain, -1, 5, None);
        Assert.Equal([4L, 5, 6, 7, 8, 9, 10], (await Store.GetFeedStatesAsync(Chain, None)).Select(f => f.Block.Number));
        Assert.Equal(8, (await Store.GetFeedDecimalsStateAsync(Chain, Address(300), None))!.Decimals);

        Assert.True(await Store.PruneSupersededAsync(Chain, 5, 6, None) > 0);
        Assert.Equal(0, await Store.PruneSupersededAsync(Chain, 6, 6, None));
        Assert.Equal([6L, 7, 8, 9, 10], (await Store.GetFeedStatesAsync(Chain, None)).Select(f => f.Block.Number));

        var after = await Store.LoadAsync(Chain, None);
        Assert.Equal(before.Users, after.Users);
        Assert.Equal(before.Reserves, after.Reserves);

        // A rollback to the horizon finds the state as it stood there; below it (which no watcher does) the pruned
        // versions are gone, while the reserve's only version at or below the horizon stays.
        await Store.RollbackToAsync(Block(6), None);
        var atHorizon = await Store.LoadAsync(Chain, None);
        Assert.Equal(User(1, 6, 6), Assert.Single(atHorizon.Users));
        Assert.Equal(Reserve(2, 1), Assert.Single(atHorizon.Reserves));
        await Store.RollbackToAsync(Block(5), None);
        Assert.Empty((await Store.LoadAsync(Chain, None)).Users);
        Assert.Equal(Reserve(2, 1), Assert.Single((await Store.LoadAsync(Chain, None)).Reserves));
    }

    private static AaveV3StateChange Change(params object[] rows) => new(
        Chain, rows.OfType<AaveV3ReserveRow>().ToList(), rows.OfType<AaveV3EModeRow>().ToList(), rows.OfType<AaveV3UserRow>().ToList(),
        rows.OfType<AaveV3BalanceRow>().ToList());

    private static AaveV3ReserveRow Reserve(long block, int version) => new(
        Address(500), 0, Address(501), Address(502), Address(503), false, (BigInteger)version << 48, Ray + version, version * 1000, Ray + (2 * version),
        version * 2000, 1_700_000_000 + block, version == 2 ? null : 3_000_0000_0000, version == 2 ? "the oracle returned 0" : null, Block(block));

    private static AaveV3EModeRow EMode(long block, int id) => new(id, 9_700, 9_800, 10_100, Address(600), 2_990_0000_0000, null, Block(block));

    private static AaveV3UserRow User(int user, long block, int configuration, string fork = "a") => new(Address(user), configuration, 0, Block(block, fork));

    private static AaveV3BalanceRow Balance(int user, long block, BigInteger scaledA, BigInteger scaledV) =>
        new(Address(user), 0, scaledA, scaledV, 0, 0, 0, Block(block));
}

/// <summary>The Aave V3 state suite against PostgreSQL, a fresh schema per test.</summary>
public sealed class PostgresAaveV3StateTests(PostgresDatabaseFixture fixture) : AaveV3StateContract, IClassFixture<PostgresDatabaseFixture>
{
    private PostgresSchema? _schema;

    protected override async Task CreateDatabaseAsync() => _schema = await PostgresSchema.CreateAsync(fixture.Database, "aave");

    protected override async Task DropDatabaseAsync()
    {
        if (_schema is { } schema)
        {
            _schema = null;
            await schema.DisposeAsync();
        }
    }

    protected override SqlChainStore OpenStore() => new PostgresChainStore(_schema!.ConnectionString, TimeProvider.System);
}

/// <summary>The Aave V3 state suite against SQLite, a fresh file per test.</summary>
public sealed class SqliteAaveV3StateTests : AaveV3StateContract
{
    private readonly SqliteTestFile _file = new("aave");

    protected override Task CreateDatabaseAsync() => _file.CreateAsync();

    protected override Task DropDatabaseAsync() => _file.DeleteAsync();

    protected override SqlChainStore OpenStore() => new SqliteChainStore(_file.ConnectionString, TimeProvider.System);
}
