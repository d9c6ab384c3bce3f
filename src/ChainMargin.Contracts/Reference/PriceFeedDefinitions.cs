using System.Numerics;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Contracts;

namespace ChainMargin.Contracts.Reference;

// PriceFeed reads like a Chainlink aggregator (see ChainMargin.Contracts.Chainlink for the views and events);
// these are its owner-only writers and its deployment.

/// <summary>Publishes a new round with updatedAt = block.timestamp.</summary>
[Function("setAnswer")]
public sealed class SetAnswerFunction : FunctionMessage
{
    [Parameter("int256", "answer", 1)]
    public BigInteger Answer { get; set; }
}

/// <summary>Publishes a new round with an explicit updatedAt (unix seconds), e.g. to make the feed stale.</summary>
[Function("setRoundData")]
public sealed class SetRoundDataFunction : FunctionMessage
{
    [Parameter("int256", "answer", 1)]
    public BigInteger Answer { get; set; }

    [Parameter("uint256", "updatedAt", 2)]
    public BigInteger UpdatedAt { get; set; }
}

[Function("latestRound", "uint80")]
public sealed class LatestRoundFunction : FunctionMessage
{
}

public sealed class PriceFeedDeployment : ContractDeploymentMessage
{
    public PriceFeedDeployment()
        : base(Artifacts.PriceFeed.Bytecode)
    {
    }

    [Parameter("uint8", "decimals_", 1)]
    public byte Decimals { get; set; }

    [Parameter("string", "description_", 2)]
    public string Description { get; set; } = "";

    /// <summary>The first round's answer, in the feed's decimals.</summary>
    [Parameter("int256", "initialAnswer", 3)]
    public BigInteger InitialAnswer { get; set; }
}

[Function("owner", "address")]
public sealed class OwnerFunction : FunctionMessage
{
}

[Function("transferOwnership")]
public sealed class TransferOwnershipFunction : FunctionMessage
{
    [Parameter("address", "newOwner", 1)]
    public string NewOwner { get; set; } = "";
}
