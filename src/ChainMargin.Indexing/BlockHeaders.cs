using System.Text.Json;
using ChainMargin.Core;
using ChainMargin.Indexing.Decoding;
using ChainMargin.Indexing.Rpc;

namespace ChainMargin.Indexing;

/// <summary>Reads block headers (number, hash, parent hash, timestamp), many per JSON-RPC batch.</summary>
public sealed class BlockHeaders
{
    private const int MaxBatchSize = 100;
    private readonly JsonRpcClient _rpc;
    private readonly ChainId _chain;
    private int _batchSize = MaxBatchSize;

    public BlockHeaders(JsonRpcClient rpc, ChainId chain)
    {
        _rpc = rpc;
        _chain = chain;
    }

    public async Task<long> HeadAsync(CancellationToken cancellationToken)
    {
        return ParseHead(await _rpc.CallAsync("eth_blockNumber", [], cancellationToken).ConfigureAwait(false));
    }

    /// <summary>The header at a number, or null when the chain has no such block (it is shorter now).</summary>
    public async Task<IndexedBlock?> GetAsync(long number, CancellationToken cancellationToken)
    {
        var result = await _rpc.CallAsync("eth_getBlockByNumber", [Hex.FromLong(number), false], cancellationToken).ConfigureAwait(false);
        return result.ValueKind == JsonValueKind.Null ? null : Parse(result);
    }

    /// <summary>
    /// The head and the header at a number (null when the chain has no such block), in one JSON-RPC batch; as two calls
    /// when the node refuses batches.
    /// </summary>
    public async Task<(long Head, IndexedBlock? Block)> HeadAndBlockAsync(long number, CancellationToken cancellationToken)
    {
        JsonElement[] results;
        try
        {
            results = await _rpc.BatchAsync(
                [new RpcRequest("eth_blockNumber", []), new RpcRequest("eth_getBlockByNumber", [Hex.FromLong(number), false])],
                cancellationToken).ConfigureAwait(false);
        }
        catch (RpcNodeException ex) when (IsBatchRefusal(ex))
        {
            return (await HeadAsync(cancellationToken).ConfigureAwait(false), await GetAsync(number, cancellationToken).ConfigureAwait(false));
        }

        return (ParseHead(results[0]), results[1].ValueKind == JsonValueKind.Null ? null : Parse(results[1]));
    }

    private static long ParseHead(JsonElement result) =>
        result.ValueKind == JsonValueKind.String
            ? Hex.ToLong(result.GetString()!)
            : throw new FormatException($"eth_blockNumber answered {result.ValueKind}, not a hex quantity");

    /// <summary>Headers asked for per JSON-RPC batch; lowered for good when the node refuses a batch as too large.</summary>
    public int BatchSize => Volatile.Read(ref _batchSize);

    /// <summary>The headers of [from, to] in order; a block the node does not have is null.</summary>
    public async Task<IndexedBlock?[]> GetRangeAsync(long from, long to, CancellationToken cancellationToken)
    {
        var headers = new IndexedBlock?[to - from + 1];
        var start = from;
        while (start <= to)
        {
            var end = Math.Min(to, start + BatchSize - 1);
            var requests = new List<RpcRequest>();
            for (var n = start; n <= end; n++)
            {
                requests.Add(new RpcRequest("eth_getBlockByNumber", [Hex.FromLong(n), false]));
            }

            JsonElement[] results;
            try
            {
                results = await _rpc.BatchAsync(requests, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcNodeException ex) when (requests.Count > 1 && IsBatchRefusal(ex))
            {
                // Providers cap batches (10, 50, 100 calls) and refuse the whole batch; asking again for the same
                // batch would fail forever, so halve it.
                Volatile.Write(ref _batchSize, Math.Max(1, requests.Count / 2));
                continue;
            }

            for (var i = 0; i < results.Length; i++)
            {
                headers[start - from + i] = results[i].ValueKind == JsonValueKind.Null ? null : Parse(results[i]);
            }

            start = end + 1;
        }

        return headers;
    }

    /// <summary>A refusal of the batch itself ("batch size too large", "batch limit exceeded"), not of one of its calls.</summary>
    public static bool IsBatchRefusal(RpcNodeException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return (error.Message + " " + error.ErrorData).Contains("batch", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A header from the node's JSON; a malformed one is a <see cref="FormatException"/> naming the field.</summary>
    private IndexedBlock Parse(JsonElement block)
    {
        if (block.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException($"eth_getBlockByNumber answered {block.ValueKind}, not a block");
        }

        var number = Hex.ToLong(Text(block, "number"));
        var hash = Text(block, "hash").ToLowerInvariant();
        var parent = Text(block, "parentHash").ToLowerInvariant();
        var timestamp = Hex.ToLong(Text(block, "timestamp"));
        return new IndexedBlock(new BlockRef(_chain, number, hash), parent, timestamp);
    }

    private static string Text(JsonElement block, string name) =>
        block.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new FormatException($"block field '{name}' is missing or not a string");
}
