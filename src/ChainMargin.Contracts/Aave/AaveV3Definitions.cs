using System.Numerics;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Contracts;

#pragma warning disable CA1002, CA2227 // Nethereum's ABI encoder binds to settable List<T> properties.
#pragma warning disable CA1711 // Member names mirror the ABI (aTokenImpl, newPoolImpl).

namespace ChainMargin.Contracts.Aave;

// Typed definitions of the Aave V3.0.2 functions we call or read (@aave/core-v3 1.19.3 ABIs). Structs are written
// once here; reads take an explicit block at the call site.

// ---- Pool: user actions ----

[Function("supply")]
public sealed class PoolSupplyFunction : FunctionMessage
{
    [Parameter("address", "asset", 1)] public string Asset { get; set; } = "";
    [Parameter("uint256", "amount", 2)] public BigInteger Amount { get; set; }
    [Parameter("address", "onBehalfOf", 3)] public string OnBehalfOf { get; set; } = "";
    [Parameter("uint16", "referralCode", 4)] public ushort ReferralCode { get; set; }
}

[Function("withdraw", "uint256")]
public sealed class PoolWithdrawFunction : FunctionMessage
{
    [Parameter("address", "asset", 1)] public string Asset { get; set; } = "";
    [Parameter("uint256", "amount", 2)] public BigInteger Amount { get; set; }
    [Parameter("address", "to", 3)] public string To { get; set; } = "";
}

/// <summary>Interest rate mode 1 = stable, 2 = variable.</summary>
[Function("borrow")]
public sealed class PoolBorrowFunction : FunctionMessage
{
    [Parameter("address", "asset", 1)] public string Asset { get; set; } = "";
    [Parameter("uint256", "amount", 2)] public BigInteger Amount { get; set; }
    [Parameter("uint256", "interestRateMode", 3)] public BigInteger InterestRateMode { get; set; }
    [Parameter("uint16", "referralCode", 4)] public ushort ReferralCode { get; set; }
    [Parameter("address", "onBehalfOf", 5)] public string OnBehalfOf { get; set; } = "";
}

[Function("repay", "uint256")]
public sealed class PoolRepayFunction : FunctionMessage
{
    [Parameter("address", "asset", 1)] public string Asset { get; set; } = "";
    [Parameter("uint256", "amount", 2)] public BigInteger Amount { get; set; }
    [Parameter("uint256", "interestRateMode", 3)] public BigInteger InterestRateMode { get; set; }
    [Parameter("address", "onBehalfOf", 4)] public string OnBehalfOf { get; set; } = "";
}

[Function("liquidationCall")]
public sealed class PoolLiquidationCallFunction : FunctionMessage
{
    [Parameter("address", "collateralAsset", 1)] public string CollateralAsset { get; set; } = "";
    [Parameter("address", "debtAsset", 2)] public string DebtAsset { get; set; } = "";
    [Parameter("address", "user", 3)] public string User { get; set; } = "";
    [Parameter("uint256", "debtToCover", 4)] public BigInteger DebtToCover { get; set; }
    [Parameter("bool", "receiveAToken", 5)] public bool ReceiveAToken { get; set; }
}

[Function("setUserEMode")]
public sealed class PoolSetUserEModeFunction : FunctionMessage
{
    [Parameter("uint8", "categoryId", 1)] public byte CategoryId { get; set; }
}

[Function("setUserUseReserveAsCollateral")]
public sealed class PoolSetUserUseReserveAsCollateralFunction : FunctionMessage
{
    [Parameter("address", "asset", 1)] public string Asset { get; set; } = "";
    [Parameter("bool", "useAsCollateral", 2)] public bool UseAsCollateral { get; set; }
}

// ---- Pool: reads ----

[Function("getUserAccountData", typeof(UserAccountDataOutput))]
public sealed class PoolGetUserAccountDataFunction : FunctionMessage
{
    [Parameter("address", "user", 1)] public string User { get; set; } = "";
}

[FunctionOutput]
public sealed class UserAccountDataOutput : IFunctionOutputDTO
{
    [Parameter("uint256", "totalCollateralBase", 1)] public BigInteger TotalCollateralBase { get; set; }
    [Parameter("uint256", "totalDebtBase", 2)] public BigInteger TotalDebtBase { get; set; }
    [Parameter("uint256", "availableBorrowsBase", 3)] public BigInteger AvailableBorrowsBase { get; set; }
    [Parameter("uint256", "currentLiquidationThreshold", 4)] public BigInteger CurrentLiquidationThreshold { get; set; }
    [Parameter("uint256", "ltv", 5)] public BigInteger Ltv { get; set; }
    [Parameter("uint256", "healthFactor", 6)] public BigInteger HealthFactor { get; set; }
}

/// <summary>Returns DataTypes.ReserveData: a static tuple of 15 words (configuration first).</summary>
[Function("getReserveData")]
public sealed class PoolGetReserveDataFunction : FunctionMessage
{
    [Parameter("address", "asset", 1)] public string Asset { get; set; } = "";
}

/// <summary>Returns DataTypes.UserConfigurationMap: one word.</summary>
[Function("getUserConfiguration", "uint256")]
public sealed class PoolGetUserConfigurationFunction : FunctionMessage
{
    [Parameter("address", "user", 1)] public string User { get; set; } = "";
}

[Function("getUserEMode", "uint256")]
public sealed class PoolGetUserEModeFunction : FunctionMessage
{
    [Parameter("address", "user", 1)] public string User { get; set; } = "";
}

/// <summary>Returns DataTypes.EModeCategory (ltv, liquidationThreshold, liquidationBonus, priceSource, label).</summary>
[Function("getEModeCategoryData")]
public sealed class PoolGetEModeCategoryDataFunction : FunctionMessage
{
    [Parameter("uint8", "id", 1)] public byte Id { get; set; }
}

[Function("getReservesList", "address[]")]
public sealed class PoolGetReservesListFunction : FunctionMessage
{
}

// ---- PoolAddressesProvider ----

[Function("setACLAdmin")]
public sealed class SetAclAdminFunction : FunctionMessage
{
    [Parameter("address", "newAclAdmin", 1)] public string NewAclAdmin { get; set; } = "";
}

[Function("setACLManager")]
public sealed class SetAclManagerFunction : FunctionMessage
{
    [Parameter("address", "newAclManager", 1)] public string NewAclManager { get; set; } = "";
}

[Function("setPriceOracle")]
public sealed class SetPriceOracleFunction : FunctionMessage
{
    [Parameter("address", "newPriceOracle", 1)] public string NewPriceOracle { get; set; } = "";
}

[Function("setPoolImpl")]
public sealed class SetPoolImplFunction : FunctionMessage
{
    [Parameter("address", "newPoolImpl", 1)] public string NewPoolImpl { get; set; } = "";
}

[Function("setPoolConfiguratorImpl")]
public sealed class SetPoolConfiguratorImplFunction : FunctionMessage
{
    [Parameter("address", "newPoolConfiguratorImpl", 1)] public string NewPoolConfiguratorImpl { get; set; } = "";
}

[Function("setPoolDataProvider")]
public sealed class SetPoolDataProviderFunction : FunctionMessage
{
    [Parameter("address", "newDataProvider", 1)] public string NewDataProvider { get; set; } = "";
}

[Function("getPool", "address")]
public sealed class GetPoolFunction : FunctionMessage
{
}

[Function("getPoolConfigurator", "address")]
public sealed class GetPoolConfiguratorFunction : FunctionMessage
{
}

// ---- ACLManager ----

[Function("addPoolAdmin")]
public sealed class AddPoolAdminFunction : FunctionMessage
{
    [Parameter("address", "admin", 1)] public string Admin { get; set; } = "";
}

[Function("addRiskAdmin")]
public sealed class AddRiskAdminFunction : FunctionMessage
{
    [Parameter("address", "admin", 1)] public string Admin { get; set; } = "";
}

[Function("addAssetListingAdmin")]
public sealed class AddAssetListingAdminFunction : FunctionMessage
{
    [Parameter("address", "admin", 1)] public string Admin { get; set; } = "";
}

// ---- PoolConfigurator ----

public sealed class InitReserveInput
{
    [Parameter("address", "aTokenImpl", 1)] public string ATokenImpl { get; set; } = "";
    [Parameter("address", "stableDebtTokenImpl", 2)] public string StableDebtTokenImpl { get; set; } = "";
    [Parameter("address", "variableDebtTokenImpl", 3)] public string VariableDebtTokenImpl { get; set; } = "";
    [Parameter("uint8", "underlyingAssetDecimals", 4)] public byte UnderlyingAssetDecimals { get; set; }
    [Parameter("address", "interestRateStrategyAddress", 5)] public string InterestRateStrategyAddress { get; set; } = "";
    [Parameter("address", "underlyingAsset", 6)] public string UnderlyingAsset { get; set; } = "";
    [Parameter("address", "treasury", 7)] public string Treasury { get; set; } = "";
    [Parameter("address", "incentivesController", 8)] public string IncentivesController { get; set; } = "";
    [Parameter("string", "aTokenName", 9)] public string ATokenName { get; set; } = "";
    [Parameter("string", "aTokenSymbol", 10)] public string ATokenSymbol { get; set; } = "";
    [Parameter("string", "variableDebtTokenName", 11)] public string VariableDebtTokenName { get; set; } = "";
    [Parameter("string", "variableDebtTokenSymbol", 12)] public string VariableDebtTokenSymbol { get; set; } = "";
    [Parameter("string", "stableDebtTokenName", 13)] public string StableDebtTokenName { get; set; } = "";
    [Parameter("string", "stableDebtTokenSymbol", 14)] public string StableDebtTokenSymbol { get; set; } = "";
    [Parameter("bytes", "params", 15)] public byte[] Params { get; set; } = [];
}

[Function("initReserves")]
public sealed class InitReservesFunction : FunctionMessage
{
    [Parameter("tuple[]", "input", 1)] public List<InitReserveInput> Input { get; set; } = [];
}

[Function("configureReserveAsCollateral")]
public sealed class ConfigureReserveAsCollateralFunction : FunctionMessage
{
    [Parameter("address", "asset", 1)] public string Asset { get; set; } = "";
    [Parameter("uint256", "ltv", 2)] public BigInteger Ltv { get; set; }
    [Parameter("uint256", "liquidationThreshold", 3)] public BigInteger LiquidationThreshold { get; set; }
    [Parameter("uint256", "liquidationBonus", 4)] public BigInteger LiquidationBonus { get; set; }
}

[Function("setReserveBorrowing")]
public sealed class SetReserveBorrowingFunction : FunctionMessage
{
    [Parameter("address", "asset", 1)] public string Asset { get; set; } = "";
    [Parameter("bool", "enabled", 2)] public bool Enabled { get; set; }
}

[Function("setReserveStableRateBorrowing")]
public sealed class SetReserveStableRateBorrowingFunction : FunctionMessage
{
    [Parameter("address", "asset", 1)] public string Asset { get; set; } = "";
    [Parameter("bool", "enabled", 2)] public bool Enabled { get; set; }
}

[Function("setReserveFactor")]
public sealed class SetReserveFactorFunction : FunctionMessage
{
    [Parameter("address", "asset", 1)] public string Asset { get; set; } = "";
    [Parameter("uint256", "newReserveFactor", 2)] public BigInteger NewReserveFactor { get; set; }
}

[Function("setLiquidationProtocolFee")]
public sealed class SetLiquidationProtocolFeeFunction : FunctionMessage
{
    [Parameter("address", "asset", 1)] public string Asset { get; set; } = "";
    [Parameter("uint256", "newFee", 2)] public BigInteger NewFee { get; set; }
}

[Function("setEModeCategory")]
public sealed class SetEModeCategoryFunction : FunctionMessage
{
    [Parameter("uint8", "categoryId", 1)] public byte CategoryId { get; set; }
    [Parameter("uint16", "ltv", 2)] public ushort Ltv { get; set; }
    [Parameter("uint16", "liquidationThreshold", 3)] public ushort LiquidationThreshold { get; set; }
    [Parameter("uint16", "liquidationBonus", 4)] public ushort LiquidationBonus { get; set; }
    [Parameter("address", "oracle", 5)] public string Oracle { get; set; } = "";
    [Parameter("string", "label", 6)] public string Label { get; set; } = "";
}

[Function("setAssetEModeCategory")]
public sealed class SetAssetEModeCategoryFunction : FunctionMessage
{
    [Parameter("address", "asset", 1)] public string Asset { get; set; } = "";
    [Parameter("uint8", "newCategoryId", 2)] public byte NewCategoryId { get; set; }
}

[Function("setDebtCeiling")]
public sealed class SetDebtCeilingFunction : FunctionMessage
{
    [Parameter("address", "asset", 1)] public string Asset { get; set; } = "";
    [Parameter("uint256", "newDebtCeiling", 2)] public BigInteger NewDebtCeiling { get; set; }
}

[Function("setBorrowableInIsolation")]
public sealed class SetBorrowableInIsolationFunction : FunctionMessage
{
    [Parameter("address", "asset", 1)] public string Asset { get; set; } = "";
    [Parameter("bool", "borrowable", 2)] public bool Borrowable { get; set; }
}

// ---- AaveOracle ----

[Function("setAssetSources")]
public sealed class SetAssetSourcesFunction : FunctionMessage
{
    [Parameter("address[]", "assets", 1)] public List<string> Assets { get; set; } = [];
    [Parameter("address[]", "sources", 2)] public List<string> Sources { get; set; } = [];
}

[Function("getAssetPrice", "uint256")]
public sealed class GetAssetPriceFunction : FunctionMessage
{
    [Parameter("address", "asset", 1)] public string Asset { get; set; } = "";
}

[Function("getAssetsPrices", "uint256[]")]
public sealed class GetAssetsPricesFunction : FunctionMessage
{
    [Parameter("address[]", "assets", 1)] public List<string> Assets { get; set; } = [];
}

// ---- Tokens ----

[Function("approve", "bool")]
public sealed class Erc20ApproveFunction : FunctionMessage
{
    [Parameter("address", "spender", 1)] public string Spender { get; set; } = "";
    [Parameter("uint256", "amount", 2)] public BigInteger Amount { get; set; }
}

/// <summary>The package's MintableERC20.mint(address, uint256): test tokens anyone may mint.</summary>
[Function("mint", "bool")]
public sealed class MintableErc20MintFunction : FunctionMessage
{
    [Parameter("address", "account", 1)] public string Account { get; set; } = "";
    [Parameter("uint256", "value", 2)] public BigInteger Value { get; set; }
}

[Function("balanceOf", "uint256")]
public sealed class Erc20BalanceOfFunction : FunctionMessage
{
    [Parameter("address", "account", 1)] public string Account { get; set; } = "";
}

[Function("scaledBalanceOf", "uint256")]
public sealed class ScaledBalanceOfFunction : FunctionMessage
{
    [Parameter("address", "user", 1)] public string User { get; set; } = "";
}

[Function("principalBalanceOf", "uint256")]
public sealed class StablePrincipalBalanceOfFunction : FunctionMessage
{
    [Parameter("address", "user", 1)] public string User { get; set; } = "";
}

[Function("getUserStableRate", "uint256")]
public sealed class GetUserStableRateFunction : FunctionMessage
{
    [Parameter("address", "user", 1)] public string User { get; set; } = "";
}

[Function("getUserLastUpdated", "uint40")]
public sealed class GetUserLastUpdatedFunction : FunctionMessage
{
    [Parameter("address", "user", 1)] public string User { get; set; } = "";
}
