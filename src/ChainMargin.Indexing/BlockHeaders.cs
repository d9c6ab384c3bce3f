using System.Text.Json;
using ChainMargin.Core;
using ChainMargin.Indexing.Decoding;
using ChainMargin.Indexing.Rpc;

namespace ChainMargin.Indexing;

/// <summary>Reads block headers (number, hash, parent hash, timestamp), many per JSON-RPC batch.</summary>
public sealed class BlockHeaders
{
    private const int BatchSize = 100;
    private readonly JsonRpcClient _rpc;
    private readonly ChainId _chain;

    public BlockHeaders(JsonRpcClient rpc, ChainId chain)
    {
        _rpc = rpc;
        _chain = chain;
    }

    public async Task<long> HeadAsync(CancellationToken cancellationToken)
    {
        var result = await _rpc.CallAsync("eth_blockNumber", [], cancellationToken).ConfigureAwait(false);
        return Hex.ToLong(result.GetString() ?? throw new RpcTransientException("eth_blockNumber answered null"));
    }

    /// <summary>The header at a number, or null when the chain has no such block (it is shorter now).</summary>
    public async Task<IndexedBlock?> GetAsync(long number, CancellationToken cancellationToken)
    {
        var result = await _rpc.CallAsync("eth_getBlockByNumber", [Hex.FromLong(number), false], cancellationToken).ConfigureAwait(false);
        return result.ValueKind == JsonValueKind.Null ? null : Parse(result);
    }

    /// <summary>The headers of [from, to] in order; a block the node does not have is null.</summary>
    public async Task<IndexedBlock?[]> GetRangeAsync(long from, long to, CancellationToken cancellationToken)
    {
        var headers = new IndexedBlock?[to - from + 1];
        for (var start = from; start <= to; start += BatchSize)
        {
            var end = Math.Min(to, start + BatchSize - 1);
            var requests = new List<RpcRequest>();
            for (var n = start; n <= end; n++)
            {
                requests.Add(new RpcRequest("eth_getBlockByNumber", [Hex.FromLong(n), false]));
            }

            var results = await _rpc.BatchAsync(requests, cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < results.Length; i++)
            {
                headers[start - from + i] = results[i].ValueKind == JsonValueKind.Null ? null : Parse(results[i]);
            }
        }

        return headers;
    }

    private IndexedBlock Parse(JsonElement block)
    {
        var number = Hex.ToLong(block.GetProperty("number").GetString()!);
        var hash = block.GetProperty("hash").GetString()!.ToLowerInvariant();
        var parent = block.GetProperty("parentHash").GetString()!.ToLowerInvariant();
        var timestamp = Hex.ToLong(block.GetProperty("timestamp").GetString()!);
        return new IndexedBlock(new BlockRef(_chain, number, hash), parent, timestamp);
    }
}
