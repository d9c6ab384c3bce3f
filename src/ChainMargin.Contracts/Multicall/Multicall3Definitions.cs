using System.Numerics;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Contracts;

#pragma warning disable CA1819, CA2227 // Nethereum binds bytes and dynamic arrays to settable byte[] / List<T> properties

namespace ChainMargin.Contracts.Multicall;

/// <summary>The canonical Multicall3 address; on devnets our own implementation is installed there with anvil_setCode.</summary>
public static class Multicall3Address
{
    public const string Canonical = "0xcA11bde05977b3631167028862bE2a173976CA11";
}

public sealed class MulticallCall
{
    [Parameter("address", "target", 1)]
    public string Target { get; set; } = "";

    [Parameter("bytes", "callData", 2)]
    public byte[] CallData { get; set; } = [];
}

public sealed class Call3
{
    [Parameter("address", "target", 1)]
    public string Target { get; set; } = "";

    [Parameter("bool", "allowFailure", 2)]
    public bool AllowFailure { get; set; }

    [Parameter("bytes", "callData", 3)]
    public byte[] CallData { get; set; } = [];
}

public sealed class Call3Value
{
    [Parameter("address", "target", 1)]
    public string Target { get; set; } = "";

    [Parameter("bool", "allowFailure", 2)]
    public bool AllowFailure { get; set; }

    [Parameter("uint256", "value", 3)]
    public BigInteger Value { get; set; }

    [Parameter("bytes", "callData", 4)]
    public byte[] CallData { get; set; } = [];
}

[FunctionOutput]
public sealed class Result : IFunctionOutputDTO
{
    [Parameter("bool", "success", 1)]
    public bool Success { get; set; }

    [Parameter("bytes", "returnData", 2)]
    public byte[] ReturnData { get; set; } = [];
}

[Function("aggregate", typeof(AggregateOutputDto))]
public sealed class AggregateFunction : FunctionMessage
{
    [Parameter("tuple[]", "calls", 1)]
    public List<MulticallCall> Calls { get; set; } = [];
}

[FunctionOutput]
public sealed class AggregateOutputDto : IFunctionOutputDTO
{
    [Parameter("uint256", "blockNumber", 1)]
    public BigInteger BlockNumber { get; set; }

    [Parameter("bytes[]", "returnData", 2)]
    public List<byte[]> ReturnData { get; set; } = [];
}

[Function("tryAggregate", typeof(ResultsOutputDto))]
public sealed class TryAggregateFunction : FunctionMessage
{
    [Parameter("bool", "requireSuccess", 1)]
    public bool RequireSuccess { get; set; }

    [Parameter("tuple[]", "calls", 2)]
    public List<MulticallCall> Calls { get; set; } = [];
}

[Function("tryBlockAndAggregate", typeof(BlockAndResultsOutputDto))]
public sealed class TryBlockAndAggregateFunction : FunctionMessage
{
    [Parameter("bool", "requireSuccess", 1)]
    public bool RequireSuccess { get; set; }

    [Parameter("tuple[]", "calls", 2)]
    public List<MulticallCall> Calls { get; set; } = [];
}

[Function("blockAndAggregate", typeof(BlockAndResultsOutputDto))]
public sealed class BlockAndAggregateFunction : FunctionMessage
{
    [Parameter("tuple[]", "calls", 1)]
    public List<MulticallCall> Calls { get; set; } = [];
}

[Function("aggregate3", typeof(ResultsOutputDto))]
public sealed class Aggregate3Function : FunctionMessage
{
    [Parameter("tuple[]", "calls", 1)]
    public List<Call3> Calls { get; set; } = [];
}

[Function("aggregate3Value", typeof(ResultsOutputDto))]
public sealed class Aggregate3ValueFunction : FunctionMessage
{
    [Parameter("tuple[]", "calls", 1)]
    public List<Call3Value> Calls { get; set; } = [];
}

[FunctionOutput]
public sealed class ResultsOutputDto : IFunctionOutputDTO
{
    [Parameter("tuple[]", "returnData", 1)]
    public List<Result> ReturnData { get; set; } = [];
}

[FunctionOutput]
public sealed class BlockAndResultsOutputDto : IFunctionOutputDTO
{
    [Parameter("uint256", "blockNumber", 1)]
    public BigInteger BlockNumber { get; set; }

    [Parameter("bytes32", "blockHash", 2)]
    public byte[] BlockHash { get; set; } = [];

    [Parameter("tuple[]", "returnData", 3)]
    public List<Result> ReturnData { get; set; } = [];
}

[Function("getBlockNumber", "uint256")]
public sealed class GetBlockNumberFunction : FunctionMessage
{
}

[Function("getBlockHash", "bytes32")]
public sealed class GetBlockHashFunction : FunctionMessage
{
    [Parameter("uint256", "blockNumber", 1)]
    public BigInteger BlockNumber { get; set; }
}

[Function("getLastBlockHash", "bytes32")]
public sealed class GetLastBlockHashFunction : FunctionMessage
{
}

[Function("getCurrentBlockTimestamp", "uint256")]
public sealed class GetCurrentBlockTimestampFunction : FunctionMessage
{
}

[Function("getEthBalance", "uint256")]
public sealed class GetEthBalanceFunction : FunctionMessage
{
    [Parameter("address", "account", 1)]
    public string Account { get; set; } = "";
}

[Function("getChainId", "uint256")]
public sealed class GetChainIdFunction : FunctionMessage
{
}

[Function("getBasefee", "uint256")]
public sealed class GetBasefeeFunction : FunctionMessage
{
}
