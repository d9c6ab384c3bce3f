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
/// Two anvil chains with the reference protocol, indexed by the real watchers into a real SQLite store. Chain A also
/// has a sequencer uptime feed (a PriceFeed, answer 0 = up). The trader holds 4 WETH and is long 10 ETH-PERP on
/// chain A, so the account depends on ETH's price. The clock starts a minute after chain A's deployment.
/// </summary>
public sealed class OracleRig : IAsyncLifetime
{
    public const ulong ChainAId = 41_001;
    public const ulong ChainBId = 41_002;

    private readonly string _file = Path.Combine(Path.GetTempPath(), $"cm_oracle_{Guid.NewGuid():N}.db");
    private readonly List<(ChainWatcher Watcher, JsonRpcClient Rpc)> _watchers = [];
    private ChainStorage? _storage;

    public AnvilProtocolFixture A { get; private set; } = null!;

    public AnvilProtocolFixture B { get; private set; } = null!;

    public ChainOptions OptionsA { get; private set; } = null!;

    public ChainOptions OptionsB { get; private set; } = null!;

    public string SequencerFeed { get; private set; } = "";

    public IChainStore Store => _storage!.Store;

    /// <summary>Unix seconds of the clock's start; feed rounds are dated relative to it.</summary>
    public long T0 { get; private set; }

    public static DevAccount Trader => DevAccounts.Traders[0];

    public static EvmAddress TraderAddress => EvmAddress.Parse(Trader.Address);

    public async Task InitializeAsync()
    {
        var starts = await AnvilProtocolFixture.StartAllAsync(ChainAId, ChainBId);
        (A, B) = (starts[0], starts[1]);
        var owner = await DevnetSender.CreateAsync(A.RpcUrl, DevAccounts.Deployer.PrivateKey, A.ChainId);
        SequencerFeed = (await owner.DeployAsync(new PriceFeedDeployment { Decimals = 0, Description = "L2 sequencer uptime", InitialAnswer = 0 }, "deploy sequencer feed")).ToLowerInvariant();
        var chainA = new DevnetChain("a", A.ChainId, A.Node.Port);
        await DemoSeeder.DepositAsync(chainA, A.Protocol, Trader, "WETH", DemoSeeder.Units(4, 18), CancellationToken.None);
        await DemoSeeder.TradePerpAsync(chainA, A.Protocol, Trader, "ETH", DemoSeeder.Units(10, 18), CancellationToken.None);
        T0 = (await A.Rpc.BlockAsync()).Timestamp + 60;

        OptionsA = Options(A);
        OptionsA.Contracts.SequencerUptimeFeed = SequencerFeed;
        OptionsB = Options(B);
        _storage = StoreFactory.Create(new StorageOptions { Provider = StorageOptions.Sqlite, ConnectionString = $"Data Source={_file}" });
        await Store.MigrateAsync(CancellationToken.None);
        foreach (var options in new[] { OptionsA, OptionsB })
        {
            var rpc = new JsonRpcClient(options.RpcUrls);
            var status = new ChainStatus(new ChainId(options.ChainId), options.Name, options.StaleAfter);
            _watchers.Add((new ChainWatcher(options, Store, rpc, status, TimeProvider.System, NullLogger.Instance), rpc));
        }

        await IndexAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var (_, rpc) in _watchers)
        {
            rpc.Dispose();
        }

        if (_storage is not null)
        {
            await _storage.DisposeAsync();
        }

        SqliteConnection.ClearAllPools();
        foreach (var path in new[] { _file, _file + "-wal", _file + "-shm" })
        {
            File.Delete(path);
        }

        await A.DisposeAsync();
        await B.DisposeAsync();
    }

    /// <summary>Steps every watcher until it is caught up with its chain (bounded, so a livelock fails).</summary>
    public async Task IndexAsync()
    {
        foreach (var (watcher, _) in _watchers)
        {
            var steps = 0;
            while (!await watcher.StepAsync(CancellationToken.None))
            {
                if (++steps > 100)
                {
                    throw new InvalidOperationException($"chain {watcher.Chain} not caught up");
                }
            }
        }
    }

    /// <summary>Publishes rounds on a chain's feed (answer in USD, updatedAt in seconds relative to <see cref="T0"/>).</summary>
    public async Task PublishAsync(AnvilProtocolFixture chain, string feed, params (decimal Answer, long AgeSeconds)[] rounds)
    {
        var owner = await DevnetSender.CreateAsync(chain.RpcUrl, DevAccounts.Deployer.PrivateKey, chain.ChainId);
        foreach (var (answer, age) in rounds)
        {
            owner.QueueCall(feed, new SetRoundDataFunction { Answer = ReferenceProtocolDeployer.ToFeedUnits(answer), UpdatedAt = T0 - age }, "round");
        }

        await owner.FlushAsync();
        await owner.VerifyAsync();
    }

    /// <summary>Sets the sequencer status: 0 up, 1 down, changed <paramref name="ageSeconds"/> before T0.</summary>
    public async Task SetSequencerAsync(int status, long ageSeconds)
    {
        var owner = await DevnetSender.CreateAsync(A.RpcUrl, DevAccounts.Deployer.PrivateKey, A.ChainId);
        await owner.SendAsync(SequencerFeed, new SetRoundDataFunction { Answer = status, UpdatedAt = T0 - ageSeconds }, "sequencer");
        await owner.VerifyAsync();
    }

    /// <summary>A margin service over the store with its own clock at T0, registry (with or without chain B, sequencer) and checks.</summary>
    public MarginService Service(PriceSafetyOptions? safety = null, bool withChainB = false, bool withSequencer = false, RiskConfig? risk = null, ManualTimeProvider? clock = null)
    {
        var chains = withChainB ? new[] { Clone(OptionsA, withSequencer), OptionsB } : [Clone(OptionsA, withSequencer)];
        return new MarginService(
            Store,
            ChainMarginServices.BuildRegistry(chains),
            risk ?? RiskConfig.CreateDefault(),
            new FlagOptions(),
            safety ?? new PriceSafetyOptions(),
            chains.Select(c => new ChainId(c.ChainId)).ToArray(),
            _ => new Dictionary<ChainId, string>(),
            clock ?? new ManualTimeProvider(DateTimeOffset.FromUnixTimeSeconds(T0)),
            NullLogger<MarginService>.Instance);
    }

    public static BigInteger Usd(decimal usd) => ReferenceProtocolDeployer.ToFeedUnits(usd);

    private static ChainOptions Clone(ChainOptions options, bool withSequencer) => new()
    {
        Name = options.Name,
        ChainId = options.ChainId,
        RpcUrls = options.RpcUrls,
        Contracts = new ChainContractsOptions
        {
            Vault = options.Contracts.Vault,
            PerpMarket = options.Contracts.PerpMarket,
            OptionMarket = options.Contracts.OptionMarket,
            Tokens = options.Contracts.Tokens,
            PriceFeeds = options.Contracts.PriceFeeds,
            VolatilityFeeds = options.Contracts.VolatilityFeeds,
            SequencerUptimeFeed = withSequencer ? options.Contracts.SequencerUptimeFeed : null,
        },
    };

    private static ChainOptions Options(AnvilProtocolFixture chain) => new()
    {
        Name = "oracle-" + chain.ChainId.ToString(CultureInfo.InvariantCulture),
        ChainId = chain.ChainId,
        RpcUrls = [chain.RpcUrl],
        StartBlock = 0,
        Confirmations = 0,
        FinalityDepth = 20,
        PollInterval = TimeSpan.FromMilliseconds(50),
        Contracts = new ChainContractsOptions
        {
            Vault = chain.Protocol.Vault,
            PerpMarket = chain.Protocol.PerpMarket,
            OptionMarket = chain.Protocol.OptionMarket,
            Tokens = chain.Protocol.Tokens.ToDictionary(
                t => t.Symbol,
                t => new TokenOptions { Address = t.Address, Decimals = t.Decimals, Asset = t.Symbol }),
            PriceFeeds = chain.Protocol.Feeds.Where(f => f.Kind == "spot").ToDictionary(f => f.Asset, f => f.Address),
            VolatilityFeeds = chain.Protocol.Feeds.Where(f => f.Kind == "vol").ToDictionary(f => f.Asset, f => f.Address),
        },
    };
}
