using ChainMargin.Core;
using ChainMargin.Storage.Postgres;
using ChainMargin.Storage.Sqlite;
using ChainMargin.Storage.Webhooks;
using ChainMargin.Testing;
using Microsoft.Data.Sqlite;
using Xunit;
using static ChainMargin.Storage.Tests.Facts;

namespace ChainMargin.Storage.Tests;

/// <summary>
/// The webhook outbox and health samples, the same suite on both stores: a state change and its deliveries commit
/// together, one attempt at a time claims a delivery, and what is recorded survives a new store instance (a restart).
/// </summary>
public abstract class WebhookStoreContract : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly DateTimeOffset T0 = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private SqlChainStore? _chainStore;
    private SqlWebhookStore? _store;

    protected SqlChainStore ChainStore => _chainStore ?? throw new InvalidOperationException("store not initialised");

    protected SqlWebhookStore Store => _store ?? throw new InvalidOperationException("store not initialised");

    protected abstract Task CreateDatabaseAsync();

    protected abstract Task DropDatabaseAsync();

    protected abstract SqlChainStore OpenChainStore();

    protected abstract SqlWebhookStore OpenStore();

    public async Task InitializeAsync()
    {
        await CreateDatabaseAsync();
        _chainStore = OpenChainStore();
        await _chainStore.MigrateAsync(None);
        _store = OpenStore();
    }

    public async Task DisposeAsync()
    {
        foreach (var disposable in new object?[] { _store, _chainStore }.OfType<IAsyncDisposable>())
        {
            await disposable.DisposeAsync();
        }

        await DropDatabaseAsync();
    }

    [Fact]
    public async Task RecordAccountStateAsync_Change_WritesStateAndOneDeliveryPerWantingSubscription()
    {
        var all = await AddAsync("http://127.0.0.1:9/all", []);
        var liquidatable = await AddAsync("http://127.0.0.1:9/liq", [AccountStatesFor.Liquidatable]);
        await AddAsync("http://127.0.0.1:9/off", [], enabled: false);

        var first = await Store.RecordAccountStateAsync(Observation(1, "healthy", 2.5m, 0), Guid.NewGuid(), None);
        Assert.True(first.Changed);
        Assert.Null(first.FromState);
        var toAll = Assert.Single(first.DeliveryIds);
        Assert.Equal(all.Id, (await Store.GetDeliveryAsync(toAll, None))!.SubscriptionId);

        var same = await Store.RecordAccountStateAsync(Observation(1, "healthy", 2.4m, 1), Guid.NewGuid(), None);
        Assert.Equal(RecordedChange.Unchanged, same);

        var eventId = Guid.NewGuid();
        var crash = await Store.RecordAccountStateAsync(Observation(1, AccountStatesFor.Liquidatable, 0.8125m, 2), eventId, None);
        Assert.True(crash.Changed);
        Assert.Equal("healthy", crash.FromState);
        Assert.Equal(2, crash.DeliveryIds.Count);
        var deliveries = await Task.WhenAll(crash.DeliveryIds.Select(id => Store.GetDeliveryAsync(id, None)));
        Assert.Equal([all.Id, liquidatable.Id], deliveries.Select(d => d!.SubscriptionId).Order());
        var delivery = deliveries[0]!;
        Assert.Equal(eventId, delivery.EventId);
        Assert.Equal(Address(1), delivery.Account);
        Assert.Equal("healthy", delivery.FromState);
        Assert.Equal(AccountStatesFor.Liquidatable, delivery.ToState);
        Assert.Equal(0.8125m, delivery.Health);
        Assert.Equal([new MethodHealth("cross", 0.8125m, "liquidatable"), new MethodHealth("isolated", null, "unpriced")], delivery.Methods);
        Assert.Equal("1:2:0xabc", delivery.BlockVector);
        Assert.Equal(T0.AddSeconds(2), delivery.OccurredAt);
        Assert.Equal(WebhookDeliveryStates.Pending, delivery.Status);
        Assert.Equal(0, delivery.Attempts);

        // The same tables as the chain store: its history shows both changes.
        var history = await ChainStore.GetAccountStateHistoryAsync(Address(1), None);
        Assert.Equal(["healthy", AccountStatesFor.Liquidatable], history.Select(h => h.State));
        Assert.Equal(0.8125m, (await ChainStore.GetCurrentAccountStatesAsync(None)).Single().Health);
    }

    [Fact]
    public async Task RecordAccountStateAsync_OutboxWriteFails_TheStateIsNotRecordedEither()
    {
        await AddAsync("http://127.0.0.1:9/all", []);
        var eventId = Guid.NewGuid();
        await Store.RecordAccountStateAsync(Observation(9, "healthy", 2m, 0), eventId, None);

        // The same event id again breaks the outbox's unique (subscription, event): the whole change must roll back.
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(
            () => Store.RecordAccountStateAsync(Observation(9, "liquidatable", 0.5m, 1), eventId, None));

        Assert.Equal("healthy", Assert.Single(await ChainStore.GetAccountStateHistoryAsync(Address(9), None)).State);
        Assert.Equal("healthy", (await ChainStore.GetCurrentAccountStatesAsync(None)).Single().State);
        Assert.Single(await Store.GetRecentDeliveriesAsync(null, 10, None));

        var retried = await Store.RecordAccountStateAsync(Observation(9, "liquidatable", 0.5m, 2), Guid.NewGuid(), None);
        Assert.Equal(("healthy", 1), (retried.FromState, retried.DeliveryIds.Count));
    }

    [Fact]
    public async Task RecordAccountStateAsync_NoSubscriptions_RecordsTheStateAndNoDelivery()
    {
        var change = await Store.RecordAccountStateAsync(Observation(2, "warning", 1.05m, 0), Guid.NewGuid(), None);
        Assert.True(change.Changed);
        Assert.Empty(change.DeliveryIds);
        Assert.Equal("warning", Assert.Single(await ChainStore.GetAccountStateHistoryAsync(Address(2), None)).State);
        Assert.Empty(await Store.GetRecentDeliveriesAsync(null, 10, None));
    }

    [Fact]
    public async Task TryClaimAsync_OneAttemptAtATime_ThenBackoffThenDelivered()
    {
        await AddAsync("http://127.0.0.1:9/hook", []);
        var id = Assert.Single((await Store.RecordAccountStateAsync(Observation(3, "warning", 1.05m, 0), Guid.NewGuid(), None)).DeliveryIds);
        var now = DateTimeOffset.UtcNow;
        Assert.Equal([id], await Store.GetDueDeliveriesAsync(now, 10, None));

        var claimed = await Store.TryClaimAsync(id, now, now.AddSeconds(30), None);
        Assert.NotNull(claimed);
        Assert.Equal(1, claimed.Delivery.Attempts);
        Assert.Equal("http://127.0.0.1:9/hook", claimed.Subscription.Url.AbsoluteUri);
        Assert.Null(await Store.TryClaimAsync(id, now.AddSeconds(1), now.AddSeconds(31), None));
        Assert.Empty(await Store.GetDueDeliveriesAsync(now.AddSeconds(1), 10, None));

        await Store.CompleteAttemptAsync(id, new WebhookAttempt(503, "HTTP 503", Delivered: false, GiveUp: false, now.AddSeconds(10)), now, None);
        var failed = (await Store.GetDeliveryAsync(id, None))!;
        Assert.Equal((WebhookDeliveryStates.Pending, 503, "HTTP 503", 1), (failed.Status, failed.LastStatusCode, failed.LastError, failed.Attempts));
        Assert.Null(await Store.TryClaimAsync(id, now.AddSeconds(5), now.AddSeconds(35), None));
        Assert.Empty(await Store.GetDueDeliveriesAsync(now.AddSeconds(5), 10, None));

        var again = await Store.TryClaimAsync(id, now.AddSeconds(10), now.AddSeconds(40), None);
        Assert.Equal(2, again!.Delivery.Attempts);
        await Store.CompleteAttemptAsync(id, new WebhookAttempt(200, null, Delivered: true, GiveUp: false, now.AddSeconds(10)), now.AddSeconds(11), None);
        var delivered = (await Store.GetDeliveryAsync(id, None))!;
        Assert.Equal(WebhookDeliveryStates.Delivered, delivered.Status);
        Assert.Equal(now.AddSeconds(11).ToUnixTimeMilliseconds(), delivered.DeliveredAt!.Value.ToUnixTimeMilliseconds());
        Assert.Null(await Store.TryClaimAsync(id, now.AddHours(1), now.AddHours(2), None));
        Assert.Empty(await Store.GetDueDeliveriesAsync(now.AddHours(1), 10, None));
    }

    [Fact]
    public async Task TryClaimAsync_ClaimOfALostAttemptExpires_AndAnotherStoreInstanceDeliversIt()
    {
        await AddAsync("http://127.0.0.1:9/hook", []);
        var id = Assert.Single((await Store.RecordAccountStateAsync(Observation(4, "liquidatable", 0.5m, 0), Guid.NewGuid(), None)).DeliveryIds);
        var now = DateTimeOffset.UtcNow;
        Assert.NotNull(await Store.TryClaimAsync(id, now, now.AddSeconds(30), None));

        // The process that claimed it died: a new instance (a restarted process) sees it due once the claim expired.
        var restarted = OpenStore();
        try
        {
            Assert.Empty(await restarted.GetDueDeliveriesAsync(now.AddSeconds(29), 10, None));
            Assert.Equal([id], await restarted.GetDueDeliveriesAsync(now.AddSeconds(31), 10, None));
            var claimed = await restarted.TryClaimAsync(id, now.AddSeconds(31), now.AddSeconds(61), None);
            Assert.Equal(2, claimed!.Delivery.Attempts);
        }
        finally
        {
            if (restarted is IAsyncDisposable d)
            {
                await d.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task CompleteAttemptAsync_GiveUp_IsFailedAndNeverDueAgain()
    {
        await AddAsync("http://127.0.0.1:9/hook", []);
        var id = Assert.Single((await Store.RecordAccountStateAsync(Observation(5, "warning", 1.01m, 0), Guid.NewGuid(), None)).DeliveryIds);
        var now = DateTimeOffset.UtcNow;
        await Store.TryClaimAsync(id, now, now.AddSeconds(30), None);
        await Store.CompleteAttemptAsync(id, new WebhookAttempt(null, "connection refused", Delivered: false, GiveUp: true, now), now, None);
        Assert.Equal(WebhookDeliveryStates.Failed, (await Store.GetDeliveryAsync(id, None))!.Status);
        Assert.Empty(await Store.GetDueDeliveriesAsync(now.AddDays(1), 10, None));
    }

    [Fact]
    public async Task Subscriptions_AddListDelete_DeleteRemovesItsDeliveries()
    {
        var kept = await AddAsync("https://hooks.example/a?x=1", ["warning", "liquidatable"], description: "ops");
        var dropped = await AddAsync("http://127.0.0.1:9/b", []);
        await Store.RecordAccountStateAsync(Observation(6, "warning", 1.05m, 0), Guid.NewGuid(), None);

        var listed = await Store.GetSubscriptionsAsync(None);
        Assert.Equal([kept.Id, dropped.Id], listed.Select(s => s.Id));
        var first = listed[0];
        Assert.Equal("https://hooks.example/a?x=1", first.Url.AbsoluteUri);
        Assert.Equal(["warning", "liquidatable"], first.States);
        Assert.Equal("ops", first.Description);
        Assert.True(first.Enabled);
        Assert.Equal(SecretOf("https://hooks.example/a?x=1"), first.Secret);
        Assert.DoesNotContain(first.Secret, first.MaskedSecret, StringComparison.Ordinal);
        Assert.DoesNotContain(first.Secret, first.ToString(), StringComparison.Ordinal);

        Assert.True(await Store.DeleteSubscriptionAsync(dropped.Id, None));
        Assert.False(await Store.DeleteSubscriptionAsync(dropped.Id, None));
        Assert.Equal([kept.Id], (await Store.GetSubscriptionsAsync(None)).Select(s => s.Id));
        Assert.Equal([kept.Id], (await Store.GetRecentDeliveriesAsync(null, 10, None)).Select(d => d.SubscriptionId));
        Assert.Empty(await Store.GetRecentDeliveriesAsync(dropped.Id, 10, None));
    }

    [Fact]
    public async Task UpdateSubscriptionAsync_ChangesOnlyWhatIsGiven_PendingDeliveriesGoToTheNewUrl_DisabledGetsNoNewOnes()
    {
        var hook = await AddAsync("http://127.0.0.1:9/old", ["warning"], description: "ops");
        var pending = Assert.Single((await Store.RecordAccountStateAsync(Observation(7, "warning", 1.05m, 0), Guid.NewGuid(), None)).DeliveryIds);

        var moved = await Store.UpdateSubscriptionAsync(
            hook.Id, new WebhookSubscriptionChange(new Uri("https://hooks.example/new"), "rotated-secret-0123", null, null, null), None);
        Assert.NotNull(moved);
        Assert.Equal(
            (hook.Id, "https://hooks.example/new", "rotated-secret-0123", true, "ops", hook.CreatedAt),
            (moved.Id, moved.Url.AbsoluteUri, moved.Secret, moved.Enabled, moved.Description, moved.CreatedAt));
        Assert.Equal(["warning"], moved.States);
        var claimed = await Store.TryClaimAsync(pending, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddSeconds(30), None);
        Assert.Equal(("https://hooks.example/new", "rotated-secret-0123"), (claimed!.Subscription.Url.AbsoluteUri, claimed.Subscription.Secret));

        var off = await Store.UpdateSubscriptionAsync(hook.Id, new WebhookSubscriptionChange(null, null, ["liquidatable"], false, string.Empty), None);
        Assert.Equal((false, (string?)null, "https://hooks.example/new"), (off!.Enabled, off.Description, off.Url.AbsoluteUri));
        Assert.Equal(["liquidatable"], off.States);
        Assert.Empty((await Store.RecordAccountStateAsync(Observation(7, "liquidatable", 0.9m, 1), Guid.NewGuid(), None)).DeliveryIds);

        Assert.Null(await Store.UpdateSubscriptionAsync(hook.Id + 100, new WebhookSubscriptionChange(null, null, null, true, null), None));
        var listed = Assert.Single(await Store.GetSubscriptionsAsync(None));
        Assert.Equal((off.Id, off.Url, off.Secret, off.Enabled, off.Description), (listed.Id, listed.Url, listed.Secret, listed.Enabled, listed.Description));
        Assert.Equal(off.States, listed.States);
    }

    [Fact]
    public async Task HealthSamples_RangeLimitAndPrune()
    {
        var samples = new SqlHealthSampleStore(Store);
        await samples.AddSamplesAsync(
            [.. Enumerable.Range(0, 5).Select(i => new HealthSample(Address(7), T0.AddMinutes(i), 2m - (i * 0.25m), i < 4 ? "healthy" : "warning"))], None);
        await samples.AddSamplesAsync([new HealthSample(Address(8), T0, null, "healthy")], None);
        await samples.AddSamplesAsync([], None);

        // More rows than one statement takes.
        await samples.AddSamplesAsync([.. Enumerable.Range(0, 1203).Select(i => new HealthSample(Address(10), T0.AddSeconds(i), i, "healthy"))], None);
        var many = await samples.GetSamplesAsync(Address(10), null, null, 5000, None);
        Assert.Equal(Enumerable.Range(0, 1203).Select(i => (decimal?)i), many.Select(s => s.Health));

        var all = await samples.GetSamplesAsync(Address(7), null, null, 100, None);
        Assert.Equal([2m, 1.75m, 1.5m, 1.25m, 1m], all.Select(s => s.Health));
        Assert.Equal(T0.AddMinutes(4), all[^1].At);
        Assert.Equal("warning", all[^1].State);
        Assert.Equal([1.25m, 1m], (await samples.GetSamplesAsync(Address(7), null, null, 2, None)).Select(s => s.Health));
        Assert.Equal([1.75m, 1.5m], (await samples.GetSamplesAsync(Address(7), T0.AddMinutes(1), T0.AddMinutes(2), 100, None)).Select(s => s.Health));
        Assert.Null(Assert.Single(await samples.GetSamplesAsync(Address(8), null, null, 10, None)).Health);

        Assert.Equal(3 + 120, await samples.PruneAsync(T0.AddMinutes(2), None));
        Assert.Equal([1.5m, 1.25m, 1m], (await samples.GetSamplesAsync(Address(7), null, null, 100, None)).Select(s => s.Health));
    }

    private static string SecretOf(string url) => "s3cret-" + url.Length.ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(12, '0');

    private Task<WebhookSubscription> AddAsync(string url, IReadOnlyList<string> states, bool enabled = true, string? description = null) =>
        Store.AddSubscriptionAsync(new NewWebhookSubscription(new Uri(url), SecretOf(url), states, enabled, description), None);

    private static AccountObservation Observation(int account, string state, decimal health, int second) => new(
        new AccountStateRecord(Address(account), state, health, $"test: {state}", "1:2:0xabc", T0.AddSeconds(second)),
        [new MethodHealth("cross", health, state), new MethodHealth("isolated", null, "unpriced")]);

    private static class AccountStatesFor
    {
        public const string Liquidatable = "liquidatable";
    }
}

/// <summary>The webhook suite against SQLite, a fresh file per test.</summary>
public sealed class SqliteWebhookStoreTests : WebhookStoreContract
{
    private readonly SqliteTestFile _file = new("webhooks");

    private string ConnectionString => _file.ConnectionString;

    protected override Task CreateDatabaseAsync() => _file.CreateAsync();

    protected override Task DropDatabaseAsync() => _file.DeleteAsync();

    protected override SqlChainStore OpenChainStore() => new SqliteChainStore(ConnectionString, TimeProvider.System);

    protected override SqlWebhookStore OpenStore() => new SqliteWebhookStore(ConnectionString, TimeProvider.System);
}

/// <summary>The webhook suite against PostgreSQL, a fresh schema per test.</summary>
public sealed class PostgresWebhookStoreTests(PostgresDatabaseFixture fixture) : WebhookStoreContract, IClassFixture<PostgresDatabaseFixture>
{
    private PostgresSchema? _schema;

    private PostgresSchema Schema => _schema ?? throw new InvalidOperationException("no schema");

    protected override async Task CreateDatabaseAsync() => _schema = await PostgresSchema.CreateAsync(fixture.Database, "hooks");

    protected override async Task DropDatabaseAsync()
    {
        if (_schema is { } schema)
        {
            _schema = null;
            await schema.DisposeAsync();
        }
    }

    protected override SqlChainStore OpenChainStore() => new PostgresChainStore(Schema.ConnectionString, TimeProvider.System);

    protected override SqlWebhookStore OpenStore() => new PostgresWebhookStore(Schema.ConnectionString, TimeProvider.System);
}
