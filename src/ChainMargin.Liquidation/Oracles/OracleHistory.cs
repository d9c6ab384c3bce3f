using ChainMargin.Core;
using ChainMargin.Liquidation.Portfolio;
using ChainMargin.Risk;

namespace ChainMargin.Liquidation.Oracles;

/// <summary>
/// Turns the stored rounds of every spot feed into the engine's <see cref="PriceHistory"/>: one observation per return
/// interval, ending now, each the last answer known at that moment (the lowest across chains, as spot is valued), and
/// the EWMA realised volatility of each asset over it.
/// </summary>
public static class OracleHistory
{
    /// <summary>
    /// Samples the rounds on a grid of <paramref name="interval"/> ending at <paramref name="now"/>. Assets with fewer
    /// than 3 observations are left out; the others share the length of the shortest (the factor model aligns them).
    /// Returns null when no asset has 3 observations.
    /// </summary>
    public static PriceHistory? Sample(
        IReadOnlyDictionary<AssetId, IReadOnlyList<IReadOnlyList<PriceRoundRow>>> roundsByAsset, DateTimeOffset now, TimeSpan interval, int maxObservations,
        Func<PriceRoundRow, int?>? decimalsOf = null)
    {
        ArgumentNullException.ThrowIfNull(roundsByAsset);
        int? Scale(PriceRoundRow row) => decimalsOf is null ? PortfolioAssembler.FeedDecimals : decimalsOf(row);
        if (interval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(interval), interval, "the return interval must be positive");
        }

        var step = (long)Math.Max(1, interval.TotalSeconds);
        var end = now.ToUnixTimeSeconds();
        var series = new Dictionary<AssetId, List<double>>();
        foreach (var (asset, feeds) in roundsByAsset)
        {
            // Only positive answers are prices; a zero or negative round is a feed fault, not a market move.
            // A feed whose decimals are unknown is left out (its answers cannot be scaled).
            var usable = feeds.Select(f => f.Where(r => r.Answer.Sign > 0 && r.UpdatedAt > 0 && Scale(r) is not null).OrderBy(r => r.UpdatedAt).ToArray())
                .Where(f => f.Length > 0).ToArray();
            if (usable.Length == 0)
            {
                continue;
            }

            var values = new List<double>();
            for (var k = 0; k < maxObservations; k++)
            {
                var at = end - (k * step);
                double? value = null;
                foreach (var feed in usable)
                {
                    var last = LastAtOrBefore(feed, at);
                    if (last is not null)
                    {
                        var usd = Units.ToDouble(last.Answer, Scale(last)!.Value);
                        value = value is null ? usd : Math.Min(value.Value, usd);
                    }
                }

                if (value is null)
                {
                    break;
                }

                values.Add(value.Value);
            }

            if (values.Count >= 3)
            {
                series[asset] = values;
            }
        }

        if (series.Count == 0)
        {
            return null;
        }

        var length = series.Values.Min(v => v.Count);
        return new PriceHistory(series.ToDictionary(s => s.Key, s => s.Value.Take(length).Reverse().ToArray()));
    }

    /// <summary>
    /// RiskMetrics EWMA volatility of log-returns (decay <paramref name="lambda"/>), annualised from the interval.
    /// Null when the series has fewer than two returns or a non-positive price.
    /// </summary>
    public static double? EwmaVolatility(IReadOnlyList<double> prices, double lambda, TimeSpan interval)
    {
        ArgumentNullException.ThrowIfNull(prices);
        if (prices.Count < 3 || prices.Any(p => !(p > 0) || !double.IsFinite(p)))
        {
            return null;
        }

        var variance = 0.0;
        for (var i = 1; i < prices.Count; i++)
        {
            var r = Math.Log(prices[i] / prices[i - 1]);
            // Seeded with the first squared return so a short history is not biased towards zero.
            variance = i == 1 ? r * r : (lambda * variance) + ((1 - lambda) * r * r);
        }

        // 365 days a year, as the factor model annualises, so both volatilities of an asset agree.
        return Math.Sqrt(variance * 365.0 / interval.TotalDays);
    }

    private static PriceRoundRow? LastAtOrBefore(PriceRoundRow[] sorted, long at)
    {
        PriceRoundRow? last = null;
        foreach (var row in sorted)
        {
            if (row.UpdatedAt > at)
            {
                break;
            }

            last = row;
        }

        return last;
    }
}
