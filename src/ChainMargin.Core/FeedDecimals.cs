namespace ChainMargin.Core;

/// <summary>A price feed's decimals as its contract reports them, or why they are not known.</summary>
public sealed record FeedDecimals(int? Decimals, string? Problem)
{
    public static FeedDecimals Known(int decimals) => new(decimals, null);

    public static FeedDecimals Unknown(string problem) => new(null, problem);
}

/// <summary>
/// Where feed decimals come from: the feed's own decimals() on its chain, read once and kept (a feed's decimals do not
/// change). A read that fails is not kept, and comes back with its problem.
/// </summary>
public interface IFeedDecimalsSource
{
    /// <summary>The feed's decimals, read at <paramref name="block"/> (null: the latest block) the first time.</summary>
    Task<FeedDecimals> GetAsync(ChainId chain, EvmAddress feed, long? block, CancellationToken cancellationToken);
}
