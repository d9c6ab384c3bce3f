using System.Globalization;
using System.Numerics;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Contracts.Reference;
using ChainMargin.Core;
using ChainMargin.Host.Composition;
using ChainMargin.Host.Devnet;
using ChainMargin.Indexing;
using ChainMargin.Indexing.Rpc;
using ChainMargin.Liquidation.Flagging;
using ChainMargin.Liquidation.Portfolio;
using ChainMargin.Risk;
using ChainMargin.Storage;
using ChainMargin.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChainMargin.Liquidation.Tests.Oracles;

/// <summary>
/// A feed's answers are scaled by the decimals its contract reports, read once from the chain: an 18-decimal ETH feed
/// on anvil prices ETH exactly as the protocol's 8-decimal feed does.
/// </summary>
public sealed class FeedDecimalsTests : IAsyncLifetime
{
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"cm_decimals_{Guid.NewGuid():N}.db");
    private AnvilProtocolFixture _chain = null!;
    private ChainStorage _storage = null!;
    private ChainOptions _options = null!;
    private long _t0;

    private static DevAccount Trader => DevAccounts.Traders[0];

    public async Task InitializeAsync()
    {
        _chain = await AnvilProtocolFixture.StartAsync(41_101);
        var owner = await DevnetSender.CreateAsync(_chain.RpcUrl, DevAccounts.Deployer.PrivateKey, _chain.ChainId);
        var feed18 = (await owner.DeployAsync(
            new PriceFeedDeployment { Decimals = 18, Description = "ETH / USD (18 decimals)", InitialAnswer = BigInteger.Pow(10, 18) * 2999 },
            "deploy 18-decimal feed")).ToLowerInvariant();
        _t0 = (await _chain.Rpc.BlockAsync()).Timestamp + 60;
        await owner.SendAsync(feed18, new SetRoundDataFunction { Answer = BigInteger.Pow(10, 18) * 3000, UpdatedAt = _t0 - 30 }, "round");
        await owner.VerifyAsync();
        var devnet = new DevnetChain("a", _chain.ChainId, _chain.Node.Port);
        await DemoSeeder.DepositAsync(devnet, _chain.Protocol, Trader, "WETH", DemoSeeder.Units(4, 18), CancellationToken.None);

        // A perp whose market reads the protocol's own 8-decimal ETH feed: its entry price is in that feed's decimals.
        await DemoSeeder.TradePerpAsync(devnet, _chain.Protocol, Trader, "ETH", DemoSeeder.Units(1, 18), CancellationToken.None);

        // ETH is priced by the 18-decimal feed on this chain.
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
                PriceFeeds = new() { ["ETH"] = feed18, ["USDC"] = _chain.Protocol.SpotFeed("USDC") },
            },
        };
        _storage = StoreFactory.Create(new StorageOptions { Provider = StorageOptions.Sqlite, ConnectionString = $"Data Source={_file}" });
        await _storage.Store.MigrateAsync(CancellationToken.None);
        using var rpc = new JsonRpcClient(_options.RpcUrls);
        var watcher = new ChainWatcher(_options, _storage.Store, rpc, new ChainStatus(new ChainId(_options.ChainId), _options.Name, _options.StaleAfter), TimeProvider.System, NullLogger.Instance);
        var steps = 0;
        while (!await watcher.StepAsync(CancellationToken.None) && ++steps < 100)
        {
        }
    }

    public async Task DisposeAsync()
    {
        await _storage.DisposeAsync();
        SqliteConnection.ClearAllPools();
        foreach (var path in new[] { _file, _file + "-wal", _file + "-shm" })
        {
            File.Delete(path);
        }

        await _chain.DisposeAsync();
    }

    private MarginService Service() => new(
        _storage.Store,
        ChainMarginServices.BuildRegistry([_options]),
        RiskConfig.CreateDefault(),
        new FlagOptions(),
        new PriceSafetyOptions { Feeds = new(StringComparer.OrdinalIgnoreCase) { ["ETH"] = new() { MinAnswer = 1, MaxAnswer = 10_000_000 } } },
        [new ChainId(_options.ChainId)],
        _ => new Dictionary<ChainId, string>(),
        new ManualTimeProvider(DateTimeOffset.FromUnixTimeSeconds(_t0)),
        NullLogger<MarginService>.Instance);

    [Fact]
    public async Task Compute_EighteenDecimalFeed_IsScaledByTheDecimalsReadOnceFromTheChain()
    {
        using var reader = new FeedDecimalsReader([_options]);
        using var service = Service();
        service.FeedDecimals = reader;

        var report = await service.ComputeAsync(EvmAddress.Parse(Trader.Address), CancellationToken.None);
        var cross = report.Method(MarginMethods.Cross);
        Assert.Equal("ok", cross.StatusName);

        // 4 WETH at 3000 (the 18-decimal answer 3000e18) with ETH's collateral weight 0.85, and the perp's P&L at 3000
        // against its entry (3000 in the 8-decimal feed); 1 ETH of notional at 3%.
        var perp = cross.Positions.Single(p => p.Kind == "perp");
        Assert.Equal(4m * 3000m * 0.85m, cross.Positions.Single(p => p.Kind == "collateral").Equity);
        Assert.Equal(0m, perp.Equity);
        Assert.Equal(3000m * 0.03m, cross.Maintenance);
        Assert.Equal(18, (await reader.GetAsync(new ChainId(_options.ChainId), EvmAddress.Parse(_options.Contracts.PriceFeeds["ETH"]), null, CancellationToken.None)).Decimals);

        // Read once per feed and kept: recomputing reads nothing again.
        var reads = reader.Reads;
        await service.RecomputeAsync(null, "test", CancellationToken.None);
        await service.ComputeAsync(EvmAddress.Parse(Trader.Address), CancellationToken.None);
        Assert.Equal(reads, reader.Reads);
        Assert.Equal(reads, reader.Known);
    }

    [Fact]
    public async Task Compute_AssumingEightDecimals_WouldMisreadTheFeedAndIsRefusedAtItsBound()
    {
        // Without decimals from the chain, 3000e18 read as 8 decimals is 3e13 USD: the configured bound catches it.
        using var service = Service();
        var report = await service.ComputeAsync(EvmAddress.Parse(Trader.Address), CancellationToken.None);
        Assert.Equal("price-unsafe", report.Headline.StatusName);
        Assert.Contains(report.Headline.Reasons, r => r.Contains("upper bound", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Compute_FeedWhoseDecimalsCannotBeRead_HasNoPriceOnlyTheReason()
    {
        // A reader for no chain at all: every read fails, and the account is unpriced with the reason, never valued.
        using var reader = new FeedDecimalsReader([]);
        using var service = Service();
        service.FeedDecimals = reader;

        var report = await service.ComputeAsync(EvmAddress.Parse(Trader.Address), CancellationToken.None);

        Assert.Equal("unpriced", report.Headline.StatusName);
        Assert.Null(report.Headline.Health);
        Assert.Contains(report.Headline.Reasons, r => r.Contains("decimals of feed", StringComparison.Ordinal) && r.Contains(_options.ChainId.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
    }
}
