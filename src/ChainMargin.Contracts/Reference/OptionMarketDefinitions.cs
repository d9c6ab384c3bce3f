using System.Numerics;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Contracts;

namespace ChainMargin.Contracts.Reference;

// OptionMarket: European, cash-settled. Size 18 decimals signed (long positive); strike and settlement price in the
// feed's decimals (8); premium per 1e18 units and payouts in the settlement token (USDC, 6).

[Event("SeriesListed")]
public sealed class SeriesListedEventDto : IEventDTO
{
    [Parameter("uint256", "seriesId", 1, true)]
    public BigInteger SeriesId { get; set; }

    [Parameter("address", "feed", 2, false)]
    public string Feed { get; set; } = "";

    [Parameter("string", "symbol", 3, false)]
    public string Symbol { get; set; } = "";

    [Parameter("uint256", "strike", 4, false)]
    public BigInteger Strike { get; set; }

    /// <summary>Unix seconds.</summary>
    [Parameter("uint64", "expiry", 5, false)]
    public ulong Expiry { get; set; }

    [Parameter("bool", "isCall", 6, false)]
    public bool IsCall { get; set; }
}

/// <summary>Premium is unsigned: a buy (SizeDelta &gt; 0) pays it, a sell receives it.</summary>
[Event("OptionTraded")]
public sealed class OptionTradedEventDto : IEventDTO
{
    [Parameter("address", "account", 1, true)]
    public string Account { get; set; } = "";

    [Parameter("uint256", "seriesId", 2, true)]
    public BigInteger SeriesId { get; set; }

    [Parameter("int256", "sizeDelta", 3, false)]
    public BigInteger SizeDelta { get; set; }

    [Parameter("int256", "newSize", 4, false)]
    public BigInteger NewSize { get; set; }

    [Parameter("uint256", "premium", 5, false)]
    public BigInteger Premium { get; set; }
}

/// <summary>The position (Size before settlement) becomes zero; Payout is signed (a short pays).</summary>
[Event("OptionSettled")]
public sealed class OptionSettledEventDto : IEventDTO
{
    [Parameter("address", "account", 1, true)]
    public string Account { get; set; } = "";

    [Parameter("uint256", "seriesId", 2, true)]
    public BigInteger SeriesId { get; set; }

    [Parameter("int256", "size", 3, false)]
    public BigInteger Size { get; set; }

    [Parameter("uint256", "settlementPrice", 4, false)]
    public BigInteger SettlementPrice { get; set; }

    [Parameter("int256", "payout", 5, false)]
    public BigInteger Payout { get; set; }
}

/// <summary>Owner-only; series ids start at 1; expiry must be in the future.</summary>
[Function("listSeries", "uint256")]
public sealed class ListSeriesFunction : FunctionMessage
{
    [Parameter("address", "feed", 1)]
    public string Feed { get; set; } = "";

    [Parameter("string", "symbol", 2)]
    public string Symbol { get; set; } = "";

    [Parameter("uint256", "strike", 3)]
    public BigInteger Strike { get; set; }

    [Parameter("uint64", "expiry", 4)]
    public ulong Expiry { get; set; }

    [Parameter("bool", "isCall", 5)]
    public bool IsCall { get; set; }
}

[Function("trade", "uint256")]
public sealed class OptionTradeFunction : FunctionMessage
{
    [Parameter("uint256", "seriesId", 1)]
    public BigInteger SeriesId { get; set; }

    [Parameter("int256", "sizeDelta", 2)]
    public BigInteger SizeDelta { get; set; }

    /// <summary>Settlement-token units per 1e18 units of size.</summary>
    [Parameter("uint256", "premiumPerUnit", 3)]
    public BigInteger PremiumPerUnit { get; set; }
}

/// <summary>After expiry, at the feed's latest round, which must be updated at or after expiry. Anyone may call.</summary>
[Function("settle", "int256")]
public sealed class SettleFunction : FunctionMessage
{
    [Parameter("uint256", "seriesId", 1)]
    public BigInteger SeriesId { get; set; }

    [Parameter("address", "account", 2)]
    public string Account { get; set; } = "";
}

[Function("positionOf", "int256")]
public sealed class OptionPositionOfFunction : FunctionMessage
{
    [Parameter("address", "account", 1)]
    public string Account { get; set; } = "";

    [Parameter("uint256", "seriesId", 2)]
    public BigInteger SeriesId { get; set; }
}

[Function("seriesCount", "uint256")]
public sealed class SeriesCountFunction : FunctionMessage
{
}

[Function("series", typeof(OptionSeriesOutputDto))]
public sealed class OptionSeriesFunction : FunctionMessage
{
    [Parameter("uint256", "seriesId", 1)]
    public BigInteger SeriesId { get; set; }
}

[FunctionOutput]
public sealed class OptionSeriesOutputDto : IFunctionOutputDTO
{
    [Parameter("address", "feed", 1)]
    public string Feed { get; set; } = "";

    [Parameter("string", "symbol", 2)]
    public string Symbol { get; set; } = "";

    [Parameter("uint256", "strike", 3)]
    public BigInteger Strike { get; set; }

    [Parameter("uint64", "expiry", 4)]
    public ulong Expiry { get; set; }

    [Parameter("bool", "isCall", 5)]
    public bool IsCall { get; set; }
}

public sealed class OptionMarketDeployment : ContractDeploymentMessage
{
    public OptionMarketDeployment()
        : base(Artifacts.OptionMarket.Bytecode)
    {
    }

    [Parameter("address", "vault_", 1)]
    public string Vault { get; set; } = "";
}
