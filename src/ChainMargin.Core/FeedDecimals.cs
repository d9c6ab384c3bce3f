namespace ChainMargin.Core;

/// <summary>A price feed's decimals as its contract reports them, or why they are not known.</summary>
public sealed record FeedDecimals(int? Decimals, string? Problem)
{
    public static FeedDecimals Known(int decimals) => new(decimals, null);

    public static FeedDecimals Unknown(string problem) => new(null, problem);
}

/// <summary>
/// Where feed decimals come from: the feed states the chains' watchers committed (each feed's decimals() read pinned to
/// a commit's last block). A feed whose decimals are not known comes back with the reason.
/// </summary>
public interface IFeedDecimalsSource
{
    Task<FeedDecimals> GetAsync(ChainId chain, EvmAddress feed, CancellationToken cancellationToken);
}
