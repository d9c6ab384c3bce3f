using ChainMargin.Core;
using ChainMargin.Risk;

namespace ChainMargin.Liquidation.Keeper;

/// <summary>
/// What the keeper needs to liquidate one account on one chain: the cross-chain health the risk signer attests, the
/// block vector it was computed at, whether a price it depends on is unsafe, the USD value of what the Liquidator would
/// seize on that chain (for the bonus) and the USD price of the chain's gas token (for the gas cost; null = unknown).
/// </summary>
public sealed record LiquidationCandidate(
    EvmAddress Account,
    ChainId Chain,
    decimal Health,
    bool PriceUnsafe,
    string Status,
    BlockVector Blocks,
    decimal SeizableUsd,
    decimal? NativeUsd)
{
    /// <summary>Venue prefixes of the reference protocol's positions (the portfolio assembler's names).</summary>
    private static readonly string[] ReferenceVenues = ["vault:", "perp:", "options:"];

    /// <summary>
    /// One candidate per chain (and, for a linked account, per holding address) where a liquidatable account has
    /// reference-protocol positions. The gas token is priced from the report's own spot of <paramref name="nativeAsset"/> when the report carries it.
    /// </summary>
    public static IReadOnlyList<LiquidationCandidate> FromReport(MarginReport report, string nativeAsset = "ETH")
    {
        ArgumentNullException.ThrowIfNull(report);
        var headline = report.Headline;
        if (headline.Health is not { } health)
        {
            return [];
        }

        var native = headline.LiquidationPrices.FirstOrDefault(p => string.Equals(p.Underlying.Symbol, nativeAsset, StringComparison.OrdinalIgnoreCase))?.Spot;
        return headline.Positions
            .Where(p => ReferenceVenues.Any(v => p.Venue.StartsWith(v, StringComparison.Ordinal)))
            // A linked account is liquidated per address: each holder's positions on a chain are that address's.
            .GroupBy(p => (Holder: p.Holder ?? report.Account, p.Chain))
            .Select(g => new LiquidationCandidate(
                g.Key.Holder,
                g.Key.Chain,
                health,
                headline.Status == MarginStatus.PriceUnsafe,
                headline.StatusName,
                report.Blocks,
                g.Where(p => p.Kind == "collateral").Sum(p => Math.Max(0m, p.Equity)),
                native))
            .ToArray();
    }
}
