using System.Numerics;
using ChainMargin.Core;
using Nethereum.Contracts;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.RPC.Eth.DTOs;

namespace ChainMargin.Contracts.Aave;

/// <summary>
/// Deploys the real Aave V3 (V3.0.2 bytecode from the @aave/core-v3 1.19.3 npm artifacts, libraries linked from each
/// artifact's linkReferences) onto a dev chain and lists reserves on it: the package's own MintableERC20 test tokens
/// and MockAggregator price feeds, one shared DefaultReserveInterestRateStrategy, e-mode categories. About 60
/// transactions, sent back to back (anvil automines each). Order matters (see docs in shared notes): the ACL admin is
/// set before ACLManager is constructed, the oracle before the Pool proxy, the Pool proxy before the token
/// implementations that are constructed with its address.
/// </summary>
public static class AaveV3Deployer
{
    public const int BaseCurrencyDecimals = 8;

    /// <summary>Libraries in deployment order; FlashLoanLogic links BorrowLogic, Pool links seven, PoolConfigurator one.</summary>
    private static readonly string[] Libraries =
        ["SupplyLogic", "BorrowLogic", "LiquidationLogic", "EModeLogic", "BridgeLogic", "PoolLogic", "ConfiguratorLogic", "FlashLoanLogic"];

    public static async Task<AaveDeployment> DeployAsync(
        string rpcUrl, ulong chainId, string deployerKey, AaveV3DeployOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= AaveV3DeployOptions.Default;
        var artifacts = AaveV3Artifacts.Load();
        var tx = await AaveV3Transactor.ForKeyAsync(rpcUrl, chainId, deployerKey).ConfigureAwait(false);
        var ct = cancellationToken;
        var me = tx.Address;
        var firstBlock = (long)(await tx.Web3.Eth.Blocks.GetBlockNumber.SendRequestAsync().ConfigureAwait(false)).Value + 1;

        var libraries = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in Libraries)
        {
            var artifact = artifacts.Get(name);
            libraries[name] = await tx.DeployAsync(artifact, artifact.Link(libraries), ct).ConfigureAwait(false);
        }

        async Task<string> Deploy(string name, params object[] args)
        {
            var artifact = artifacts.Get(name);
            return await tx.DeployAsync(artifact, artifact.Link(libraries), ct, args).ConfigureAwait(false);
        }

        var provider = await Deploy("PoolAddressesProvider", options.MarketId, me).ConfigureAwait(false);
        var dataProvider = await Deploy("AaveProtocolDataProvider", provider).ConfigureAwait(false);
        await tx.SendAsync(provider, new SetPoolDataProviderFunction { NewDataProvider = dataProvider }, ct).ConfigureAwait(false);
        var poolImpl = await Deploy("Pool", provider).ConfigureAwait(false);
        var configuratorImpl = await Deploy("PoolConfigurator").ConfigureAwait(false);

        await tx.SendAsync(provider, new SetAclAdminFunction { NewAclAdmin = me }, ct).ConfigureAwait(false);
        var acl = await Deploy("ACLManager", provider).ConfigureAwait(false);
        await tx.SendAsync(provider, new SetAclManagerFunction { NewAclManager = acl }, ct).ConfigureAwait(false);
        await tx.SendAsync(acl, new AddPoolAdminFunction { Admin = me }, ct).ConfigureAwait(false);
        await tx.SendAsync(acl, new AddAssetListingAdminFunction { Admin = me }, ct).ConfigureAwait(false);

        var tokens = new List<(AaveV3ReserveSpec Spec, string Token, string Feed)>();
        foreach (var spec in options.Reserves)
        {
            var token = await Deploy("MintableERC20", spec.Name, spec.Symbol, (byte)spec.Decimals).ConfigureAwait(false);
            var feed = await Deploy("MockAggregator", spec.Price).ConfigureAwait(false);
            tokens.Add((spec, token, feed));
        }

        // E-mode price sources are oracle keys of their own (addresses with no token behind them), each with a feed.
        var eModeSources = new Dictionary<int, (string Key, string Feed)>();
        foreach (var category in options.EModeCategories.Where(c => c.PriceSourcePrice is not null))
        {
            var key = "0x" + (0xE30DE000 + category.Id).ToString("x", System.Globalization.CultureInfo.InvariantCulture).PadLeft(40, '0');
            var feed = await Deploy("MockAggregator", category.PriceSourcePrice!.Value).ConfigureAwait(false);
            eModeSources[category.Id] = (key, feed);
        }

        var oracleAssets = tokens.Select(t => t.Token).Concat(eModeSources.Values.Select(s => s.Key)).ToArray();
        var oracleSources = tokens.Select(t => t.Feed).Concat(eModeSources.Values.Select(s => s.Feed)).ToArray();
        var oracle = await Deploy(
            "AaveOracle", provider, oracleAssets, oracleSources, EvmAddress.Zero.Value, EvmAddress.Zero.Value,
            BigInteger.Pow(10, BaseCurrencyDecimals)).ConfigureAwait(false);
        await tx.SendAsync(provider, new SetPriceOracleFunction { NewPriceOracle = oracle }, ct).ConfigureAwait(false);

        await tx.SendAsync(provider, new SetPoolImplFunction { NewPoolImpl = poolImpl }, ct).ConfigureAwait(false);
        await tx.SendAsync(provider, new SetPoolConfiguratorImplFunction { NewPoolConfiguratorImpl = configuratorImpl }, ct).ConfigureAwait(false);
        var pool = (await CallAsync(tx, provider, new GetPoolFunction(), ct).ConfigureAwait(false)).Let(h => AaveV3Abi.AddressWord(h, 0));
        var configurator = (await CallAsync(tx, provider, new GetPoolConfiguratorFunction(), ct).ConfigureAwait(false)).Let(h => AaveV3Abi.AddressWord(h, 0));

        var aTokenImpl = await Deploy("AToken", pool.Value).ConfigureAwait(false);
        var stableImpl = await Deploy("StableDebtToken", pool.Value).ConfigureAwait(false);
        var variableImpl = await Deploy("VariableDebtToken", pool.Value).ConfigureAwait(false);
        var s = options.Strategy;
        var strategy = await Deploy(
            "DefaultReserveInterestRateStrategy", provider, s.OptimalUsageRatio, s.BaseVariableBorrowRate, s.VariableRateSlope1,
            s.VariableRateSlope2, s.StableRateSlope1, s.StableRateSlope2, s.BaseStableRateOffset, s.StableRateExcessOffset,
            s.OptimalStableToTotalDebtRatio).ConfigureAwait(false);

        var inputs = tokens.Select(t => new InitReserveInput
        {
            ATokenImpl = aTokenImpl,
            StableDebtTokenImpl = stableImpl,
            VariableDebtTokenImpl = variableImpl,
            UnderlyingAssetDecimals = (byte)t.Spec.Decimals,
            InterestRateStrategyAddress = strategy,
            UnderlyingAsset = t.Token,
            Treasury = options.Treasury.Value,
            IncentivesController = EvmAddress.Zero.Value,
            ATokenName = "Aave " + t.Spec.Symbol,
            ATokenSymbol = "a" + t.Spec.Symbol,
            VariableDebtTokenName = "Aave variable debt " + t.Spec.Symbol,
            VariableDebtTokenSymbol = "variableDebt" + t.Spec.Symbol,
            StableDebtTokenName = "Aave stable debt " + t.Spec.Symbol,
            StableDebtTokenSymbol = "stableDebt" + t.Spec.Symbol,
            Params = [],
        }).ToList();
        await tx.SendAsync(configurator.Value, new InitReservesFunction { Input = inputs }, ct).ConfigureAwait(false);

        foreach (var (spec, token, _) in tokens)
        {
            await tx.SendAsync(configurator.Value, new ConfigureReserveAsCollateralFunction
            {
                Asset = token, Ltv = spec.Ltv, LiquidationThreshold = spec.LiquidationThreshold, LiquidationBonus = spec.LiquidationBonus,
            }, ct).ConfigureAwait(false);
            await tx.SendAsync(configurator.Value, new SetReserveBorrowingFunction { Asset = token, Enabled = true }, ct).ConfigureAwait(false);
            if (spec.StableBorrowing)
            {
                await tx.SendAsync(configurator.Value, new SetReserveStableRateBorrowingFunction { Asset = token, Enabled = true }, ct).ConfigureAwait(false);
            }

            if (spec.ReserveFactor != 0)
            {
                await tx.SendAsync(configurator.Value, new SetReserveFactorFunction { Asset = token, NewReserveFactor = spec.ReserveFactor }, ct).ConfigureAwait(false);
            }

            if (spec.LiquidationProtocolFee != 0)
            {
                await tx.SendAsync(configurator.Value, new SetLiquidationProtocolFeeFunction { Asset = token, NewFee = spec.LiquidationProtocolFee }, ct).ConfigureAwait(false);
            }

            // A debt ceiling can only be set while nobody supplies the asset: here, at listing.
            if (spec.DebtCeiling != 0)
            {
                await tx.SendAsync(configurator.Value, new SetDebtCeilingFunction { Asset = token, NewDebtCeiling = spec.DebtCeiling }, ct).ConfigureAwait(false);
            }

            if (spec.BorrowableInIsolation)
            {
                await tx.SendAsync(configurator.Value, new SetBorrowableInIsolationFunction { Asset = token, Borrowable = true }, ct).ConfigureAwait(false);
            }
        }

        foreach (var category in options.EModeCategories)
        {
            await tx.SendAsync(configurator.Value, new SetEModeCategoryFunction
            {
                CategoryId = (byte)category.Id,
                Ltv = (ushort)category.Ltv,
                LiquidationThreshold = (ushort)category.LiquidationThreshold,
                LiquidationBonus = (ushort)category.LiquidationBonus,
                Oracle = eModeSources.TryGetValue(category.Id, out var source) ? source.Key : EvmAddress.Zero.Value,
                Label = category.Label,
            }, ct).ConfigureAwait(false);
            foreach (var symbol in category.Assets)
            {
                var token = tokens.Single(t => t.Spec.Symbol == symbol).Token;
                await tx.SendAsync(configurator.Value, new SetAssetEModeCategoryFunction { Asset = token, NewCategoryId = (byte)category.Id }, ct).ConfigureAwait(false);
            }
        }

        var reserves = new List<AaveDeployedReserve>();
        foreach (var (spec, token, feed) in tokens)
        {
            var data = AaveV3Abi.DecodeReserveData(await CallAsync(tx, pool.Value, new PoolGetReserveDataFunction { Asset = token }, ct).ConfigureAwait(false));
            reserves.Add(new AaveDeployedReserve(
                spec.Symbol, EvmAddress.Parse(token), spec.Decimals, data.Id, data.AToken, data.StableDebtToken, data.VariableDebtToken, EvmAddress.Parse(feed)));
        }

        EvmAddress? multicall = null;
        if (options.InstallMulticall3)
        {
            // anvil_setCode: Multicall3's runtime code at its canonical address (no constructor state to miss).
            var canonical = Multicall.Multicall3Address.Canonical.ToLowerInvariant();
            var existing = await tx.Web3.Eth.GetCode.SendRequestAsync(canonical).ConfigureAwait(false);
            if (existing is null || existing.Length <= 2)
            {
                await tx.Web3.Client.SendRequestAsync(new Nethereum.JsonRpc.Client.RpcRequest(1, "anvil_setCode", canonical, Artifacts.Multicall3.DeployedBytecode))
                    .ConfigureAwait(false);
            }

            multicall = EvmAddress.Parse(canonical);
        }

        var lastBlock = (long)(await tx.Web3.Eth.Blocks.GetBlockNumber.SendRequestAsync().ConfigureAwait(false)).Value;
        return new AaveDeployment(
            chainId, EvmAddress.Parse(provider), pool, configurator, EvmAddress.Parse(acl), EvmAddress.Parse(oracle), EvmAddress.Parse(dataProvider),
            options.Treasury, EvmAddress.Parse(strategy), reserves,
            eModeSources.ToDictionary(e => e.Key, e => new AaveDeployedEModeSource(EvmAddress.Parse(e.Value.Key), EvmAddress.Parse(e.Value.Feed))),
            multicall, firstBlock, lastBlock, tx.TransactionCount);
    }

    private static async Task<string> CallAsync<TFunction>(AaveV3Transactor tx, string to, TFunction message, CancellationToken cancellationToken)
        where TFunction : FunctionMessage, new()
    {
        cancellationToken.ThrowIfCancellationRequested();
        var input = new CallInput(message.GetCallData().ToHex(true), to);
        return await tx.Web3.Eth.Transactions.Call.SendRequestAsync(input, BlockParameter.CreateLatest()).ConfigureAwait(false);
    }

    private static TResult Let<T, TResult>(this T value, Func<T, TResult> f) => f(value);
}

/// <summary>What to list: reserves (with the package's test tokens), the shared rate strategy, e-mode categories.</summary>
public sealed record AaveV3DeployOptions(
    string MarketId,
    EvmAddress Treasury,
    IReadOnlyList<AaveV3ReserveSpec> Reserves,
    AaveV3RateStrategySpec Strategy,
    IReadOnlyList<AaveV3EModeSpec> EModeCategories,
    bool InstallMulticall3 = true)
{
    private static readonly BigInteger Ray = BigInteger.Pow(10, 27);

    /// <summary>
    /// USDC (6 decimals, $1, stable borrowing on), WBTC (8, $60,000, isolated: $10M debt ceiling), WETH (18, $3,000,
    /// 10% liquidation protocol fee); USDC and WBTC may be borrowed in isolation;
    /// e-mode 1 "ETH correlated" (WETH) priced by its own source, e-mode 2 "BTC correlated" (WBTC) without one.
    /// Steep slopes so that weeks of interest move the numbers visibly.
    /// </summary>
    public static AaveV3DeployOptions Default { get; } = new(
        "ChainMargin devnet",
        EvmAddress.Parse("0x00000000000000000000000000000000007ea501"),
        [
            new AaveV3ReserveSpec("USD Coin", "USDC", 6, 1_0000_0000, 8000, 8500, 10500, 1000, 0, StableBorrowing: true, BorrowableInIsolation: true),
            new AaveV3ReserveSpec("Wrapped BTC", "WBTC", 8, 60_000_0000_0000, 7000, 7500, 11000, 2000, 0, StableBorrowing: false, DebtCeiling: 10_000_000_00, BorrowableInIsolation: true),
            new AaveV3ReserveSpec("Wrapped Ether", "WETH", 18, 3_000_0000_0000, 8000, 8250, 10500, 1000, 1000, StableBorrowing: false),
        ],
        new AaveV3RateStrategySpec(
            OptimalUsageRatio: Ray * 80 / 100, BaseVariableBorrowRate: Ray / 100, VariableRateSlope1: Ray * 8 / 100,
            VariableRateSlope2: Ray * 150 / 100, StableRateSlope1: Ray * 4 / 100, StableRateSlope2: Ray * 150 / 100,
            BaseStableRateOffset: Ray * 3 / 100, StableRateExcessOffset: Ray * 8 / 100, OptimalStableToTotalDebtRatio: Ray * 20 / 100),
        [
            new AaveV3EModeSpec(1, "ETH correlated", 9000, 9300, 10100, 2_990_0000_0000, ["WETH"]),
            new AaveV3EModeSpec(2, "BTC correlated", 9200, 9500, 10200, null, ["WBTC"]),
        ]);
}

/// <summary>
/// A reserve to list. Price in base currency (8 decimals); LTV, threshold, bonus, factor and fee in basis points; a
/// non-zero debt ceiling (2 decimals, USD) makes the asset isolated.
/// </summary>
public sealed record AaveV3ReserveSpec(
    string Name, string Symbol, int Decimals, long Price, int Ltv, int LiquidationThreshold, int LiquidationBonus,
    int ReserveFactor, int LiquidationProtocolFee, bool StableBorrowing, long DebtCeiling = 0, bool BorrowableInIsolation = false);

/// <summary>DefaultReserveInterestRateStrategy's constructor arguments, all rays.</summary>
public sealed record AaveV3RateStrategySpec(
    BigInteger OptimalUsageRatio, BigInteger BaseVariableBorrowRate, BigInteger VariableRateSlope1, BigInteger VariableRateSlope2,
    BigInteger StableRateSlope1, BigInteger StableRateSlope2, BigInteger BaseStableRateOffset, BigInteger StableRateExcessOffset,
    BigInteger OptimalStableToTotalDebtRatio);

/// <summary>An e-mode category; with a price source price, a feed and an oracle key are deployed for it.</summary>
public sealed record AaveV3EModeSpec(
    int Id, string Label, int Ltv, int LiquidationThreshold, int LiquidationBonus, long? PriceSourcePrice, IReadOnlyList<string> Assets);

/// <summary>Addresses of a deployed Aave V3 market and the blocks its deployment took.</summary>
public sealed record AaveDeployment(
    ulong ChainId,
    EvmAddress AddressesProvider,
    EvmAddress Pool,
    EvmAddress PoolConfigurator,
    EvmAddress AclManager,
    EvmAddress Oracle,
    EvmAddress DataProvider,
    EvmAddress Treasury,
    EvmAddress InterestRateStrategy,
    IReadOnlyList<AaveDeployedReserve> Reserves,
    IReadOnlyDictionary<int, AaveDeployedEModeSource> EModePriceSources,
    EvmAddress? Multicall3,
    long FirstBlock,
    long LastBlock,
    long TransactionCount)
{
    public AaveDeployedReserve Reserve(string symbol) =>
        Reserves.FirstOrDefault(r => string.Equals(r.Symbol, symbol, StringComparison.Ordinal))
        ?? throw new KeyNotFoundException($"no reserve {symbol} in the deployment");
}

public sealed record AaveDeployedReserve(
    string Symbol, EvmAddress Asset, int Decimals, int Id, EvmAddress AToken, EvmAddress StableDebtToken, EvmAddress VariableDebtToken,
    EvmAddress Aggregator);

/// <summary>An e-mode category's oracle key and the feed behind it.</summary>
public sealed record AaveDeployedEModeSource(EvmAddress Key, EvmAddress Feed);
