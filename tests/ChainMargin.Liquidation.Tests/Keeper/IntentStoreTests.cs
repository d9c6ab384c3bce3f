using ChainMargin.Core;
using ChainMargin.Storage;
using ChainMargin.Storage.Intents;
using ChainMargin.Testing;

namespace ChainMargin.Liquidation.Tests.Keeper;

/// <summary>The intent table on both stores: one claimant per key, compare-and-set transitions, hashes kept.</summary>
public sealed class IntentStoreTests : IAsyncLifetime
{
    private readonly string _sqliteFile = Path.Combine(Path.GetTempPath(), "cm-intents-" + Guid.NewGuid().ToString("N") + ".db");
    private PostgresDatabase _postgres = null!;
    private ChainStorage _pgStorage = null!;
    private ChainStorage _sqliteStorage = null!;

    public async Task InitializeAsync()
    {
        _postgres = await PostgresDatabase.CreateAsync("cm_intents");
        _pgStorage = StoreFactory.Create(new StorageOptions { Provider = "postgres", ConnectionString = _postgres.ConnectionString });
        await _pgStorage.Store.MigrateAsync(CancellationToken.None);
        _sqliteStorage = StoreFactory.Create(new StorageOptions { Provider = "sqlite", ConnectionString = "Data Source=" + _sqliteFile });
        await _sqliteStorage.Store.MigrateAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _pgStorage.DisposeAsync();
        await _sqliteStorage.DisposeAsync();
        await _postgres.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        File.Delete(_sqliteFile);
    }

    private SqlIntentStore Create(string provider) => provider == "postgres"
        ? new PostgresIntentStore(_postgres.ConnectionString, TimeProvider.System)
        : new SqliteIntentStore("Data Source=" + _sqliteFile, TimeProvider.System);

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task TryClaim_ManyConcurrentClaimants_ExactlyOneGetsTheIntent(string provider)
    {
        // Separate store instances (separate pools), as separate keeper processes would have.
        var stores = Enumerable.Range(0, 8).Select(_ => Create(provider)).ToArray();
        var key = new IntentKey(7, "reference", "0x00000000000000000000000000000000000000aa", 42);
        var claims = await Task.WhenAll(stores.Select((s, i) => Task.Run(() => s.TryClaimAsync(key, "keeper-" + i, CancellationToken.None))));

        var winner = Assert.Single(claims, c => c is not null)!;
        Assert.Equal(IntentStates.Planned, winner.State);
        var stored = await stores[0].GetAsync(key, CancellationToken.None);
        Assert.Equal(winner.Owner, stored!.Owner);
        Assert.Equal(winner.Id, stored.Id);

        // Another trigger block of the same account is another intent.
        Assert.NotNull(await stores[0].TryClaimAsync(key with { TriggerBlock = 43 }, "keeper-0", CancellationToken.None));
    }

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task Transition_ConcurrentFromTheSameState_OnlyOneSucceeds(string provider)
    {
        var a = Create(provider);
        var b = Create(provider);
        var key = new IntentKey(7, "reference", "0x00000000000000000000000000000000000000bb", 1);
        var intent = (await a.TryClaimAsync(key, "a", CancellationToken.None))!;
        var moves = await Task.WhenAll(
            Task.Run(() => a.TransitionAsync(intent.Id, IntentStates.Planned, IntentStates.Simulated, new IntentChange { Keeper = "0xa" }, null, CancellationToken.None)),
            Task.Run(() => b.TransitionAsync(intent.Id, IntentStates.Planned, IntentStates.Skipped, new IntentChange { Reason = "b" }, null, CancellationToken.None)));
        Assert.Single(moves, m => m);

        // A wrong expected state changes nothing.
        var now = (await a.GetAsync(intent.Id, CancellationToken.None))!;
        Assert.False(await a.TransitionAsync(intent.Id, IntentStates.Planned, IntentStates.Failed, new IntentChange { Reason = "late" }, null, CancellationToken.None));
        Assert.Equal(now.State, (await a.GetAsync(intent.Id, CancellationToken.None))!.State);
    }

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task Transition_SignedThenReplaced_KeepsRawTxAndEveryHash(string provider)
    {
        var store = Create(provider);
        var key = new IntentKey(9, "reference", "0x00000000000000000000000000000000000000cc", 5);
        var intent = (await store.TryClaimAsync(key, "a", CancellationToken.None))!;
        Assert.True(await store.TransitionAsync(intent.Id, IntentStates.Planned, IntentStates.Simulated, new IntentChange { HealthWad = "930000000000000000" }, null, CancellationToken.None));
        Assert.True(await store.TransitionAsync(intent.Id, IntentStates.Simulated, IntentStates.Signed, new IntentChange { RawTx = "0x02aa", TxHash = "0x01", TxNonce = 3, MaxFeeWei = "100" }, null, CancellationToken.None));
        Assert.True(await store.TransitionAsync(intent.Id, IntentStates.Signed, IntentStates.Sent, new IntentChange(), null, CancellationToken.None));

        // A replacement only lands on the hash it replaces: the second, stale one changes nothing.
        Assert.True(await store.TransitionAsync(intent.Id, IntentStates.Sent, IntentStates.Sent, new IntentChange { RawTx = "0x02bb", TxHash = "0x02", ReplacedHash = "0x01" }, "0x01", CancellationToken.None));
        Assert.False(await store.TransitionAsync(intent.Id, IntentStates.Sent, IntentStates.Sent, new IntentChange { RawTx = "0x02cc", TxHash = "0x03", ReplacedHash = "0x01" }, "0x01", CancellationToken.None));

        var row = (await store.GetAsync(key, CancellationToken.None))!;
        Assert.Equal(("0x02bb", "0x02", 3L, "100", "930000000000000000"), (row.RawTx, row.TxHash, row.TxNonce!.Value, row.MaxFeeWei, row.HealthWad));
        Assert.Equal(["0x02", "0x01"], row.AllHashes);
        Assert.Single(await store.OpenIntentsAsync(9, key.Account, CancellationToken.None));
        Assert.True(await store.TransitionAsync(intent.Id, IntentStates.Sent, IntentStates.Mined, new IntentChange { MinedBlock = 12 }, null, CancellationToken.None));
        Assert.Empty(await store.OpenIntentsAsync(9, key.Account, CancellationToken.None));
    }
}
