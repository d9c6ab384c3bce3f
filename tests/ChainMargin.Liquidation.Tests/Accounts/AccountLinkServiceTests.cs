using System.Numerics;
using ChainMargin.Contracts.Accounts;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Core;
using ChainMargin.Liquidation.Accounts;
using ChainMargin.Liquidation.Tests.Oracles;
using ChainMargin.Storage;
using ChainMargin.Storage.Links;
using ChainMargin.Testing;

namespace ChainMargin.Liquidation.Tests.Accounts;

/// <summary>
/// Signed account links on both stores, with real EIP-712 signatures from the devnet keys: a link counts only when
/// both addresses signed it, before its deadline, with a fresh nonce.
/// </summary>
public sealed class AccountLinkServiceTests : IAsyncLifetime
{
    private const ulong Chain = 31337;
    private static readonly DevAccount Primary = DevAccounts.Traders[0];
    private static readonly DevAccount Linked = DevAccounts.Traders[1];
    private static readonly DevAccount Stranger = DevAccounts.Traders[2];

    private readonly string _sqliteFile = Path.Combine(Path.GetTempPath(), "cm-links-" + Guid.NewGuid().ToString("N") + ".db");
    private readonly ManualTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
    private PostgresDatabase _postgres = null!;
    private ChainStorage _pgStorage = null!;
    private ChainStorage _sqliteStorage = null!;

    public async Task InitializeAsync()
    {
        _postgres = await PostgresDatabase.CreateAsync("cm_links");
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

    private SqlAccountLinkStore Store(string provider) => provider == "postgres"
        ? new PostgresAccountLinkStore(_postgres.ConnectionString)
        : new SqliteAccountLinkStore("Data Source=" + _sqliteFile);

    private (AccountLinkService Service, AccountDirectory Directory) Create(string provider, IReadOnlyList<AccountLink>? configured = null)
    {
        var store = Store(provider);
        var directory = new AccountDirectory(configured ?? [], store);
        return (new AccountLinkService(store, directory, [Chain], _time), directory);
    }

    private long Deadline => _time.GetUtcNow().ToUnixTimeSeconds() + 600;

    private static AccountLinkMessage Message(DevAccount primary, DevAccount linked, BigInteger nonce, long deadline) =>
        new() { Primary = primary.Address, Linked = linked.Address, Nonce = nonce, Deadline = deadline };

    private static AccountLinkRequest Request(AccountLinkMessage message, string? primarySignature, string? linkedSignature, ulong chain = Chain) =>
        new(chain, new AccountLinkMessageRequest(message.Primary, message.Linked, message.Nonce.ToString(System.Globalization.CultureInfo.InvariantCulture), (long)message.Deadline),
            primarySignature, linkedSignature);

    private static AccountLinkRequest SignedByBoth(AccountLinkMessage message, ulong chain = Chain) =>
        Request(message, AccountLinkTypedData.Sign(message, chain, Primary.PrivateKey), AccountLinkTypedData.Sign(message, chain, Linked.PrivateKey), chain);

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task Link_SignedByBoth_CountsAndGroupsTheAddresses(string provider)
    {
        var (service, directory) = Create(provider);
        var outcome = await service.LinkAsync(SignedByBoth(Message(Primary, Linked, 1, Deadline)), CancellationToken.None);

        Assert.True(outcome.Ok, outcome.Detail);
        Assert.Equal(201, outcome.Status);
        var groups = await directory.CurrentAsync(CancellationToken.None);
        var primary = EvmAddress.Parse(Primary.Address);
        Assert.Equal(primary, groups.AccountOf(EvmAddress.Parse(Linked.Address)));
        Assert.Equal([primary, EvmAddress.Parse(Linked.Address)], groups.AddressesOf(EvmAddress.Parse(Linked.Address)));

        // Stored with its signatures, and seen by a fresh directory over the same database (another process).
        var stored = Assert.Single(await Store(provider).ListAsync(CancellationToken.None));
        Assert.Equal(primary, stored.Primary);
        Assert.Equal(Chain, stored.ChainId);
        var again = await new AccountDirectory([], Store(provider)).CurrentAsync(CancellationToken.None);
        Assert.Equal(primary, again.AccountOf(EvmAddress.Parse(Linked.Address)));
    }

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task Link_OneSignatureMissing_IsRefusedNamingIt(string provider)
    {
        var (service, directory) = Create(provider);
        var message = Message(Primary, Linked, 2, Deadline);
        var outcome = await service.LinkAsync(Request(message, AccountLinkTypedData.Sign(message, Chain, Primary.PrivateKey), null), CancellationToken.None);

        Assert.False(outcome.Ok);
        Assert.Equal(400, outcome.Status);
        Assert.Equal("linkedSignature", outcome.Field);
        Assert.False((await directory.CurrentAsync(CancellationToken.None)).IsGrouped(EvmAddress.Parse(Linked.Address)));
    }

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task Link_WrongSigner_IsRefused(string provider)
    {
        var (service, _) = Create(provider);
        var message = Message(Primary, Linked, 3, Deadline);

        // The stranger signs in the primary's place.
        var outcome = await service.LinkAsync(
            Request(message, AccountLinkTypedData.Sign(message, Chain, Stranger.PrivateKey), AccountLinkTypedData.Sign(message, Chain, Linked.PrivateKey)),
            CancellationToken.None);
        Assert.Equal("primarySignature", outcome.Field);
        Assert.Contains(Stranger.Address, outcome.Detail, StringComparison.Ordinal);

        // A signature over another message (another nonce) does not sign this one.
        var other = Message(Primary, Linked, 4, Deadline);
        outcome = await service.LinkAsync(
            Request(message, AccountLinkTypedData.Sign(message, Chain, Primary.PrivateKey), AccountLinkTypedData.Sign(other, Chain, Linked.PrivateKey)),
            CancellationToken.None);
        Assert.Equal("linkedSignature", outcome.Field);

        // Signed on another chain's domain.
        outcome = await service.LinkAsync(SignedByBoth(message, chain: 1), CancellationToken.None);
        Assert.Equal("chainId", outcome.Field);
        Assert.Empty(await Store(provider).ListAsync(CancellationToken.None));
    }

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task Link_AfterItsDeadline_IsRefused(string provider)
    {
        var (service, _) = Create(provider);
        var request = SignedByBoth(Message(Primary, Linked, 5, Deadline));
        _time.Advance(TimeSpan.FromMinutes(11));

        var outcome = await service.LinkAsync(request, CancellationToken.None);

        Assert.Equal(400, outcome.Status);
        Assert.Equal("message.deadline", outcome.Field);
        Assert.Empty(await Store(provider).ListAsync(CancellationToken.None));
    }

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task Link_Replayed_IsRefusedEvenAfterAnUnlink(string provider)
    {
        var (service, directory) = Create(provider);
        var request = SignedByBoth(Message(Primary, Linked, 6, Deadline));
        Assert.True((await service.LinkAsync(request, CancellationToken.None)).Ok);

        var replay = await service.LinkAsync(request, CancellationToken.None);
        Assert.Equal(400, replay.Status);
        Assert.Equal("message.nonce", replay.Field);

        // The linked address unlinks; replaying the old link message must not link it again.
        var unlink = new AccountUnlinkMessage { Primary = Primary.Address, Linked = Linked.Address, Nonce = 7, Deadline = Deadline };
        var unlinked = await service.UnlinkAsync(
            new AccountUnlinkRequest(Chain, new AccountLinkMessageRequest(Primary.Address, Linked.Address, "7", Deadline), AccountLinkTypedData.Sign(unlink, Chain, Linked.PrivateKey)),
            CancellationToken.None);
        Assert.True(unlinked.Ok, unlinked.Detail);
        Assert.False((await directory.CurrentAsync(CancellationToken.None)).IsGrouped(EvmAddress.Parse(Linked.Address)));

        replay = await service.LinkAsync(request, CancellationToken.None);
        Assert.Equal("message.nonce", replay.Field);
        Assert.Empty(await Store(provider).ListAsync(CancellationToken.None));
    }

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task Unlink_SignedByAStranger_IsRefused(string provider)
    {
        var (service, _) = Create(provider);
        Assert.True((await service.LinkAsync(SignedByBoth(Message(Primary, Linked, 8, Deadline)), CancellationToken.None)).Ok);
        var unlink = new AccountUnlinkMessage { Primary = Primary.Address, Linked = Linked.Address, Nonce = 9, Deadline = Deadline };

        var outcome = await service.UnlinkAsync(
            new AccountUnlinkRequest(Chain, new AccountLinkMessageRequest(Primary.Address, Linked.Address, "9", Deadline), AccountLinkTypedData.Sign(unlink, Chain, Stranger.PrivateKey)),
            CancellationToken.None);

        Assert.Equal("signature", outcome.Field);
        Assert.Single(await Store(provider).ListAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Link_SelfLinkOrAnAddressAlreadyInAGroup_IsRefusedNamingTheField()
    {
        var configured = new[] { new AccountLink(EvmAddress.Parse(Stranger.Address), EvmAddress.Parse(Linked.Address), "config") };
        var (service, _) = Create("sqlite", configured);

        var self = Message(Primary, Primary, 10, Deadline);
        var outcome = await service.LinkAsync(
            Request(self, AccountLinkTypedData.Sign(self, Chain, Primary.PrivateKey), AccountLinkTypedData.Sign(self, Chain, Primary.PrivateKey)), CancellationToken.None);
        Assert.Equal(400, outcome.Status);
        Assert.Equal("message.linked", outcome.Field);

        // Linked already belongs to the stranger's configured account.
        outcome = await service.LinkAsync(SignedByBoth(Message(Primary, Linked, 11, Deadline)), CancellationToken.None);
        Assert.Equal(409, outcome.Status);
        Assert.Equal("message.linked", outcome.Field);
    }

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task LinkStore_ConcurrentWritesOfOneNonce_ExactlyOneLands(string provider)
    {
        var others = DevAccounts.All.Where(a => a.Address != Primary.Address).Take(6).ToArray();
        var stores = others.Select(_ => Store(provider)).ToArray();
        var primary = EvmAddress.Parse(Primary.Address);
        var writes = await Task.WhenAll(stores.Select((s, i) => Task.Run(() => s.LinkAsync(
            new SignedAccountLink(primary, EvmAddress.Parse(others[i].Address), Chain, 12, Deadline, "0x", "0x", _time.GetUtcNow()),
            CancellationToken.None))));

        // Every write uses the primary's nonce 12: the first wins, the rest are replays.
        Assert.Single(writes, w => w == LinkWriteResult.Done);
        Assert.All(writes.Where(w => w != LinkWriteResult.Done), w => Assert.Equal(LinkWriteResult.NonceUsed, w));
        Assert.Single(await stores[0].ListAsync(CancellationToken.None));
    }
}
