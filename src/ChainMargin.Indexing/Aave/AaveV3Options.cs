namespace ChainMargin.Indexing.Aave;

/// <summary>
/// An Aave V3 market on a chain (config key Chains:N:Contracts:AaveV3). When set, the host indexes the market and
/// joins its users' supplies, borrows and Aave's own health into their cross-chain portfolios. Reserve tokens are
/// found from the market's events; symbols are read from the tokens.
/// </summary>
public sealed class AaveV3Options
{
    public string Pool { get; set; } = "";

    public string PoolConfigurator { get; set; } = "";

    /// <summary>The AaveOracle the Pool prices with.</summary>
    public string Oracle { get; set; } = "";

    /// <summary>First block to index from: the block the market was deployed in (nothing before it concerns Aave).</summary>
    public long StartBlock { get; set; }
}
