using System.Globalization;
using System.Numerics;
using ChainMargin.Core;
using ChainMargin.Indexing;
using ChainMargin.Indexing.Aave;
using ChainMargin.Indexing.Rpc;
using ChainMargin.Risk.Aave;
using ChainMargin.Storage;
using ChainMargin.Storage.Postgres;
using ChainMargin.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace ChainMargin.Aave.Tests;

/// <summary>
/// A chain watcher over an <see cref="AaveTestMarket"/> with the Aave V3 span indexer, committing into a real
/// PostgreSQL database (or a SQLite file); <see cref="AssertStoreMatchesPoolAsync"/> recomputes every user from the persisted state
/// alone and compares with Pool.getUserAccountData at the checkpoint.
/// </summary>
internal sealed class AaveStoreRig : IAsyncDisposable
{
    private readonly AaveTestMarket _market;
    private readonly PostgresDatabase? _database;
    private readonly string? _sqliteFile;
    private JsonRpcClient _rpc;

    private AaveStoreRig(AaveTestMarket market, PostgresDatabase? database, string? sqliteFile)
    {
        _market = market;
        _database = database;
        _sqliteFile = sqliteFile;
        Store = OpenStore();
        _rpc = new JsonRpcClient([market.Node.RpcUrl]);
        (Watcher, SpanIndexer) = NewWatcher(Store, _rpc);
    }

    public SqlChainStore Store { get; private set; }

    /// <summary>The PostgreSQL database's connection string (PostgreSQL rigs only).</summary>
    public string ConnectionString => _database?.ConnectionString ?? throw new InvalidOperationException("a SQLite rig");

    public ChainWatcher Watcher { get; private set; }

    public AaveV3SpanIndexer SpanIndexer { get; private set; }

    public List<ChainCommitted> Commits { get; } = [];

    public int Checks { get; private set; }

    public static async Task<AaveStoreRig> StartAsync(AaveTestMarket market, string provider = "postgres")
    {
        var rig = provider == "sqlite"
            ? new AaveStoreRig(market, null, Path.Combine(Path.GetTempPath(), $"cm-aave-{Guid.NewGuid():N}.db"))
            : new AaveStoreRig(market, await PostgresDatabase.CreateAsync("cm_aave"), null);
        await rig.Store.MigrateAsync(CancellationToken.None);
        return rig;
    }

    public ChainOptions Options => new()
    {
        Name = "aave",
        ChainId = _market.Node.ChainId,
        RpcUrls = [_market.Node.RpcUrl],
        StartBlock = _market.Deployment.FirstBlock,
        Confirmations = 0,
        FinalityDepth = 20,
        PollInterval = TimeSpan.FromMilliseconds(50),
    };

    /// <summary>A new process: a new store instance, RPC client, watcher and span indexer on the same database.</summary>
    public async Task RestartAsync()
    {
        await ((IAsyncDisposable)Store).DisposeAsync();
        _rpc.Dispose();
        Store = OpenStore();
        _rpc = new JsonRpcClient([_market.Node.RpcUrl]);
        (Watcher, SpanIndexer) = NewWatcher(Store, _rpc);
    }

    public async Task CatchUpAsync()
    {
        for (var step = 0; step < 100; step++)
        {
            if (await Watcher.StepAsync(CancellationToken.None))
            {
                return;
            }
        }

        throw new InvalidOperationException("the watcher did not catch up in 100 steps");
    }

    /// <summary>
    /// Catches up, then checks every persisted user against the Pool at the checkpoint: the six numbers of
    /// getUserAccountData to the last unit, and the configuration bitmap against getUserConfiguration.
    /// </summary>
    public async Task<AaveV3StoredState> AssertStoreMatchesPoolAsync(string step)
    {
        await CatchUpAsync();
        var state = await Store.LoadAsync(new ChainId(_market.Node.ChainId), CancellationToken.None);
        var head = await _market.LatestBlockAsync();
        Assert.Equal(head, state.Checkpoint!.Value.Number);
        var market = AaveV3StoredInputs.Market(state);
        var users = AaveV3StoredInputs.Users(state);
        Assert.NotEmpty(users);
        var onChain = await _market.Indexer.Reader.ReadAccountDataAsync(users.Select(u => u.User).ToList(), head, CancellationToken.None);
        for (var i = 0; i < users.Count; i++)
        {
            var ours = AaveV3AccountCalculator.Calculate(market, users[i]);
            Assert.True(ours.Data is not null, $"{step}: {ours.UnavailableReason}");
            var d = ours.Data!;
            var theirs = onChain[i];
            var label = string.Create(CultureInfo.InvariantCulture, $"{step}/{_market.NameOf(users[i].User)} at block {head}");
            Assert.True(
                (theirs.TotalCollateralBase, theirs.TotalDebtBase, theirs.AvailableBorrowsBase, theirs.CurrentLiquidationThreshold, theirs.Ltv, theirs.HealthFactor) ==
                (d.TotalCollateralBase, d.TotalDebtBase, d.AvailableBorrowsBase, d.CurrentLiquidationThreshold, d.Ltv, d.HealthFactor),
                $"{label}: stored state gives {d}, the Pool says collateral {theirs.TotalCollateralBase} debt {theirs.TotalDebtBase} available {theirs.AvailableBorrowsBase} threshold {theirs.CurrentLiquidationThreshold} ltv {theirs.Ltv} health {theirs.HealthFactor}");
            var bitmap = await _market.Indexer.Reader.ReadUserConfigurationAsync(users[i].User, head, CancellationToken.None);
            Assert.True(bitmap == users[i].Configuration.Data, $"{label}: stored bitmap {users[i].Configuration.Data} != {bitmap}");
            Checks++;
        }

        _market.Output.WriteLine($"{step}: block {head}, {users.Count} users from the store equal to getUserAccountData");
        return state;
    }

    public async ValueTask DisposeAsync()
    {
        await ((IAsyncDisposable)Store).DisposeAsync();
        _rpc.Dispose();
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        if (_sqliteFile is not null)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var file in new[] { _sqliteFile, _sqliteFile + "-wal", _sqliteFile + "-shm" })
            {
                File.Delete(file);
            }
        }
    }

    private SqlChainStore OpenStore() => _sqliteFile is not null
        ? new ChainMargin.Storage.Sqlite.SqliteChainStore($"Data Source={_sqliteFile}", TimeProvider.System)
        : new PostgresChainStore(_database!.ConnectionString, TimeProvider.System);

    /// <summary>The feed AaveOracle prices the asset with (AaveOracle.getSourceOfAsset).</summary>
    public async Task<string> SourceOfAsync(EvmAddress asset)
    {
        var selector = Convert.ToHexStringLower(Nethereum.Util.Sha3Keccack.Current.CalculateHash("getSourceOfAsset(address)"u8.ToArray()).AsSpan(0, 4));
        var data = "0x" + selector + asset.Value[2..].PadLeft(64, '0');
        var answer = await _rpc.CallAsync("eth_call", [new Dictionary<string, string> { ["to"] = _market.Deployment.Oracle.Value, ["data"] = data }, "latest"], CancellationToken.None);
        return "0x" + answer.GetString()![^40..];
    }

    /// <summary>An aggregator's answer changed by writing its storage (slot 0): a price move with no Aave event at all.</summary>
    public async Task SetAnswerSilentlyAsync(string feed, BigInteger answer)
    {
        await _rpc.CallAsync("anvil_setStorageAt", [feed, "0x0", "0x" + answer.ToString("x64", CultureInfo.InvariantCulture)], CancellationToken.None);
        await _rpc.CallAsync("evm_mine", [], CancellationToken.None);
    }

    public async Task<string> SnapshotAsync() => (await _rpc.CallAsync("evm_snapshot", [], CancellationToken.None)).GetString()!;

    public async Task RevertAsync(string snapshot) => Assert.True((await _rpc.CallAsync("evm_revert", [snapshot], CancellationToken.None)).GetBoolean());

    private (ChainWatcher, AaveV3SpanIndexer) NewWatcher(IChainStore store, JsonRpcClient rpc)
    {
        var options = Options;
        var status = new ChainStatus(new ChainId(options.ChainId), options.Name, options.StaleAfter);
        var watcher = new ChainWatcher(options, store, rpc, status, TimeProvider.System, NullLogger.Instance);
        var d = _market.Deployment;
        var span = new AaveV3SpanIndexer(
            rpc, new ChainId(options.ChainId), new AaveV3MarketAddresses(d.Pool, d.PoolConfigurator, d.Oracle, d.Multicall3), d.FirstBlock, (IAaveV3StateStore)store);
        watcher.SpanIndexers.Add(span);
        watcher.Committed += (c, _) =>
        {
            Commits.Add(c);
            return Task.CompletedTask;
        };
        return (watcher, span);
    }
}
