using ChainMargin.Contracts.Devnet;
using ChainMargin.Core;
using ChainMargin.Indexing.Tests.Harness;
using ChainMargin.Storage;
using ChainMargin.Testing;
using Xunit;

namespace ChainMargin.Indexing.Tests;

/// <summary>
/// A chain with deposits and withdrawals of several tokens by several accounts and perp trades that open, add to,
/// reduce, close and flip positions across price moves (so PnL settles into the vault).
/// </summary>
public sealed class ActiveChainFixture : AnvilProtocolFixture
{
    public static IReadOnlyList<DevAccount> Accounts => [.. DevAccounts.Traders.Take(4)];

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var chain = new ChainDriver(this);
        var (a, b, c, d) = (Accounts[0], Accounts[1], Accounts[2], Accounts[3]);
        var weth = Protocol.Token("WETH").Decimals;
        var wbtc = Protocol.Token("WBTC").Decimals;
        var usdc = Protocol.Token("USDC").Decimals;

        await chain.DepositAsync(a, "WETH", ChainDriver.Units(10, weth));
        await chain.DepositAsync(a, "USDC", ChainDriver.Units(20_000, usdc));
        await chain.WithdrawAsync(a, "WETH", ChainDriver.Units(3, weth));
        await chain.DepositAsync(b, "WBTC", ChainDriver.Units(1, wbtc) / 2);
        await chain.DepositAsync(b, "USDC", ChainDriver.Units(5_000, usdc));
        await chain.TradeAsync(b, "ETH", ChainDriver.Units(2, 18));
        await chain.DepositAsync(c, "USDC", ChainDriver.Units(10_000, usdc));
        await chain.TradeAsync(c, "BTC", -ChainDriver.Units(1, 17));
        await chain.SetPriceAsync("ETH", 3300m);
        await chain.TradeAsync(b, "ETH", -ChainDriver.Units(1, 18));
        await chain.SetPriceAsync("BTC", 62_000m);
        await chain.TradeAsync(c, "BTC", ChainDriver.Units(1, 17));
        await chain.DepositAsync(d, "WETH", ChainDriver.Units(1, weth));
        await chain.WithdrawAsync(d, "WETH", ChainDriver.Units(1, weth));
        await chain.TradeAsync(a, "ETH", -ChainDriver.Units(5, 18));
        await chain.SetPriceAsync("ETH", 2900m);
        await chain.TradeAsync(a, "ETH", ChainDriver.Units(8, 18));
    }
}

public sealed class IndexingEqualsChainTests : IClassFixture<ActiveChainFixture>
{
    private readonly ActiveChainFixture _fixture;
    private readonly ChainDriver _chain;

    public IndexingEqualsChainTests(ActiveChainFixture fixture)
    {
        _fixture = fixture;
        _chain = new ChainDriver(fixture);
    }

    private ChainOptions Options() => IndexRig.Options(_fixture.RpcUrl, _fixture.ChainId, _fixture.Protocol);

    [Theory]
    [InlineData(StorageOptions.Sqlite)]
    [InlineData(StorageOptions.Postgres)]
    public async Task CatchUp_StoreEqualsVaultBalancesAndPerpPositions(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        using var handle = IndexRig.Watcher(Options(), store.Store);

        await IndexRig.CatchUpAsync(handle.Watcher);

        var head = await _chain.HeadAsync();
        Assert.Equal(head, handle.Status.Indexed?.Number);
        Assert.Equal((await _chain.Anvil.BlockAsync(head)).Hash.ToLowerInvariant(), handle.Status.Indexed?.Hash);
        var compared = await IndexRig.AssertEqualsChainAsync(store.Store, _chain, ActiveChainFixture.Accounts);
        // a: USDC, WETH, ETH perp; b: WBTC, USDC, ETH perp; c: USDC. d withdrew everything.
        Assert.True(compared >= 7, $"only {compared} non-zero values compared");
        Assert.Empty(await store.Store.GetRejectedLogsAsync(handle.Watcher.Chain, CancellationToken.None));
        Assert.Contains(await store.Store.GetCollateralAsync(EvmAddress.Parse(ActiveChainFixture.Accounts[3].Address), CancellationToken.None), x => x.Balance.IsZero);
    }

    [Theory]
    [InlineData(StorageOptions.Sqlite)]
    [InlineData(StorageOptions.Postgres)]
    public async Task FollowHead_NewActivityAfterCatchUp_StoreStillEqualsChain(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        using var handle = IndexRig.Watcher(Options(), store.Store);
        await IndexRig.CatchUpAsync(handle.Watcher);

        var account = await _chain.NewAccountAsync();
        await _chain.DepositAsync(account, "USDC", ChainDriver.Units(7_000, 6));
        await _chain.TradeAsync(account, "ETH", ChainDriver.Units(1, 18));
        await _chain.WithdrawAsync(account, "USDC", ChainDriver.Units(1_500, 6));
        await IndexRig.CatchUpAsync(handle.Watcher);

        Assert.Equal(await _chain.HeadAsync(), handle.Status.Indexed?.Number);
        await IndexRig.AssertEqualsChainAsync(store.Store, _chain, [.. ActiveChainFixture.Accounts, account]);
        var row = Assert.Single(await store.Store.GetCollateralAsync(EvmAddress.Parse(account.Address), CancellationToken.None));
        Assert.Equal(ChainDriver.Units(5_500, 6), row.Balance);
    }

    [Fact]
    public async Task BothStores_AndSmallCommits_GiveTheSameRows()
    {
        await using var sqlite = await TestStore.CreateAsync(StorageOptions.Sqlite);
        await using var postgres = await TestStore.CreateAsync(StorageOptions.Postgres);
        await using var small = await TestStore.CreateAsync(StorageOptions.Sqlite);
        var smallOptions = Options();
        smallOptions.MaxBlocksPerCommit = 7;
        smallOptions.InitialBlockRange = 3;
        smallOptions.MaxBlockRange = 5;
        using var a = IndexRig.Watcher(Options(), sqlite.Store);
        using var b = IndexRig.Watcher(Options(), postgres.Store);
        using var c = IndexRig.Watcher(smallOptions, small.Store);

        await IndexRig.CatchUpAsync(a.Watcher);
        await IndexRig.CatchUpAsync(b.Watcher);
        var steps = await IndexRig.CatchUpAsync(c.Watcher);

        // The chains head may move between the catch-ups (other tests of this class add blocks): compare at one head.
        var chain = a.Watcher.Chain;
        Assert.Equal(a.Status.Indexed, b.Status.Indexed);
        Assert.Equal(a.Status.Indexed, c.Status.Indexed);
        Assert.True(steps > 3, $"small commits took only {steps} steps");
        var expected = await IndexRig.ChecksumTextAsync(sqlite.Store, chain);
        Assert.NotEmpty(expected);
        Assert.Equal(expected, await IndexRig.ChecksumTextAsync(postgres.Store, chain));
        Assert.Equal(expected, await IndexRig.ChecksumTextAsync(small.Store, chain));
    }
}
