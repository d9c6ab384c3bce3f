using System.Globalization;
using ChainMargin.Core;

namespace ChainMargin.Risk.Aave;

/// <summary>
/// Turns an Aave account (computed exactly by <see cref="AaveV3AccountCalculator"/>) into the cross-chain portfolio's
/// terms: supplied assets that count as collateral (with the LTV and liquidation threshold Aave applies to them),
/// borrows as debts, and Aave's own health on that chain as a <see cref="VenueHealth"/>. Supplied assets that do not
/// count (collateral switched off, zero threshold) are left out: Aave would not let them back the debt either.
/// </summary>
public static class AaveV3Portfolio
{
    public const string Venue = "aave-v3";

    public static AaveV3PortfolioView ToPortfolio(
        ChainId chain, BlockRef asOf, AaveV3AccountResult result, Func<EvmAddress, AssetId?> assetOf)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(assetOf);
        var collateral = new List<PortfolioCollateral>();
        var debts = new List<PortfolioDebt>();
        var terms = new List<AaveV3CollateralTerms>();
        var unmapped = new List<string>();
        foreach (var line in result.Lines)
        {
            var asset = assetOf(line.Asset);
            if (asset is null)
            {
                unmapped.Add(line.Asset.Value);
                continue;
            }

            if (line.CountsAsCollateral && !line.CollateralAmount.IsZero)
            {
                collateral.Add(new PortfolioCollateral(chain, Venue, asset.Value, new TokenAmount(line.CollateralAmount, line.Decimals), asOf));
                terms.Add(new AaveV3CollateralTerms(asset.Value, line.LtvUsed, line.LiquidationThresholdUsed));
            }

            if (!line.DebtAmount.IsZero)
            {
                debts.Add(new PortfolioDebt(chain, Venue, asset.Value, new TokenAmount(line.DebtAmount, line.Decimals), asOf));
            }
        }

        VenueHealth health;
        if (result.Data is not { } data)
        {
            health = new VenueHealth(chain, Venue, null, "unavailable: " + result.UnavailableReason, asOf);
        }
        else
        {
            var detail = string.Create(CultureInfo.InvariantCulture,
                $"collateral {Units.Format(data.TotalCollateralBase, 8)} debt {Units.Format(data.TotalDebtBase, 8)} (base currency), threshold {data.CurrentLiquidationThreshold} bp, ltv {data.Ltv} bp");
            if (data.HealthFactor == AaveV3Math.MaxUint256)
            {
                detail = "no debt; " + detail;
            }

            if (unmapped.Count > 0)
            {
                detail += "; assets without a canonical id left out of the portfolio: " + string.Join(",", unmapped);
            }

            health = new VenueHealth(chain, Venue, data.HealthAsDecimal, detail, asOf);
        }

        return new AaveV3PortfolioView(collateral, debts, terms, health);
    }
}

/// <summary>How Aave counts one collateral asset of the account (basis points, e-mode applied).</summary>
public sealed record AaveV3CollateralTerms(AssetId Asset, int Ltv, int LiquidationThreshold);

public sealed record AaveV3PortfolioView(
    IReadOnlyList<PortfolioCollateral> Collateral,
    IReadOnlyList<PortfolioDebt> Debts,
    IReadOnlyList<AaveV3CollateralTerms> CollateralTerms,
    VenueHealth Health);
