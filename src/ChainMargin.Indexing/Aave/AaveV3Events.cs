using System.Numerics;
using ChainMargin.Core;

namespace ChainMargin.Indexing.Aave;

// The Aave V3.0.2 events we index, as chain facts keyed by (chain, block hash, log index). Amounts are raw integers
// exactly as emitted; indices and rates are rays. Mint/Burn values of aTokens and variable debt tokens are NOT scaled
// (BalanceTransfer's value is); the tracker turns them into scaled deltas.

public sealed record AaveSupply(BlockRef Block, int LogIndex, EvmAddress Contract, EvmAddress Reserve, EvmAddress User, EvmAddress OnBehalfOf, BigInteger Amount, int ReferralCode)
    : ChainFact(Block, LogIndex, Contract);

public sealed record AaveWithdraw(BlockRef Block, int LogIndex, EvmAddress Contract, EvmAddress Reserve, EvmAddress User, EvmAddress To, BigInteger Amount)
    : ChainFact(Block, LogIndex, Contract);

/// <summary>InterestRateMode 1 = stable, 2 = variable; BorrowRate is the rate the borrow was opened at (ray).</summary>
public sealed record AaveBorrow(
    BlockRef Block, int LogIndex, EvmAddress Contract, EvmAddress Reserve, EvmAddress User, EvmAddress OnBehalfOf, BigInteger Amount,
    int InterestRateMode, BigInteger BorrowRate, int ReferralCode)
    : ChainFact(Block, LogIndex, Contract);

public sealed record AaveRepay(BlockRef Block, int LogIndex, EvmAddress Contract, EvmAddress Reserve, EvmAddress User, EvmAddress Repayer, BigInteger Amount, bool UseATokens)
    : ChainFact(Block, LogIndex, Contract);

public sealed record AaveLiquidationCall(
    BlockRef Block, int LogIndex, EvmAddress Contract, EvmAddress CollateralAsset, EvmAddress DebtAsset, EvmAddress User,
    BigInteger DebtToCover, BigInteger LiquidatedCollateralAmount, EvmAddress Liquidator, bool ReceiveAToken)
    : ChainFact(Block, LogIndex, Contract);

public sealed record AaveReserveDataUpdated(
    BlockRef Block, int LogIndex, EvmAddress Contract, EvmAddress Reserve, BigInteger LiquidityRate, BigInteger StableBorrowRate,
    BigInteger VariableBorrowRate, BigInteger LiquidityIndex, BigInteger VariableBorrowIndex)
    : ChainFact(Block, LogIndex, Contract);

/// <summary>ReserveUsedAsCollateralEnabled (Enabled = true) or ReserveUsedAsCollateralDisabled.</summary>
public sealed record AaveCollateralSwitched(BlockRef Block, int LogIndex, EvmAddress Contract, EvmAddress Reserve, EvmAddress User, bool Enabled)
    : ChainFact(Block, LogIndex, Contract);

public sealed record AaveUserEModeSet(BlockRef Block, int LogIndex, EvmAddress Contract, EvmAddress User, int CategoryId)
    : ChainFact(Block, LogIndex, Contract);

/// <summary>Mint of an aToken or a variable debt token (Contract says which): Value = amount + interest since the user's last action.</summary>
public sealed record AaveScaledMint(
    BlockRef Block, int LogIndex, EvmAddress Contract, EvmAddress Caller, EvmAddress OnBehalfOf, BigInteger Value, BigInteger BalanceIncrease, BigInteger Index)
    : ChainFact(Block, LogIndex, Contract);

/// <summary>Burn of an aToken or a variable debt token: Value = amount - interest since the user's last action.</summary>
public sealed record AaveScaledBurn(
    BlockRef Block, int LogIndex, EvmAddress Contract, EvmAddress From, EvmAddress Target, BigInteger Value, BigInteger BalanceIncrease, BigInteger Index)
    : ChainFact(Block, LogIndex, Contract);

/// <summary>aToken BalanceTransfer: ScaledValue is already divided by the index.</summary>
public sealed record AaveBalanceTransfer(BlockRef Block, int LogIndex, EvmAddress Contract, EvmAddress From, EvmAddress To, BigInteger ScaledValue, BigInteger Index)
    : ChainFact(Block, LogIndex, Contract);

public sealed record AaveStableDebtMint(
    BlockRef Block, int LogIndex, EvmAddress Contract, EvmAddress User, EvmAddress OnBehalfOf, BigInteger Amount, BigInteger CurrentBalance,
    BigInteger BalanceIncrease, BigInteger NewRate, BigInteger AvgStableRate, BigInteger NewTotalSupply)
    : ChainFact(Block, LogIndex, Contract);

public sealed record AaveStableDebtBurn(
    BlockRef Block, int LogIndex, EvmAddress Contract, EvmAddress From, BigInteger Amount, BigInteger CurrentBalance, BigInteger BalanceIncrease,
    BigInteger AvgStableRate, BigInteger NewTotalSupply)
    : ChainFact(Block, LogIndex, Contract);

/// <summary>PoolConfigurator.ReserveInitialized: a reserve listed, with its token contracts.</summary>
public sealed record AaveReserveInitialized(
    BlockRef Block, int LogIndex, EvmAddress Contract, EvmAddress Asset, EvmAddress AToken, EvmAddress StableDebtToken,
    EvmAddress VariableDebtToken, EvmAddress InterestRateStrategy)
    : ChainFact(Block, LogIndex, Contract);

/// <summary>AaveOracle.AssetSourceUpdated: a new price feed for an asset (price moves by a feed swap show up here).</summary>
public sealed record AaveAssetSourceUpdated(BlockRef Block, int LogIndex, EvmAddress Contract, EvmAddress Asset, EvmAddress Source)
    : ChainFact(Block, LogIndex, Contract);

/// <summary>PoolConfigurator.ReserveDropped: the reserve's id slot becomes free for the next listing.</summary>
public sealed record AaveReserveDropped(BlockRef Block, int LogIndex, EvmAddress Contract, EvmAddress Asset)
    : ChainFact(Block, LogIndex, Contract);
