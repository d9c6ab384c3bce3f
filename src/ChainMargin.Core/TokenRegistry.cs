namespace ChainMargin.Core;

/// <summary>A token on one chain as the registry knows it: its symbol there, its decimals, its canonical asset.</summary>
public sealed record TokenInfo(ChainId Chain, EvmAddress Address, string Symbol, int Decimals, AssetId Asset);

/// <summary>The canonical asset registry: every configured token on every chain, and the feeds that price assets.</summary>
public sealed class TokenRegistry
{
    private readonly Dictionary<(ulong, EvmAddress), TokenInfo> _tokens = [];
    private readonly Dictionary<(ulong, EvmAddress), AssetId> _feeds = [];
    private readonly Dictionary<(ulong, EvmAddress), AssetId> _volFeeds = [];
    private readonly Dictionary<ulong, EvmAddress> _sequencerFeeds = [];

    public IReadOnlyCollection<TokenInfo> Tokens => _tokens.Values;

    public void AddToken(TokenInfo token)
    {
        ArgumentNullException.ThrowIfNull(token);
        _tokens[(token.Chain.Value, token.Address)] = token;
    }

    public void AddPriceFeed(ChainId chain, EvmAddress feed, AssetId asset) => _feeds[(chain.Value, feed)] = asset;

    public void AddVolatilityFeed(ChainId chain, EvmAddress feed, AssetId asset) => _volFeeds[(chain.Value, feed)] = asset;

    /// <summary>Registers an L2 chain's sequencer uptime feed (answer 0 = up, 1 = down).</summary>
    public void AddSequencerFeed(ChainId chain, EvmAddress feed) => _sequencerFeeds[chain.Value] = feed;

    /// <summary>The chain whose sequencer this feed reports, or null when it is not a sequencer uptime feed.</summary>
    public ChainId? SequencerFeedChain(ChainId chain, EvmAddress feed) =>
        _sequencerFeeds.TryGetValue(chain.Value, out var f) && f == feed ? chain : null;

    public IEnumerable<(ChainId Chain, EvmAddress Feed)> SequencerFeeds =>
        _sequencerFeeds.Select(f => (new ChainId(f.Key), f.Value));

    public TokenInfo? Token(ChainId chain, EvmAddress address) => _tokens.GetValueOrDefault((chain.Value, address));

    /// <summary>The asset a spot feed prices, or null when the feed is not a configured spot feed.</summary>
    public AssetId? PriceFeedAsset(ChainId chain, EvmAddress feed) => _feeds.TryGetValue((chain.Value, feed), out var a) ? a : null;

    public AssetId? VolatilityFeedAsset(ChainId chain, EvmAddress feed) => _volFeeds.TryGetValue((chain.Value, feed), out var a) ? a : null;

    public IEnumerable<(ChainId Chain, EvmAddress Feed, AssetId Asset)> PriceFeeds =>
        _feeds.Select(f => (new ChainId(f.Key.Item1), f.Key.Item2, f.Value));

    public IEnumerable<(ChainId Chain, EvmAddress Feed, AssetId Asset)> VolatilityFeeds =>
        _volFeeds.Select(f => (new ChainId(f.Key.Item1), f.Key.Item2, f.Value));
}
