using System.Numerics;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Contracts;

namespace ChainMargin.Contracts.Reference;

// PerpMarket. Size: 18 decimals, signed (long positive). Prices: the feed's decimals (8). PnL: settlement token (USDC, 6),
// pnl = size * (price - entry) / 1e20 truncated toward zero.

[Event("MarketListed")]
public sealed class MarketListedEventDto : IEventDTO
{
    [Parameter("uint256", "marketId", 1, true)]
    public BigInteger MarketId { get; set; }

    [Parameter("address", "feed", 2, false)]
    public string Feed { get; set; } = "";

    /// <summary>The underlying's symbol, e.g. "ETH" (the market is ETH-PERP).</summary>
    [Parameter("string", "symbol", 3, false)]
    public string Symbol { get; set; } = "";
}

/// <summary>One event per trade, including a flip through zero (then RealizedPnl is the closed part's PnL).</summary>
[Event("PositionChanged")]
public sealed class PositionChangedEventDto : IEventDTO
{
    [Parameter("address", "account", 1, true)]
    public string Account { get; set; } = "";

    [Parameter("uint256", "marketId", 2, true)]
    public BigInteger MarketId { get; set; }

    [Parameter("int256", "sizeDelta", 3, false)]
    public BigInteger SizeDelta { get; set; }

    [Parameter("int256", "newSize", 4, false)]
    public BigInteger NewSize { get; set; }

    /// <summary>Entry price after the trade; 0 when the position is closed.</summary>
    [Parameter("uint256", "entryPrice", 5, false)]
    public BigInteger EntryPrice { get; set; }

    [Parameter("uint256", "tradePrice", 6, false)]
    public BigInteger TradePrice { get; set; }

    [Parameter("int256", "realizedPnl", 7, false)]
    public BigInteger RealizedPnl { get; set; }
}

[Event("LiquidatorSet")]
public sealed class LiquidatorSetEventDto : IEventDTO
{
    [Parameter("address", "liquidator", 1, true)]
    public string Liquidator { get; set; } = "";
}

/// <summary>Owner-only; market ids start at 1.</summary>
[Function("listMarket", "uint256")]
public sealed class ListMarketFunction : FunctionMessage
{
    [Parameter("address", "feed", 1)]
    public string Feed { get; set; } = "";

    [Parameter("string", "symbol", 2)]
    public string Symbol { get; set; } = "";
}

[Function("setLiquidator")]
public sealed class SetLiquidatorFunction : FunctionMessage
{
    [Parameter("address", "liquidator_", 1)]
    public string Liquidator { get; set; } = "";
}

[Function("trade", "int256")]
public sealed class PerpTradeFunction : FunctionMessage
{
    [Parameter("uint256", "marketId", 1)]
    public BigInteger MarketId { get; set; }

    [Parameter("int256", "sizeDelta", 2)]
    public BigInteger SizeDelta { get; set; }
}

/// <summary>Liquidator-only: closes the account's whole position in the market.</summary>
[Function("closeFor", "int256")]
public sealed class CloseForFunction : FunctionMessage
{
    [Parameter("address", "account", 1)]
    public string Account { get; set; } = "";

    [Parameter("uint256", "marketId", 2)]
    public BigInteger MarketId { get; set; }
}

[Function("positionOf", typeof(PerpPositionOutputDto))]
public sealed class PerpPositionOfFunction : FunctionMessage
{
    [Parameter("address", "account", 1)]
    public string Account { get; set; } = "";

    [Parameter("uint256", "marketId", 2)]
    public BigInteger MarketId { get; set; }
}

[FunctionOutput]
public sealed class PerpPositionOutputDto : IFunctionOutputDTO
{
    [Parameter("int256", "size", 1)]
    public BigInteger Size { get; set; }

    [Parameter("uint256", "entryPrice", 2)]
    public BigInteger EntryPrice { get; set; }
}

[Function("openMarkets", "uint256[]")]
public sealed class OpenMarketsFunction : FunctionMessage
{
    [Parameter("address", "account", 1)]
    public string Account { get; set; } = "";
}

[Function("unrealizedPnl", "int256")]
public sealed class UnrealizedPnlFunction : FunctionMessage
{
    [Parameter("address", "account", 1)]
    public string Account { get; set; } = "";

    [Parameter("uint256", "marketId", 2)]
    public BigInteger MarketId { get; set; }
}

[Function("marketCount", "uint256")]
public sealed class MarketCountFunction : FunctionMessage
{
}

[Function("market", typeof(PerpMarketOutputDto))]
public sealed class PerpMarketFunction : FunctionMessage
{
    [Parameter("uint256", "marketId", 1)]
    public BigInteger MarketId { get; set; }
}

[FunctionOutput]
public sealed class PerpMarketOutputDto : IFunctionOutputDTO
{
    [Parameter("address", "feed", 1)]
    public string Feed { get; set; } = "";

    [Parameter("string", "symbol", 2)]
    public string Symbol { get; set; } = "";

    [Parameter("uint256", "pnlScale", 3)]
    public BigInteger PnlScale { get; set; }
}

public sealed class PerpMarketDeployment : ContractDeploymentMessage
{
    public PerpMarketDeployment()
        : base(Artifacts.PerpMarket.Bytecode)
    {
    }

    [Parameter("address", "vault_", 1)]
    public string Vault { get; set; } = "";
}
