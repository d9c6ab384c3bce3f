using System.Globalization;
using System.Numerics;
using System.Text.Json;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Contracts.Reference;
using ChainMargin.Core;
using ChainMargin.Host.Composition;
using ChainMargin.Host.Devnet;
using ChainMargin.Indexing;
using ChainMargin.Indexing.Rpc;
using ChainMargin.Liquidation.Alerts;
using ChainMargin.Liquidation.Flagging;
using ChainMargin.Liquidation.Oracles;
using ChainMargin.Liquidation.Portfolio;
using ChainMargin.Risk;
using ChainMargin.Storage;
using ChainMargin.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChainMargin.Liquidation.Tests.Oracles;

/// <summary>
/// A feed's answers are scaled by the decimals its contract reports, as the chain's watcher read them (pinned to each
/// commit's last block, here without Multicall3: a JSON-RPC batch) and stored with the checkpoint: an 18-decimal ETH
/// feed on anvil prices ETH exactly as the protocol's 8-decimal feed does, and the margin side never asks the node.
/// </summary>
public sealed class FeedDecimalsTests : IAsyncLifetime, IDisposable
{
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"cm_decimals_{Guid.NewGuid():N}.db");
    private readonly string _chainsFile = Path.Combine(Path.GetTempPath(), $"cm_decimals_{Guid.NewGuid():N}.json");
    private AnvilProtocolFixture _chain = null!;
    private ChainStorage _storage = null!;
    private ChainOptions _options = null!;
    private JsonRpcClient _rpc = null!;
    private ChainWatcher _watcher = null!;
    private string _feed18 = null!;
    private long _t0;

    private static DevAccount Trader => DevAccounts.Traders[0];

    private ChainId Chain => new(_options.ChainId);

    public async Task InitializeAsync()
    {
        _chain = await AnvilProtocolFixture.StartAsync(41_101);
        var owner = await DevnetSender.CreateAsync(_chain.RpcUrl, DevAccounts.Deployer.PrivateKey, _chain.ChainId);
        _feed18 = (await owner.DeployAsync(
            new PriceFeedDeployment { Decimals = 18, Description = "ETH / USD (18 decimals)", InitialAnswer = BigInteger.Pow(10, 18) * 2999 },
            "deploy 18-decimal feed")).ToLowerInvariant();
        _t0 = (await _chain.Rpc.BlockAsync()).Timestamp + 60;
        await owner.SendAsync(_feed18, new SetRoundDataFunction { Answer = BigInteger.Pow(10, 18) * 3000, UpdatedAt = _t0 - 30 }, "round");
        await owner.VerifyAsync();
        var devnet = new DevnetChain("a", _chain.ChainId, _chain.Node.Port);
        await DemoSeeder.DepositAsync(devnet, _chain.Protocol, Trader, "WETH", DemoSeeder.Units(4, 18), CancellationToken.None);

        // A perp whose market reads the protocol's own 8-decimal ETH feed: its entry price is in that feed's decimals.
        await DemoSeeder.TradePerpAsync(devnet, _chain.Protocol, Trader, "ETH", DemoSeeder.Units(1, 18), CancellationToken.None);

        // ETH is priced by the 18-decimal feed on this chain. No Multicall3: the watcher reads the feeds in a batch.
        _options = new ChainOptions
        {
            Name = "decimals",
            ChainId = _chain.ChainId,
            RpcUrls = [_chain.RpcUrl],
            Confirmations = 0,
            FinalityDepth = 20,
            Contracts = new ChainContractsOptions
            {
                Vault = _chain.Protocol.Vault,
                PerpMarket = _chain.Protocol.PerpMarket,
                OptionMarket = _chain.Protocol.OptionMarket,
                Tokens = _chain.Protocol.Tokens.ToDictionary(t => t.Symbol, t => new TokenOptions { Address = t.Address, Decimals = t.Decimals, Asset = t.Symbol }),
                PriceFeeds = new() { ["ETH"] = _feed18, ["USDC"] = _chain.Protocol.SpotFeed("USDC") },
            },
        };
        _storage = StoreFactory.Create(new StorageOptions { Provider = StorageOptions.Sqlite, ConnectionString = $"Data Source={_file}" });
        await _storage.Store.MigrateAsync(CancellationToken.None);
        _rpc = new JsonRpcClient(_options.RpcUrls);
        _watcher = NewWatcher();
        await CatchUpAsync();
    }

    public void Dispose() => _rpc?.Dispose();

    public async Task DisposeAsync()
    {
        await _storage.DisposeAsync();
        SqliteConnection.ClearAllPools();
        foreach (var path in new[] { _file, _file + "-wal", _file + "-shm", _chainsFile })
        {
            File.Delete(path);
        }

        await _chain.DisposeAsync();
    }

    private ChainWatcher NewWatcher() =>
        new(_options, _storage.Store, _rpc, new ChainStatus(Chain, _options.Name, _options.StaleAfter), TimeProvider.System, NullLogger.Instance);

    private async Task CatchUpAsync()
    {
        var steps = 0;
        while (!await _watcher.StepAsync(CancellationToken.None) && ++steps < 100)
        {
        }
    }

    private MarginService Service() => new(
        _storage.Store,
        ChainMarginServices.BuildRegistry([_options]),
        RiskConfig.CreateDefault(),
        new FlagOptions(),
        new PriceSafetyOptions { Feeds = new(StringComparer.OrdinalIgnoreCase) { ["ETH"] = new() { MinAnswer = 1, MaxAnswer = 10_000_000 } } },
        [Chain],
        _ => new Dictionary<ChainId, string>(),
        new ManualTimeProvider(DateTimeOffset.FromUnixTimeSeconds(_t0)),
        NullLogger<MarginService>.Instance);

    /// <summary>
    /// 4 WETH at 3000 (the 18-decimal answer 3000e18) with ETH's collateral weight 0.85, and the perp's P&amp;L at 3000
    /// against its entry (3000 in the 8-decimal feed); 1 ETH of notional at 3%.
    /// </summary>
    private static void AssertPricedExactly(MarginReport report)
    {
        var cross = report.Method(MarginMethods.Cross);
        Assert.Equal("ok", cross.StatusName);
        Assert.Equal(4m * 3000m * 0.85m, cross.Positions.Single(p => p.Kind == "collateral").Equity);
        Assert.Equal(0m, cross.Positions.Single(p => p.Kind == "perp").Equity);
        Assert.Equal(3000m * 0.03m, cross.Maintenance);
    }

    [Fact]
    public async Task Compute_EighteenDecimalFeed_IsScaledByTheDecimalsItsWatcherStored()
    {
        var source = new StoredFeedDecimals(_storage.Store);
        using var service = Service();
        service.FeedDecimals = source;

        AssertPricedExactly(await service.ComputeAsync(EvmAddress.Parse(Trader.Address), CancellationToken.None));
        Assert.Equal(18, (await source.GetAsync(Chain, EvmAddress.Parse(_feed18), CancellationToken.None)).Decimals);
        Assert.Equal(18, (await _storage.Store.GetFeedDecimalsStateAsync(Chain, EvmAddress.Parse(_feed18), CancellationToken.None))!.Decimals);

        // The perp market's feed is not configured, but the market was listed with it: its decimals are stored too.
        Assert.Equal(8, (await _storage.Store.GetFeedDecimalsStateAsync(Chain, EvmAddress.Parse(_chain.Protocol.SpotFeed("ETH")), CancellationToken.None))!.Decimals);

        // Known once per feed and kept: recomputing reads nothing from the store again.
        var reads = source.Reads;
        await service.RecomputeAsync(null, "test", CancellationToken.None);
        await service.ComputeAsync(EvmAddress.Parse(Trader.Address), CancellationToken.None);
        Assert.Equal(reads, source.Reads);
        Assert.Equal(reads, source.Known);
    }

    [Fact]
    public async Task Compute_AssumingEightDecimals_WouldMisreadTheFeedAndIsRefusedAtItsBound()
    {
        // Without decimals, 3000e18 read as 8 decimals is 3e13 USD: the configured bound catches it.
        using var service = Service();
        var report = await service.ComputeAsync(EvmAddress.Parse(Trader.Address), CancellationToken.None);
        Assert.Equal("price-unsafe", report.Headline.StatusName);
        Assert.Contains(report.Headline.Reasons, r => r.Contains("upper bound", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Recompute_FeedWithNoStoredState_IsUnpricedWithTheReasonAndAlerted_UntilTheWatcherStoresIt()
    {
        // A store whose feed states are not written yet (indexed by a version that read them only with Multicall3).
        await using (var connection = new SqliteConnection($"Data Source={_file}"))
        {
            await connection.OpenAsync();
            await using var delete = new SqliteCommand("delete from feed_states", connection);
            Assert.True(await delete.ExecuteNonQueryAsync() > 0);
        }

        Assert.Null(await _storage.Store.GetFeedDecimalsStateAsync(Chain, EvmAddress.Parse(_feed18), CancellationToken.None));
        using var service = Service();
        service.FeedDecimals = new StoredFeedDecimals(_storage.Store);
        var account = EvmAddress.Parse(Trader.Address);

        // Never a zero price: no health, only the reason, and a feed-decimals alert per feed.
        var unpriced = (await service.RecomputeAsync(null, "test", CancellationToken.None)).Single(r => r.Account == account);
        Assert.Equal("unpriced", unpriced.Headline.StatusName);
        Assert.Null(unpriced.Headline.Health);
        Assert.Contains(
            unpriced.Headline.Reasons,
            r => r.Contains($"decimals of feed {_feed18} on chain {_options.ChainId} are not known yet", StringComparison.Ordinal));
        var raised = service.AlertLog.Page(active: true, 1, 100).Items.Where(a => a.Kind == AlertKinds.FeedDecimals).ToList();
        Assert.Equal(
            new[] { _feed18, EvmAddress.Parse(_chain.Protocol.SpotFeed("USDC")).Value }.Order(StringComparer.Ordinal),
            raised.Select(a => a.Key.Split(':')[^1]).Order(StringComparer.Ordinal));

        // The next commit (of a watcher started again on this store) stores the feeds' state, the perp market's feed
        // among them (listed before the restart, so known from the store): the same service prices exactly and the
        // alerts clear.
        await _chain.Rpc.MineAsync();
        _watcher = NewWatcher();
        await CatchUpAsync();
        Assert.Equal(8, (await _storage.Store.GetFeedDecimalsStateAsync(Chain, EvmAddress.Parse(_chain.Protocol.SpotFeed("ETH")), CancellationToken.None))?.Decimals);
        var priced = (await service.RecomputeAsync(null, "test", CancellationToken.None)).Single(r => r.Account == account);
        AssertPricedExactly(priced);
        Assert.DoesNotContain(service.AlertLog.Page(active: true, 1, 100).Items, a => a.Kind == AlertKinds.FeedDecimals);
        Assert.Equal(2, service.AlertLog.Page(active: false, 1, 100).Items.Count(a => a.Kind == AlertKinds.FeedDecimals));
    }

    [Fact]
    public async Task HostMarginService_NodeUnreachable_PricesTheEighteenDecimalFeedFromTheStoredState()
    {
        // The service as the host composes it, for a chain whose only RPC URL answers nothing (a process that does not
        // own the chain's watcher reads what the owner stored): feed decimals come from the store alone.
        var unreachable = $"http://127.0.0.1:{AnvilNode.FreePort()}";
        var chain = new Dictionary<string, object>
        {
            ["Name"] = _options.Name,
            ["ChainId"] = _options.ChainId,
            ["RpcUrls"] = new[] { unreachable },
            ["Confirmations"] = 0,
            ["FinalityDepth"] = 20,
            ["Contracts"] = new Dictionary<string, object>
            {
                ["Vault"] = _options.Contracts.Vault!,
                ["PerpMarket"] = _options.Contracts.PerpMarket!,
                ["OptionMarket"] = _options.Contracts.OptionMarket!,
                ["Tokens"] = _options.Contracts.Tokens.ToDictionary(t => t.Key, t => new Dictionary<string, object> { ["Address"] = t.Value.Address, ["Decimals"] = t.Value.Decimals, ["Asset"] = t.Value.Asset! }),
                ["PriceFeeds"] = _options.Contracts.PriceFeeds,
            },
        };
        await File.WriteAllTextAsync(_chainsFile, JsonSerializer.Serialize(new Dictionary<string, object> { ["Chains"] = new[] { chain } }));
        await using var app = AppFactory.Build(
            [
                $"--Api:Urls=http://127.0.0.1:{AnvilNode.FreePort()}",
                "--Storage:Provider=sqlite",
                $"--Storage:ConnectionString=Data Source={_file}",
                "--Margin:SweepCron=0 0 1 1 *",
            ],
            _chainsFile);

        var service = app.Services.GetRequiredService<MarginService>();
        var report = await service.ComputeAsync(EvmAddress.Parse(Trader.Address), CancellationToken.None);

        // The app is not started: its chain has never been polled, so prices carry that reason, but they are valued.
        var cross = report.Method(MarginMethods.Cross);
        Assert.DoesNotContain(cross.Reasons, r => r.Contains("decimals", StringComparison.Ordinal));
        Assert.Equal(4m * 3000m * 0.85m, cross.Positions.Single(p => p.Kind == "collateral").Equity);
        Assert.NotNull(cross.Health);
    }
}
