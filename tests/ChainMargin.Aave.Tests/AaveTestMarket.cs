using System.Diagnostics;
using System.Numerics;
using ChainMargin.Contracts.Aave;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Core;
using ChainMargin.Host.Aave;
using ChainMargin.Indexing.Aave;
using ChainMargin.Indexing.Rpc;
using ChainMargin.Risk.Aave;
using Nethereum.RPC.Eth.DTOs;
using Xunit;
using Xunit.Abstractions;

namespace ChainMargin.Aave.Tests;

/// <summary>
/// A real Aave V3 market on a fresh anvil, named test users, and the indexer under test. Every user action is a real
/// transaction; <see cref="AssertIndexerMatchesPoolAsync"/> checks the indexer's numbers against the Pool.
/// </summary>
internal sealed class AaveTestMarket : IAsyncDisposable
{
    public static readonly BigInteger MaxUint = (BigInteger.One << 256) - 1;

    private readonly Dictionary<string, AaveV3Transactor> _users = [];
    private readonly Dictionary<EvmAddress, string> _names = [];
    private readonly JsonRpcClient _rpc;

    private AaveTestMarket(AnvilNode node, AaveDeployment deployment, ITestOutputHelper output)
    {
        Node = node;
        Deployment = deployment;
        Output = output;
        Chain = new DevChain(node);
        Admin = AaveV3Transactor.NodeSigned(node.RpcUrl, DevChain.AddressOf(AnvilNode.DeployerKey));
        _rpc = new JsonRpcClient([node.RpcUrl]);
        Indexer = new AaveV3Indexer(_rpc, new ChainId(node.ChainId), new AaveV3MarketAddresses(deployment.Pool, deployment.PoolConfigurator, deployment.Oracle, deployment.Multicall3), deployment.FirstBlock);
        _names[deployment.Treasury] = "treasury";
    }

    public AnvilNode Node { get; }

    public AaveDeployment Deployment { get; }

    public ITestOutputHelper Output { get; }

    public DevChain Chain { get; }

    public AaveV3Transactor Admin { get; }

    public AaveV3Indexer Indexer { get; }

    public int Checks { get; private set; }

    public static async Task<AaveTestMarket> StartAsync(ulong chainId, ITestOutputHelper output)
    {
        var node = await AnvilNode.StartAsync(chainId);
        var watch = Stopwatch.StartNew();
        var deployment = await AaveV3Deployer.DeployAsync(node.RpcUrl, node.ChainId, AnvilNode.DeployerKey);
        output.WriteLine($"Aave V3 deployed: {deployment.TransactionCount} transactions in {watch.ElapsedMilliseconds} ms");
        return new AaveTestMarket(node, deployment, output);
    }

    public EvmAddress Address(string user) => EvmAddress.Parse(_users[user].Address);

    public AaveDeployedReserve Reserve(string symbol) => Deployment.Reserve(symbol);

    public static BigInteger Units(AaveDeployedReserve reserve, decimal amount)
    {
        var scaled = amount;
        for (var i = 0; i < reserve.Decimals; i++)
        {
            scaled *= 10;
        }

        return new BigInteger(decimal.Truncate(scaled));
    }

    public BigInteger Units(string symbol, decimal amount) => Units(Reserve(symbol), amount);

    /// <summary>Creates a user with gas money, tokens of every reserve, and unlimited Pool allowances.</summary>
    public async Task AddUserAsync(string name, params (string Symbol, decimal Amount)[] tokens)
    {
        var key = DevChain.KeyFor(name);
        var address = DevChain.AddressOf(key);
        await Chain.FundAsync(address, BigInteger.Pow(10, 21));
        await Chain.ImpersonateAsync(address);
        var tx = AaveV3Transactor.NodeSigned(Node.RpcUrl, address);
        _users[name] = tx;
        _names[EvmAddress.Parse(address)] = name;
        foreach (var (symbol, amount) in tokens)
        {
            var reserve = Reserve(symbol);
            await Admin.SendAsync(reserve.Asset.Value, new MintableErc20MintFunction { Account = address, Value = Units(reserve, amount) });
            await tx.SendAsync(reserve.Asset.Value, new Erc20ApproveFunction { Spender = Deployment.Pool.Value, Amount = MaxUint });
        }
    }

    public Task SupplyAsync(string user, string symbol, decimal amount) =>
        _users[user].SendAsync(Deployment.Pool.Value, new PoolSupplyFunction
        {
            Asset = Reserve(symbol).Asset.Value, Amount = Units(symbol, amount), OnBehalfOf = _users[user].Address,
        });

    public Task BorrowAsync(string user, string symbol, decimal amount, int rateMode = 2) =>
        _users[user].SendAsync(Deployment.Pool.Value, new PoolBorrowFunction
        {
            Asset = Reserve(symbol).Asset.Value, Amount = Units(symbol, amount), InterestRateMode = rateMode, OnBehalfOf = _users[user].Address,
        });

    public Task RepayAsync(string user, string symbol, BigInteger rawAmount, int rateMode = 2) =>
        _users[user].SendAsync(Deployment.Pool.Value, new PoolRepayFunction
        {
            Asset = Reserve(symbol).Asset.Value, Amount = rawAmount, InterestRateMode = rateMode, OnBehalfOf = _users[user].Address,
        });

    public Task WithdrawAsync(string user, string symbol, BigInteger rawAmount) =>
        _users[user].SendAsync(Deployment.Pool.Value, new PoolWithdrawFunction
        {
            Asset = Reserve(symbol).Asset.Value, Amount = rawAmount, To = _users[user].Address,
        });

    public Task SetEModeAsync(string user, int category) =>
        _users[user].SendAsync(Deployment.Pool.Value, new PoolSetUserEModeFunction { CategoryId = (byte)category });

    public Task SetCollateralAsync(string user, string symbol, bool on) =>
        _users[user].SendAsync(Deployment.Pool.Value, new PoolSetUserUseReserveAsCollateralFunction { Asset = Reserve(symbol).Asset.Value, UseAsCollateral = on });

    public Task<TransactionReceipt> LiquidateAsync(string liquidator, string collateral, string debt, string user, BigInteger debtToCover, bool receiveAToken) =>
        _users[liquidator].SendAsync(Deployment.Pool.Value, new PoolLiquidationCallFunction
        {
            CollateralAsset = Reserve(collateral).Asset.Value, DebtAsset = Reserve(debt).Asset.Value, User = _users[user].Address,
            DebtToCover = debtToCover, ReceiveAToken = receiveAToken,
        });

    /// <summary>A price move as on a live market: a new feed for the asset, registered with AaveOracle.setAssetSources.</summary>
    public async Task SetPriceAsync(EvmAddress asset, long price)
    {
        var artifact = AaveV3Artifacts.Load().Get("MockAggregator");
        var feed = await Admin.DeployAsync(artifact, artifact.Bytecode, CancellationToken.None, price);
        await Admin.SendAsync(Deployment.Oracle.Value, new SetAssetSourcesFunction { Assets = [asset.Value], Sources = [feed] });
    }

    public async Task<long> LatestBlockAsync() => await Chain.BlockNumberAsync();

    /// <summary>Moves time forward by mining one empty block <paramref name="seconds"/> after the latest.</summary>
    public async Task JumpAsync(long seconds)
    {
        var latest = await Chain.BlockNumberAsync();
        await Chain.MineAsync(await Chain.TimestampAsync(latest) + seconds);
    }

    public async Task<AaveV3Snapshot> SnapshotAsync() => await Indexer.SnapshotAsync(await LatestBlockAsync(), CancellationToken.None);

    /// <summary>
    /// Indexes up to the latest block and checks, for every user the indexer knows, that its computed account data
    /// equals Pool.getUserAccountData at that block to the last unit; also audits the event-built user bitmaps
    /// against getUserConfiguration and the event-built reserve indices against getReserveData.
    /// </summary>
    public async Task<AaveV3Snapshot> AssertIndexerMatchesPoolAsync(string step)
    {
        var snapshot = await SnapshotAsync();
        Assert.Empty(Indexer.Rejected);
        var market = AaveV3Inputs.Market(snapshot);
        var users = snapshot.Users.Select(u => u.User).ToList();
        var onChain = await Indexer.Reader.ReadAccountDataAsync(users, snapshot.Block.Number, CancellationToken.None);
        for (var i = 0; i < users.Count; i++)
        {
            var name = _names.GetValueOrDefault(users[i], users[i].Value);
            var result = AaveV3AccountCalculator.Calculate(market, AaveV3Inputs.User(snapshot.Users[i]));
            Assert.True(result.Data is not null, $"{step}/{name}: {result.UnavailableReason}");
            var ours = result.Data!;
            var theirs = onChain[i];
            var label = $"{step}/{name} at block {snapshot.Block.Number}";
            Assert.True(theirs.TotalCollateralBase == ours.TotalCollateralBase, $"{label}: collateral {ours.TotalCollateralBase} != {theirs.TotalCollateralBase}");
            Assert.True(theirs.TotalDebtBase == ours.TotalDebtBase, $"{label}: debt {ours.TotalDebtBase} != {theirs.TotalDebtBase}");
            Assert.True(theirs.AvailableBorrowsBase == ours.AvailableBorrowsBase, $"{label}: available {ours.AvailableBorrowsBase} != {theirs.AvailableBorrowsBase}");
            Assert.True(theirs.CurrentLiquidationThreshold == ours.CurrentLiquidationThreshold, $"{label}: threshold {ours.CurrentLiquidationThreshold} != {theirs.CurrentLiquidationThreshold}");
            Assert.True(theirs.Ltv == ours.Ltv, $"{label}: ltv {ours.Ltv} != {theirs.Ltv}");
            Assert.True(theirs.HealthFactor == ours.HealthFactor, $"{label}: health {ours.HealthFactor} != {theirs.HealthFactor}");
            var bitmap = await Indexer.Reader.ReadUserConfigurationAsync(users[i], snapshot.Block.Number, CancellationToken.None);
            Assert.True(bitmap == snapshot.Users[i].Configuration, $"{label}: bitmap {snapshot.Users[i].Configuration} != {bitmap}");
            Checks++;
        }

        foreach (var reserve in snapshot.Market.Reserves)
        {
            if (Indexer.Tracker.IndexesOf(reserve.Asset) is { } fromEvents)
            {
                Assert.Equal(reserve.Data.LiquidityIndex, fromEvents.LiquidityIndex);
                Assert.Equal(reserve.Data.VariableBorrowIndex, fromEvents.VariableBorrowIndex);
                Assert.Equal(reserve.Data.CurrentLiquidityRate, fromEvents.LiquidityRate);
                Assert.Equal(reserve.Data.CurrentVariableBorrowRate, fromEvents.VariableBorrowRate);
                Assert.Equal(reserve.Data.LastUpdateTimestamp, fromEvents.LastUpdateTimestamp);
            }
        }

        // The same market read without Multicall3 (a batch of plain eth_calls) must say the same.
        var plain = await new AaveV3MarketReader(_rpc, Deployment.Pool, Deployment.Oracle).ReadAsync(
            snapshot.Block.Number, snapshot.Reserves.Select(r => r.Asset).ToList(), snapshot.Users.Select(u => u.EModeCategory), CancellationToken.None);
        Assert.Equal(snapshot.Market.Timestamp, plain.Timestamp);
        Assert.Equal(snapshot.Market.Reserves, plain.Reserves);
        Assert.Equal(snapshot.Market.EModeCategories, plain.EModeCategories);

        Output.WriteLine($"{step}: block {snapshot.Block.Number}, {users.Count} users equal to getUserAccountData");
        return snapshot;
    }

    public string NameOf(EvmAddress address) => _names.GetValueOrDefault(address, address.Value);

    public async ValueTask DisposeAsync()
    {
        _rpc.Dispose();
        await Node.DisposeAsync();
    }
}
