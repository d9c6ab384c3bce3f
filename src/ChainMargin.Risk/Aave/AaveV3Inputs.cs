using System.Numerics;
using ChainMargin.Core;

namespace ChainMargin.Risk.Aave;

/// <summary>
/// A reserve's configuration bitmap (DataTypes.ReserveConfigurationMap) read field by field, with the bit layout of
/// ReserveConfiguration.sol in Aave V3.0.2.
/// </summary>
public readonly record struct AaveV3ReserveConfiguration(BigInteger Data)
{
    /// <summary>Loan to value, basis points.</summary>
    public int Ltv => Field(0, 16);

    /// <summary>Liquidation threshold, basis points.</summary>
    public int LiquidationThreshold => Field(16, 16);

    /// <summary>Liquidation bonus, basis points above 100% (10500 = 5% bonus).</summary>
    public int LiquidationBonus => Field(32, 16);

    public int Decimals => Field(48, 8);

    public bool IsActive => Field(56, 1) != 0;

    public bool IsFrozen => Field(57, 1) != 0;

    public bool BorrowingEnabled => Field(58, 1) != 0;

    public bool StableBorrowingEnabled => Field(59, 1) != 0;

    public bool IsPaused => Field(60, 1) != 0;

    public bool BorrowableInIsolation => Field(61, 1) != 0;

    public bool SiloedBorrowing => Field(62, 1) != 0;

    public int ReserveFactor => Field(64, 16);

    /// <summary>Share of the liquidation bonus that goes to the treasury, basis points.</summary>
    public int LiquidationProtocolFee => Field(152, 16);

    public int EModeCategory => Field(168, 8);

    /// <summary>Debt ceiling of an isolated asset, with 2 decimals (0 = not isolated).</summary>
    public BigInteger DebtCeiling => (Data >> 212) & ((BigInteger.One << 40) - 1);

    private int Field(int start, int bits) => (int)((Data >> start) & ((BigInteger.One << bits) - 1));
}

/// <summary>A user's configuration bitmap (DataTypes.UserConfigurationMap): per reserve id, bit 2i borrowing, bit 2i+1 collateral.</summary>
public readonly record struct AaveV3UserConfiguration(BigInteger Data)
{
    public bool IsBorrowing(int reserveId) => !((Data >> (reserveId << 1)) & 1).IsZero;

    public bool IsUsingAsCollateral(int reserveId) => !((Data >> ((reserveId << 1) + 1)) & 1).IsZero;

    public bool IsUsingAsCollateralOrBorrowing(int reserveId) => !((Data >> (reserveId << 1)) & 3).IsZero;

    public bool IsEmpty => Data.IsZero;

    public AaveV3UserConfiguration WithBorrowing(int reserveId, bool borrowing) => With(reserveId << 1, borrowing);

    public AaveV3UserConfiguration WithCollateral(int reserveId, bool collateral) => With((reserveId << 1) + 1, collateral);

    /// <summary>The ids of reserves used as collateral, ascending.</summary>
    public IEnumerable<int> CollateralIds(int reservesCount) =>
        Enumerable.Range(0, reservesCount).Where(IsUsingAsCollateral);

    private AaveV3UserConfiguration With(int bit, bool on) =>
        new(on ? Data | (BigInteger.One << bit) : Data & ~(BigInteger.One << bit));
}

/// <summary>
/// One reserve's state as the Pool stores it (getReserveData) plus its AaveOracle price at the same block.
/// Indices and rates are rays; <see cref="Price"/> is in the oracle's base currency (8 decimals for USD feeds);
/// null when the oracle has no usable price, with <see cref="PriceReason"/> saying why.
/// </summary>
public sealed record AaveV3ReserveInput(
    int Id,
    EvmAddress Asset,
    AaveV3ReserveConfiguration Configuration,
    BigInteger LiquidityIndex,
    BigInteger CurrentLiquidityRate,
    BigInteger VariableBorrowIndex,
    BigInteger CurrentVariableBorrowRate,
    long LastUpdateTimestamp,
    BigInteger? Price,
    string? PriceReason = null)
{
    public BigInteger NormalizedIncome(long timestamp) =>
        AaveV3Math.NormalizedIncome(LiquidityIndex, CurrentLiquidityRate, LastUpdateTimestamp, timestamp);

    public BigInteger NormalizedDebt(long timestamp) =>
        AaveV3Math.NormalizedDebt(VariableBorrowIndex, CurrentVariableBorrowRate, LastUpdateTimestamp, timestamp);
}

/// <summary>An e-mode category (getEModeCategoryData): its LTV, threshold and bonus replace the asset's for users in it.</summary>
public sealed record AaveV3EModeCategoryInput(
    int Id, int Ltv, int LiquidationThreshold, int LiquidationBonus, EvmAddress PriceSource, BigInteger? PriceSourcePrice, string Label);

/// <summary>
/// A user's balances in one reserve: scaled aToken and variable debt balances (what scaledBalanceOf returns), and
/// the stable debt principal with the user's own rate (ray) and last update timestamp.
/// </summary>
public sealed record AaveV3UserReserveInput(
    int ReserveId,
    BigInteger ScaledATokenBalance,
    BigInteger ScaledVariableDebt,
    BigInteger StablePrincipal,
    BigInteger StableRate,
    long StableLastUpdated);

public sealed record AaveV3UserInput(
    EvmAddress User, AaveV3UserConfiguration Configuration, int EModeCategory, IReadOnlyList<AaveV3UserReserveInput> Reserves)
{
    public AaveV3UserReserveInput? For(int reserveId)
    {
        foreach (var reserve in Reserves)
        {
            if (reserve.ReserveId == reserveId)
            {
                return reserve;
            }
        }

        return null;
    }
}

/// <summary>
/// The market at one block: every listed reserve (index = reserve id; a dropped id is null), the e-mode categories
/// and the block's timestamp, which interest accrues up to.
/// </summary>
public sealed record AaveV3MarketInput(
    long BlockTimestamp,
    IReadOnlyList<AaveV3ReserveInput?> Reserves,
    IReadOnlyDictionary<int, AaveV3EModeCategoryInput> EModeCategories)
{
    public AaveV3ReserveInput? ReserveById(int id) => id >= 0 && id < Reserves.Count ? Reserves[id] : null;

    public AaveV3ReserveInput? ReserveByAsset(EvmAddress asset) => Reserves.FirstOrDefault(r => r is not null && r.Asset == asset);
}
