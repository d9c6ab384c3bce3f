using System.Numerics;
using ChainMargin.Core;

namespace ChainMargin.Risk.Aave;

/// <summary>
/// The liquidation rules of Aave V3.0.2 (LiquidationLogic.executeLiquidationCall), so a keeper knows before it sends
/// anything how much debt it may repay and what collateral it receives:
/// - liquidatable when health &lt; 1.0; the close factor is 50% of the user's debt in the debt asset while health is
///   above 0.95 and 100% at or below it;
/// - collateral = floor(debtPrice x debt x collateralUnit / (collateralPrice x debtUnit)), percentMul(bonus); when the
///   user has less collateral, all of it is taken and the debt is scaled back (percentDiv(bonus));
/// - a liquidation protocol fee (a share of the bonus) goes to the treasury, out of the collateral;
/// - in e-mode, a collateral asset of the user's category takes the category's bonus, and the category's price source
///   (if any) prices the collateral of the category and the debt.
/// Quote at the timestamp of the block the liquidation will land in: interest accrues up to it.
/// </summary>
public static class AaveV3LiquidationRules
{
    /// <summary>LiquidationLogic.CLOSE_FACTOR_HF_THRESHOLD: 0.95 in wad.</summary>
    public static readonly BigInteger CloseFactorHealthThreshold = 95 * BigInteger.Pow(10, 16);

    /// <summary>DEFAULT_LIQUIDATION_CLOSE_FACTOR, basis points.</summary>
    public const int DefaultCloseFactor = 5_000;

    /// <summary>MAX_LIQUIDATION_CLOSE_FACTOR, basis points.</summary>
    public const int MaxCloseFactor = 10_000;

    public static int CloseFactor(BigInteger healthFactor) =>
        healthFactor > CloseFactorHealthThreshold ? DefaultCloseFactor : MaxCloseFactor;

    /// <summary>
    /// What liquidationCall(collateral, debt, user, debtToCover, ...) would do at the market's timestamp; pass
    /// <see cref="AaveV3Math.MaxUint256"/> as <paramref name="debtToCover"/> for the most the rules allow.
    /// </summary>
    public static AaveV3LiquidationQuote Quote(
        AaveV3MarketInput market, AaveV3UserInput user, EvmAddress collateralAsset, EvmAddress debtAsset, BigInteger debtToCover)
    {
        ArgumentNullException.ThrowIfNull(market);
        ArgumentNullException.ThrowIfNull(user);
        var account = AaveV3AccountCalculator.Calculate(market, user);
        if (account.Data is not { } data)
        {
            return AaveV3LiquidationQuote.Refused(account.UnavailableReason!);
        }

        var collateral = market.ReserveByAsset(collateralAsset);
        var debt = market.ReserveByAsset(debtAsset);
        if (collateral is null || debt is null)
        {
            return AaveV3LiquidationQuote.Refused("collateral or debt asset is not a listed reserve");
        }

        // ValidationLogic.validateLiquidationCall, in its order.
        if (!collateral.Configuration.IsActive || !debt.Configuration.IsActive)
        {
            return AaveV3LiquidationQuote.Refused("reserve inactive", data.HealthFactor);
        }

        if (collateral.Configuration.IsPaused || debt.Configuration.IsPaused)
        {
            return AaveV3LiquidationQuote.Refused("reserve paused", data.HealthFactor);
        }

        if (data.HealthFactor >= AaveV3AccountCalculator.LiquidationThresholdHealth)
        {
            return AaveV3LiquidationQuote.Refused("health factor is not below 1", data.HealthFactor);
        }

        if (collateral.Configuration.LiquidationThreshold == 0 || !user.Configuration.IsUsingAsCollateral(collateral.Id))
        {
            return AaveV3LiquidationQuote.Refused("collateral cannot be liquidated", data.HealthFactor);
        }

        var t = market.BlockTimestamp;
        var debtBalances = user.For(debt.Id);
        var variableDebt = debtBalances is null || debtBalances.ScaledVariableDebt.IsZero
            ? BigInteger.Zero
            : AaveV3Math.RayMul(debtBalances.ScaledVariableDebt, debt.NormalizedDebt(t));
        var stableDebt = debtBalances is null
            ? BigInteger.Zero
            : AaveV3Math.StableDebtBalance(debtBalances.StablePrincipal, debtBalances.StableRate, debtBalances.StableLastUpdated, t);
        var totalDebt = variableDebt + stableDebt;
        if (totalDebt.IsZero)
        {
            return AaveV3LiquidationQuote.Refused("no debt in the debt asset", data.HealthFactor);
        }

        var closeFactor = CloseFactor(data.HealthFactor);
        var maxDebt = AaveV3Math.PercentMul(totalDebt, closeFactor);
        var actualDebt = debtToCover > maxDebt ? maxDebt : debtToCover;

        // _getConfigurationData: e-mode bonus and price source.
        var bonus = collateral.Configuration.LiquidationBonus;
        BigInteger? collateralPrice = collateral.Price;
        BigInteger? debtPrice = debt.Price;
        if (user.EModeCategory != 0 && market.EModeCategories.TryGetValue(user.EModeCategory, out var category))
        {
            var hasSource = category.PriceSource != EvmAddress.Zero;
            if (collateral.Configuration.EModeCategory == user.EModeCategory)
            {
                bonus = category.LiquidationBonus;
                if (hasSource)
                {
                    collateralPrice = category.PriceSourcePrice;
                }
            }

            if (hasSource)
            {
                debtPrice = category.PriceSourcePrice;
            }
        }

        if (collateralPrice is not { } cp || debtPrice is not { } dp)
        {
            return AaveV3LiquidationQuote.Refused("a price needed by the liquidation is missing", data.HealthFactor);
        }

        var collateralBalances = user.For(collateral.Id);
        var userCollateral = AaveV3Math.RayMul(collateralBalances?.ScaledATokenBalance ?? 0, collateral.NormalizedIncome(t));

        // _calculateAvailableCollateralToLiquidate.
        var collateralUnit = Units.Pow10(collateral.Configuration.Decimals);
        var debtUnit = Units.Pow10(debt.Configuration.Decimals);
        var baseCollateral = dp * actualDebt * collateralUnit / (cp * debtUnit);
        var maxCollateral = AaveV3Math.PercentMul(baseCollateral, bonus);
        BigInteger collateralAmount, debtNeeded;
        if (maxCollateral > userCollateral)
        {
            collateralAmount = userCollateral;
            debtNeeded = AaveV3Math.PercentDiv(cp * collateralAmount * debtUnit / (dp * collateralUnit), bonus);
        }
        else
        {
            collateralAmount = maxCollateral;
            debtNeeded = actualDebt;
        }

        BigInteger fee = 0;
        var feeShare = collateral.Configuration.LiquidationProtocolFee;
        if (feeShare != 0)
        {
            var bonusCollateral = collateralAmount - AaveV3Math.PercentDiv(collateralAmount, bonus);
            fee = AaveV3Math.PercentMul(bonusCollateral, feeShare);
        }

        var toLiquidator = collateralAmount - fee;
        var profitBase = (toLiquidator * cp / collateralUnit) - (debtNeeded * dp / debtUnit);
        return new AaveV3LiquidationQuote(
            true, null, data.HealthFactor, closeFactor, totalDebt, maxDebt, debtNeeded, toLiquidator, fee, bonus,
            debtNeeded == totalDebt, toLiquidator + fee == userCollateral, profitBase);
    }

    /// <summary>
    /// Among the user's collateral and debt reserves, the pair whose full allowed liquidation pays the liquidator the
    /// most (collateral received minus debt repaid, in base currency); null when no pair may be liquidated.
    /// </summary>
    public static AaveV3LiquidationChoice? BestPair(AaveV3MarketInput market, AaveV3UserInput user)
    {
        ArgumentNullException.ThrowIfNull(market);
        ArgumentNullException.ThrowIfNull(user);
        AaveV3LiquidationChoice? best = null;
        foreach (var collateral in market.Reserves)
        {
            if (collateral is null || !user.Configuration.IsUsingAsCollateral(collateral.Id))
            {
                continue;
            }

            foreach (var debt in market.Reserves)
            {
                if (debt is null || !user.Configuration.IsBorrowing(debt.Id))
                {
                    continue;
                }

                var quote = Quote(market, user, collateral.Asset, debt.Asset, AaveV3Math.MaxUint256);
                if (quote.Allowed && (best is null || quote.LiquidatorProfitBase > best.Quote.LiquidatorProfitBase))
                {
                    best = new AaveV3LiquidationChoice(collateral.Asset, debt.Asset, quote);
                }
            }
        }

        return best;
    }
}

/// <summary>
/// A liquidation as the contract would execute it: <see cref="DebtToRepay"/> (debt asset units) is what the liquidator
/// pays, <see cref="CollateralToLiquidator"/> what it receives (collateral units, bonus included, protocol fee taken out).
/// </summary>
public sealed record AaveV3LiquidationQuote(
    bool Allowed,
    string? RefusedBecause,
    BigInteger HealthFactor,
    int CloseFactor,
    BigInteger UserDebt,
    BigInteger MaxDebtToCover,
    BigInteger DebtToRepay,
    BigInteger CollateralToLiquidator,
    BigInteger ProtocolFee,
    int LiquidationBonus,
    bool RepaysAllDebt,
    bool SeizesAllCollateral,
    BigInteger LiquidatorProfitBase)
{
    public static AaveV3LiquidationQuote Refused(string reason, BigInteger? health = null) =>
        new(false, reason, health ?? BigInteger.Zero, 0, 0, 0, 0, 0, 0, 0, false, false, 0);
}

public sealed record AaveV3LiquidationChoice(EvmAddress CollateralAsset, EvmAddress DebtAsset, AaveV3LiquidationQuote Quote);
