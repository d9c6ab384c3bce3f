using System.Globalization;
using ChainMargin.Core;

namespace ChainMargin.Liquidation.Portfolio;

/// <summary>Price checks applied to every feed answer before the engine may use it.</summary>
public sealed class PriceSafetyOptions
{
    /// <summary>A round older than this is stale (the feed's heartbeat plus a buffer).</summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromHours(25);

    /// <summary>The same asset priced on several chains must agree within this fraction of the lower price.</summary>
    public double CrossChainTolerance { get; set; } = 0.02;
}

/// <summary>
/// Turns the latest indexed feed rounds into the engine's <see cref="MarketSnapshot"/>: one USD price per canonical
/// asset with its sources, safety state and reason, and implied volatilities from the volatility feeds.
/// </summary>
public sealed class MarketSnapshotBuilder
{
    private readonly TokenRegistry _registry;
    private readonly PriceSafetyOptions _safety;

    public MarketSnapshotBuilder(TokenRegistry registry, PriceSafetyOptions safety)
    {
        _registry = registry;
        _safety = safety;
    }

    public MarketSnapshot Build(IReadOnlyList<PriceRoundRow> rounds, DateTimeOffset now, IReadOnlyDictionary<ChainId, string> staleChains)
    {
        ArgumentNullException.ThrowIfNull(rounds);
        var quotes = new Dictionary<AssetId, List<(PriceRoundRow Row, string? Problem)>>();
        var vols = new Dictionary<AssetId, AssetVolatility>();
        foreach (var row in rounds)
        {
            if (_registry.VolatilityFeedAsset(row.Chain, row.Feed) is { } volAsset)
            {
                if (row.Answer.Sign > 0)
                {
                    vols[volAsset] = new AssetVolatility(volAsset, Units.ToDouble(row.Answer, PortfolioAssembler.FeedDecimals), $"implied feed {row.Feed} on chain {row.Chain}");
                }

                continue;
            }

            if (_registry.PriceFeedAsset(row.Chain, row.Feed) is not { } asset)
            {
                continue;
            }

            if (!quotes.TryGetValue(asset, out var list))
            {
                list = [];
                quotes[asset] = list;
            }

            list.Add((row, Problem(row, now, staleChains)));
        }

        var prices = new Dictionary<AssetId, AssetPrice>();
        foreach (var (asset, list) in quotes)
        {
            prices[asset] = Combine(asset, list);
        }

        return new MarketSnapshot(now, prices, vols, staleChains);
    }

    private AssetPrice Combine(AssetId asset, List<(PriceRoundRow Row, string? Problem)> quotes)
    {
        var sources = quotes.Select(q => q.Row.AsOf).ToArray();
        var problems = quotes.Where(q => q.Problem is not null).Select(q => q.Problem!).ToArray();
        if (problems.Length > 0)
        {
            var usable = quotes.Where(q => q.Row.Answer.Sign > 0).Select(q => (decimal?)Units.ToReported(Units.ToDouble(q.Row.Answer, PortfolioAssembler.FeedDecimals), 8)).Min();
            return new AssetPrice(asset, usable, PriceStatus.Unsafe, string.Join("; ", problems), sources);
        }

        var values = quotes.Select(q => Units.ToDouble(q.Row.Answer, PortfolioAssembler.FeedDecimals)).ToArray();
        var low = values.Min();
        var high = values.Max();
        if (high - low > _safety.CrossChainTolerance * low)
        {
            // Disagreeing chains: value conservatively at the lower price and mark it, so liquidations pause.
            return new AssetPrice(asset, Units.ToReported(low, 8), PriceStatus.Unsafe,
                string.Create(CultureInfo.InvariantCulture, $"{asset} prices disagree across chains: {low:0.########} to {high:0.########}"), sources);
        }

        return new AssetPrice(asset, Units.ToReported(low, 8), PriceStatus.Safe, null, sources);
    }

    private string? Problem(PriceRoundRow row, DateTimeOffset now, IReadOnlyDictionary<ChainId, string> staleChains)
    {
        if (row.Answer.Sign <= 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"feed {row.Feed} on chain {row.Chain} answered {row.Answer} (not positive)");
        }

        var age = now - DateTimeOffset.FromUnixTimeSeconds(row.UpdatedAt);
        if (age > _safety.MaxAge)
        {
            return string.Create(CultureInfo.InvariantCulture, $"feed {row.Feed} on chain {row.Chain} is stale: updated {age.TotalMinutes:0} min ago");
        }

        return staleChains.TryGetValue(row.Chain, out var why) ? $"chain {row.Chain} is stale: {why}" : null;
    }
}
