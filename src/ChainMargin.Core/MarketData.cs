namespace ChainMargin.Core;

public enum PriceStatus
{
    Safe,
    Unsafe,
    Missing,
}

/// <summary>
/// A canonical asset's price in USD as the engine may use it, with where it came from. An unsafe or missing price
/// carries its reason; it is never a silent zero. The price is two-sided: <see cref="Usd"/> is the low, at which
/// collateral and long exposure are valued; <see cref="UsdHigh"/> the high, at which debts and short exposure are
/// valued. They differ only when the chains quoting the asset disagree (each side then takes the worse one).
/// </summary>
public sealed record AssetPrice(AssetId Asset, decimal? Usd, PriceStatus Status, string? Reason, IReadOnlyList<BlockRef> Sources)
{
    private readonly decimal? _high;

    /// <summary>The high side (liabilities, short exposure): never below <see cref="Usd"/>; equal to it unless set.</summary>
    public decimal? UsdHigh
    {
        get => _high is { } high && Usd is { } low && high > low ? high : Usd;
        init => _high = value;
    }

    public static AssetPrice Missing(AssetId asset, string reason) => new(asset, null, PriceStatus.Missing, reason, []);
}

/// <summary>An underlying's annualised volatility (0.8 = 80%), and where it came from (implied feed, EWMA, floor).</summary>
public sealed record AssetVolatility(AssetId Asset, double Annualised, string Source);

/// <summary>
/// Prices and volatilities at one moment, shared by all accounts. <see cref="Now"/> is the valuation time (option
/// time to expiry is measured from it); <see cref="StaleChains"/> names the chains whose data is stale, with why.
/// </summary>
public sealed record MarketSnapshot(
    DateTimeOffset Now,
    IReadOnlyDictionary<AssetId, AssetPrice> Prices,
    IReadOnlyDictionary<AssetId, AssetVolatility> Volatilities,
    IReadOnlyDictionary<ChainId, string> StaleChains)
{
    public AssetPrice PriceOf(AssetId asset) =>
        Prices.TryGetValue(asset, out var price) ? price : AssetPrice.Missing(asset, $"no price feed for {asset}");
}
