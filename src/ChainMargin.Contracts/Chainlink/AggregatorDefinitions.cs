using System.Numerics;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Contracts;

namespace ChainMargin.Contracts.Chainlink;

/// <summary>Chainlink's AnswerUpdated, emitted by real aggregators and by our PriceFeed alike.</summary>
[Event("AnswerUpdated")]
public sealed class AnswerUpdatedEventDto : IEventDTO
{
    [Parameter("int256", "current", 1, true)]
    public BigInteger Current { get; set; }

    [Parameter("uint256", "roundId", 2, true)]
    public BigInteger RoundId { get; set; }

    [Parameter("uint256", "updatedAt", 3, false)]
    public BigInteger UpdatedAt { get; set; }
}

[Event("NewRound")]
public sealed class NewRoundEventDto : IEventDTO
{
    [Parameter("uint256", "roundId", 1, true)]
    public BigInteger RoundId { get; set; }

    [Parameter("address", "startedBy", 2, true)]
    public string StartedBy { get; set; } = "";

    [Parameter("uint256", "startedAt", 3, false)]
    public BigInteger StartedAt { get; set; }
}

/// <summary>The scale of the feed's answers (8 for Chainlink's USD pairs, 18 for ETH pairs and some others).</summary>
[Function("decimals", "uint8")]
public sealed class AggregatorDecimalsFunction : FunctionMessage
{
}

[Function("description", "string")]
public sealed class DescriptionFunction : FunctionMessage
{
}

[Function("version", "uint256")]
public sealed class VersionFunction : FunctionMessage
{
}

[Function("latestRoundData", typeof(RoundDataOutputDto))]
public sealed class LatestRoundDataFunction : FunctionMessage
{
}

/// <summary>Reverts "No data present" for a round that does not exist.</summary>
[Function("getRoundData", typeof(RoundDataOutputDto))]
public sealed class GetRoundDataFunction : FunctionMessage
{
    [Parameter("uint80", "roundId", 1)]
    public BigInteger RoundId { get; set; }
}

[FunctionOutput]
public sealed class RoundDataOutputDto : IFunctionOutputDTO
{
    [Parameter("uint80", "roundId", 1)]
    public BigInteger RoundId { get; set; }

    [Parameter("int256", "answer", 2)]
    public BigInteger Answer { get; set; }

    [Parameter("uint256", "startedAt", 3)]
    public BigInteger StartedAt { get; set; }

    [Parameter("uint256", "updatedAt", 4)]
    public BigInteger UpdatedAt { get; set; }

    [Parameter("uint80", "answeredInRound", 5)]
    public BigInteger AnsweredInRound { get; set; }
}
