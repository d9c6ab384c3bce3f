using System.ComponentModel.DataAnnotations;

namespace ChainMargin.Indexing;

/// <summary>One chain to watch (config key Chains:N). Addresses of its contracts come from config or the devnet file.</summary>
public sealed class ChainOptions
{
    [Required]
    public string Name { get; set; } = "";

    [Range(1, ulong.MaxValue)]
    public ulong ChainId { get; set; }

    /// <summary>One or more JSON-RPC URLs; the watcher fails over between them.</summary>
    [MinLength(1)]
    public List<string> RpcUrls { get; set; } = [];

    [Range(0, long.MaxValue)]
    public long StartBlock { get; set; }

    /// <summary>Blocks to stay behind the head.</summary>
    [Range(0, 1000)]
    public int Confirmations { get; set; }

    /// <summary>A reorg deeper than this stops the chain's watcher loudly; block hashes this deep are kept.</summary>
    [Range(1, 10_000)]
    public int FinalityDepth { get; set; } = 64;

    [Range(1, 1_000_000)]
    public int MaxBlockRange { get; set; } = 2_000;

    [Range(1, 1_000_000)]
    public int InitialBlockRange { get; set; } = 500;

    /// <summary>Concurrent eth_getLogs requests during backfill.</summary>
    [Range(1, 64)]
    public int Parallelism { get; set; } = 4;

    /// <summary>Most blocks stored in one commit.</summary>
    [Range(1, 10_000_000)]
    public int MaxBlocksPerCommit { get; set; } = 20_000;

    /// <summary>
    /// Spans fetched ahead while the current span is decoded and committed. They share the Parallelism requests on the
    /// wire, earlier spans first, so the node is kept busy across span boundaries. Each holds up to MaxBlocksPerCommit
    /// blocks of logs in memory; 0 turns it off. On the indexing bench 2 and 3 measured alike, both faster than 1 once
    /// commits got shorter than fetches; more absorbs uneven provider latency.
    /// </summary>
    [Range(0, 8)]
    public int PrefetchSpans { get; set; } = 2;

    /// <summary>
    /// How far (in blocks) the finality horizon (checkpoint - FinalityDepth) moves between prunes of versioned state
    /// (Aave V3 state, feed states): of a key's versions at or below the horizon only the newest can be read again, since
    /// no rollback goes below it. 0 keeps every version.
    /// </summary>
    [Range(0, int.MaxValue)]
    public int PruneEveryBlocks { get; set; } = 1_000;

    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>A chain with no successful poll for this long is stale.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromSeconds(15);

    public ChainContractsOptions Contracts { get; set; } = new();
}

/// <summary>The reference protocol's contracts on a chain, and its price feeds by asset symbol.</summary>
public sealed class ChainContractsOptions
{
    public string? Vault { get; set; }

    public string? PerpMarket { get; set; }

    public string? OptionMarket { get; set; }

    public string? Liquidator { get; set; }

    /// <summary>Collateral tokens by their symbol on this chain (USDC, WBTC, WETH ...), each with its canonical asset.</summary>
    public Dictionary<string, TokenOptions> Tokens { get; set; } = [];

    /// <summary>USD spot feed address by underlying symbol (ETH, BTC, USDC).</summary>
    public Dictionary<string, string> PriceFeeds { get; set; } = [];

    /// <summary>Implied-volatility feed address by underlying symbol.</summary>
    public Dictionary<string, string> VolatilityFeeds { get; set; } = [];

    /// <summary>
    /// Multicall3 on this chain (canonically 0xcA11bde05977b3631167028862bE2a173976CA11). When set, each commit also
    /// stores the feeds' decimals and latest round read in one aggregate3 call pinned to the commit's last block.
    /// </summary>
    public string? Multicall3 { get; set; }

    /// <summary>On an L2: the Chainlink sequencer uptime feed; while the sequencer is down or just back, prices are unsafe.</summary>
    public string? SequencerUptimeFeed { get; set; }

    /// <summary>An Aave V3 market on this chain, whose accounts join the cross-chain portfolios (optional).</summary>
    public Aave.AaveV3Options? AaveV3 { get; set; }
}

/// <summary>A token on one chain: its address, its decimals, and the canonical asset it is (WETH is ETH).</summary>
public sealed class TokenOptions
{
    [Required]
    public string Address { get; set; } = "";

    [Range(0, 77)]
    public int Decimals { get; set; }

    /// <summary>The canonical asset; defaults to the token's own symbol.</summary>
    public string? Asset { get; set; }
}
