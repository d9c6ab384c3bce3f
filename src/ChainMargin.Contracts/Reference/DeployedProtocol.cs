using System.Text.Json;
using System.Text.Json.Serialization;

namespace ChainMargin.Contracts.Reference;

/// <summary>An ERC-20 of the reference protocol on one chain.</summary>
public sealed record DeployedToken(string Symbol, string Address, int Decimals);

/// <summary>A PriceFeed: Kind "spot" (USD price of Asset) or "vol" (annualised implied volatility of Asset).</summary>
public sealed record DeployedFeed(string Asset, string Kind, string Address, int Decimals, string Description);

/// <summary>A perp market: id in PerpMarket, underlying symbol (as in MarketListed), display name, price feed.</summary>
public sealed record DeployedPerpMarket(int MarketId, string Underlying, string Name, string Feed);

/// <summary>
/// Every address of the reference protocol on one chain, as the deployer left it. Addresses are lower-case 0x hex.
/// Serialises to and from JSON (<see cref="ToJson"/>, <see cref="FromJson"/>) for config files and other processes.
/// </summary>
public sealed record DeployedProtocol(
    ulong ChainId,
    string Deployer,
    long DeployedFromBlock,
    long DeployedToBlock,
    IReadOnlyList<DeployedToken> Tokens,
    IReadOnlyList<DeployedFeed> Feeds,
    string Vault,
    string PerpMarket,
    string OptionMarket,
    string Liquidator,
    string Multicall3,
    IReadOnlyList<DeployedPerpMarket> PerpMarkets,
    string RiskSigner,
    string InsuranceFund,
    int BonusBps)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    [JsonIgnore]
    public string Usdc => Token("USDC").Address;

    [JsonIgnore]
    public string Wbtc => Token("WBTC").Address;

    [JsonIgnore]
    public string Weth => Token("WETH").Address;

    public DeployedToken Token(string symbol) =>
        Tokens.FirstOrDefault(t => string.Equals(t.Symbol, symbol, StringComparison.OrdinalIgnoreCase))
        ?? throw new KeyNotFoundException($"no token {symbol} on chain {ChainId}");

    /// <summary>The USD spot feed of an asset ("ETH", "BTC", "USDC").</summary>
    public string SpotFeed(string asset) => Feed(asset, "spot");

    /// <summary>The implied-volatility feed of an underlying ("ETH", "BTC").</summary>
    public string VolFeed(string asset) => Feed(asset, "vol");

    public DeployedPerpMarket PerpMarketFor(string underlying) =>
        PerpMarkets.FirstOrDefault(m => string.Equals(m.Underlying, underlying, StringComparison.OrdinalIgnoreCase))
        ?? throw new KeyNotFoundException($"no perp market on {underlying} on chain {ChainId}");

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static DeployedProtocol FromJson(string json) =>
        JsonSerializer.Deserialize<DeployedProtocol>(json, Json) ?? throw new JsonException("empty deployment document");

    private string Feed(string asset, string kind) =>
        Feeds.FirstOrDefault(f => f.Kind == kind && string.Equals(f.Asset, asset, StringComparison.OrdinalIgnoreCase))?.Address
        ?? throw new KeyNotFoundException($"no {kind} feed for {asset} on chain {ChainId}");
}
