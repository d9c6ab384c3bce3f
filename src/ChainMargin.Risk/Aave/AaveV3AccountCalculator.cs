using System.Numerics;
using ChainMargin.Core;

namespace ChainMargin.Risk.Aave;

/// <summary>
/// Pool.getUserAccountData of Aave V3.0.2 (PoolLogic.executeGetUserAccountData -> GenericLogic.calculateUserAccountData),
/// recomputed off-chain from the market and the user's balances at one block, in the venue's own fixed point:
/// - balances are scaled balances times the index at the block timestamp (linear for supply, the three-term
///   compounded approximation for variable debt, the user's own compounded rate for stable debt);
/// - an asset's value in base currency is floor(price x amount / 10^decimals);
/// - only reserves flagged in the user's bitmap count: collateral needs the collateral bit and a non-zero threshold;
/// - e-mode replaces LTV / threshold (and the price, when the category has a price source) for assets in the category;
/// - averages are floor divisions; health = wadDiv(percentMul(collateral, avg threshold), debt), or 2^256-1 without debt.
/// Isolation mode does not change these six numbers (it limits what may be borrowed); it is reported alongside.
/// </summary>
public static class AaveV3AccountCalculator
{
    /// <summary>Health below this (1.0 in wad) makes the position liquidatable.</summary>
    public static readonly BigInteger LiquidationThresholdHealth = AaveV3Math.Wad;

    public static AaveV3AccountResult Calculate(AaveV3MarketInput market, AaveV3UserInput user)
    {
        ArgumentNullException.ThrowIfNull(market);
        ArgumentNullException.ThrowIfNull(user);
        var lines = new List<AaveV3ReserveLine>();
        if (user.Configuration.IsEmpty)
        {
            return AaveV3AccountResult.Of(new AaveV3AccountData(0, 0, 0, 0, 0, AaveV3Math.MaxUint256, false), lines, null);
        }

        int eModeLtv = 0, eModeThreshold = 0;
        BigInteger eModePrice = BigInteger.Zero;
        if (user.EModeCategory != 0)
        {
            if (!market.EModeCategories.TryGetValue(user.EModeCategory, out var category))
            {
                return AaveV3AccountResult.Unavailable($"e-mode category {user.EModeCategory} is not in the market input", lines);
            }

            eModeLtv = category.Ltv;
            eModeThreshold = category.LiquidationThreshold;
            if (category.PriceSource != EvmAddress.Zero)
            {
                if (category.PriceSourcePrice is not { } p)
                {
                    return AaveV3AccountResult.Unavailable($"no price for e-mode {category.Id} price source {category.PriceSource}", lines);
                }

                eModePrice = p;
            }
        }

        BigInteger totalCollateral = 0, totalDebt = 0, avgLtv = 0, avgThreshold = 0;
        var hasZeroLtvCollateral = false;
        for (var i = 0; i < market.Reserves.Count; i++)
        {
            if (!user.Configuration.IsUsingAsCollateralOrBorrowing(i))
            {
                continue;
            }

            var reserve = market.Reserves[i];
            if (reserve is null)
            {
                continue;
            }

            var config = reserve.Configuration;
            var assetUnit = Units.Pow10(config.Decimals);
            var inCategory = user.EModeCategory != 0 && user.EModeCategory == config.EModeCategory;
            BigInteger price;
            if (!eModePrice.IsZero && user.EModeCategory == config.EModeCategory)
            {
                price = eModePrice;
            }
            else if (reserve.Price is { } p)
            {
                price = p;
            }
            else
            {
                return AaveV3AccountResult.Unavailable($"no price for reserve {reserve.Asset}: {reserve.PriceReason ?? "unknown"}", lines);
            }

            var balances = user.For(i);
            BigInteger collateralAmount = 0, collateralBase = 0, debtAmount = 0, debtBase = 0;
            var counted = false;
            var ltvUsed = inCategory ? eModeLtv : config.Ltv;
            var thresholdUsed = inCategory ? eModeThreshold : config.LiquidationThreshold;
            if (config.LiquidationThreshold != 0 && user.Configuration.IsUsingAsCollateral(i))
            {
                counted = true;
                collateralAmount = AaveV3Math.RayMul(balances?.ScaledATokenBalance ?? 0, reserve.NormalizedIncome(market.BlockTimestamp));
                collateralBase = collateralAmount * price / assetUnit;
                totalCollateral += collateralBase;
                if (config.Ltv != 0)
                {
                    avgLtv += collateralBase * ltvUsed;
                }
                else
                {
                    hasZeroLtvCollateral = true;
                }

                avgThreshold += collateralBase * thresholdUsed;
            }

            if (user.Configuration.IsBorrowing(i))
            {
                var variable = balances?.ScaledVariableDebt ?? 0;
                if (!variable.IsZero)
                {
                    variable = AaveV3Math.RayMul(variable, reserve.NormalizedDebt(market.BlockTimestamp));
                }

                var stable = balances is null
                    ? BigInteger.Zero
                    : AaveV3Math.StableDebtBalance(balances.StablePrincipal, balances.StableRate, balances.StableLastUpdated, market.BlockTimestamp);
                debtAmount = variable + stable;
                debtBase = price * debtAmount / assetUnit;
                totalDebt += debtBase;
            }

            lines.Add(new AaveV3ReserveLine(
                i, reserve.Asset, config.Decimals, price, collateralAmount, collateralBase, counted, counted ? ltvUsed : 0,
                counted ? thresholdUsed : 0, debtAmount, debtBase));
        }

        if (!totalCollateral.IsZero)
        {
            avgLtv /= totalCollateral;
            avgThreshold /= totalCollateral;
        }
        else
        {
            avgLtv = 0;
            avgThreshold = 0;
        }

        var health = totalDebt.IsZero
            ? AaveV3Math.MaxUint256
            : AaveV3Math.WadDiv(AaveV3Math.PercentMul(totalCollateral, avgThreshold), totalDebt);
        var availableBorrows = AaveV3Math.PercentMul(totalCollateral, avgLtv);
        availableBorrows = availableBorrows < totalDebt ? BigInteger.Zero : availableBorrows - totalDebt;

        var data = new AaveV3AccountData(totalCollateral, totalDebt, availableBorrows, avgThreshold, avgLtv, health, hasZeroLtvCollateral);
        return AaveV3AccountResult.Of(data, lines, IsolationOf(market, user));
    }

    /// <summary>
    /// UserConfiguration.getIsolationModeState: a user whose only collateral has a debt ceiling is in isolation mode
    /// (may borrow only assets borrowable in isolation, up to the ceiling).
    /// </summary>
    public static EvmAddress? IsolationOf(AaveV3MarketInput market, AaveV3UserInput user)
    {
        ArgumentNullException.ThrowIfNull(market);
        ArgumentNullException.ThrowIfNull(user);
        var collateral = user.Configuration.CollateralIds(market.Reserves.Count).Take(2).ToList();
        if (collateral.Count != 1)
        {
            return null;
        }

        var reserve = market.Reserves[collateral[0]];
        return reserve is not null && !reserve.Configuration.DebtCeiling.IsZero ? reserve.Asset : null;
    }
}

/// <summary>What Pool.getUserAccountData returns, unit for unit: base-currency values, basis points and a wad health.</summary>
public sealed record AaveV3AccountData(
    BigInteger TotalCollateralBase,
    BigInteger TotalDebtBase,
    BigInteger AvailableBorrowsBase,
    BigInteger CurrentLiquidationThreshold,
    BigInteger Ltv,
    BigInteger HealthFactor,
    bool HasZeroLtvCollateral)
{
    public bool IsLiquidatable => HealthFactor < AaveV3AccountCalculator.LiquidationThresholdHealth;

    /// <summary>The health as a decimal (1.0 = liquidation), or null when there is no debt (the contract's 2^256-1).</summary>
    public decimal? HealthAsDecimal =>
        HealthFactor == AaveV3Math.MaxUint256 ? null : Units.ToReported(Units.ToDouble(HealthFactor, 18), 6);
}

/// <summary>One reserve's contribution to the account: amounts in the asset's units, values in base currency.</summary>
public sealed record AaveV3ReserveLine(
    int ReserveId,
    EvmAddress Asset,
    int Decimals,
    BigInteger Price,
    BigInteger CollateralAmount,
    BigInteger CollateralBase,
    bool CountsAsCollateral,
    int LtvUsed,
    int LiquidationThresholdUsed,
    BigInteger DebtAmount,
    BigInteger DebtBase);

/// <summary>The account data with its explanation, or the reason it cannot be computed (never a silent zero).</summary>
public sealed record AaveV3AccountResult(
    AaveV3AccountData? Data, IReadOnlyList<AaveV3ReserveLine> Lines, EvmAddress? IsolationCollateral, string? UnavailableReason)
{
    public static AaveV3AccountResult Of(AaveV3AccountData data, IReadOnlyList<AaveV3ReserveLine> lines, EvmAddress? isolation) =>
        new(data, lines, isolation, null);

    public static AaveV3AccountResult Unavailable(string reason, IReadOnlyList<AaveV3ReserveLine> lines) => new(null, lines, null, reason);
}
