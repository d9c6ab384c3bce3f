using System.Text.Json;
using ChainMargin.Contracts.Aave;
using ChainMargin.Contracts.Multicall;
using ChainMargin.Core;
using ChainMargin.Indexing.Decoding;
using ChainMargin.Indexing.Rpc;
using Nethereum.Contracts;

namespace ChainMargin.Indexing.State;

/// <summary>One view call: the contract and its ABI-encoded call data.</summary>
public sealed record StateCall(EvmAddress Target, byte[] CallData);

/// <summary>A view call's answer: whether it succeeded, and its ABI-encoded return data as 0x hex ("0x" when none).</summary>
public sealed record StateAnswer(bool Success, string ReturnData);

/// <summary>The answers of several view calls, all read at one block (number and hash).</summary>
public sealed record PinnedState(BlockRef Block, IReadOnlyList<StateAnswer> Answers);

/// <summary>
/// Reads state that events do not carry (balances at a block, oracle rounds, protocol parameters) as one snapshot:
/// every call goes into one Multicall3 aggregate3 (allowFailure, so one reverting call does not hide the others), sent
/// as one eth_call pinned to the block by its hash (EIP-1898), so all answers come from the same state, and a block
/// that a reorg replaced is refused by the node rather than answered from the other fork. Where Multicall3 has no code
/// at that block (a chain where it arrived later), or the chain has none configured, the calls go as one JSON-RPC batch
/// pinned to the same hash.
/// </summary>
public sealed class PinnedStateReader
{
    private readonly JsonRpcClient _rpc;
    private readonly BlockHeaders _headers;
    private readonly EvmAddress? _multicall3;

    /// <param name="multicall3">The chain's Multicall3; null reads every call in a JSON-RPC batch instead.</param>
    public PinnedStateReader(JsonRpcClient rpc, ChainId chain, EvmAddress? multicall3)
    {
        ArgumentNullException.ThrowIfNull(rpc);
        _rpc = rpc;
        _headers = new BlockHeaders(rpc, chain);
        _multicall3 = multicall3;
    }

    /// <summary>Reads at a block number: its hash is looked up first, and every call is pinned to that hash.</summary>
    public async Task<PinnedState> ReadAsync(long blockNumber, IReadOnlyList<StateCall> calls, CancellationToken cancellationToken)
    {
        var header = await _headers.GetAsync(blockNumber, cancellationToken).ConfigureAwait(false)
            ?? throw new InconsistentChainException($"block {blockNumber} is not on the node");
        return await ReadAsync(header.Block, calls, cancellationToken).ConfigureAwait(false);
    }

    public async Task<PinnedState> ReadAsync(BlockRef block, IReadOnlyList<StateCall> calls, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(calls);
        if (calls.Count == 0)
        {
            return new PinnedState(block, []);
        }

        var at = new Dictionary<string, object> { ["blockHash"] = block.Hash, ["requireCanonical"] = true };
        if (_multicall3 is not { } multicall3)
        {
            return new PinnedState(block, await OneByOneAsync(calls, at, cancellationToken).ConfigureAwait(false));
        }

        var aggregate = new Aggregate3Function
        {
            Calls = [.. calls.Select(c => new Call3 { Target = c.Target.Value, AllowFailure = true, CallData = c.CallData })],
        };
        var answer = await _rpc.CallAsync("eth_call", [Call(multicall3, aggregate.GetCallData()), at], cancellationToken)
            .ConfigureAwait(false);
        var hex = answer.ValueKind == JsonValueKind.String ? answer.GetString()! : throw new FormatException($"eth_call answered {answer.ValueKind}, not hex data");
        if (hex is "0x" or "0X")
        {
            return new PinnedState(block, await OneByOneAsync(calls, at, cancellationToken).ConfigureAwait(false));
        }

        var results = AaveV3Abi.DecodeMulticall3Results(hex);
        if (results.Count != calls.Count)
        {
            throw new FormatException($"Multicall3 at {multicall3} answered {results.Count} results for {calls.Count} calls at block {block.Number}");
        }

        return new PinnedState(block, [.. results.Select(r => new StateAnswer(r.Success, r.ReturnData))]);
    }

    private async Task<StateAnswer[]> OneByOneAsync(IReadOnlyList<StateCall> calls, Dictionary<string, object> at, CancellationToken cancellationToken)
    {
        var requests = calls.Select(c => new RpcRequest("eth_call", [Call(c.Target, c.CallData), at])).ToList();
        try
        {
            var results = await _rpc.BatchAsync(requests, cancellationToken).ConfigureAwait(false);
            return [.. results.Select(r => new StateAnswer(true, r.GetString() ?? "0x"))];
        }
        catch (RpcNodeException)
        {
            // A batch fails as a whole when one call reverts: ask each alone, so only that one fails.
        }

        var answers = new StateAnswer[calls.Count];
        for (var i = 0; i < calls.Count; i++)
        {
            try
            {
                var one = await _rpc.BatchAsync([requests[i]], cancellationToken).ConfigureAwait(false);
                answers[i] = new StateAnswer(true, one[0].GetString() ?? "0x");
            }
            catch (RpcNodeException)
            {
                answers[i] = new StateAnswer(false, "0x");
            }
        }

        return answers;
    }

    private static Dictionary<string, string> Call(EvmAddress to, byte[] data) =>
        new() { ["to"] = to.Value, ["data"] = "0x" + Convert.ToHexStringLower(data) };
}
