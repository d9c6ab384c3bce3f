using System.Collections.Concurrent;
using System.Globalization;
using ChainMargin.Contracts.Chainlink;
using ChainMargin.Core;
using ChainMargin.Indexing.Rpc;
using Nethereum.Contracts;

namespace ChainMargin.Indexing;

/// <summary>
/// Reads AggregatorV3Interface.decimals() of each feed once, at the block asked for (the chain's indexed checkpoint,
/// so the read sits beside the data it scales), and keeps it for the life of the process.
/// </summary>
public sealed class FeedDecimalsReader : IFeedDecimalsSource, IDisposable
{
    private static readonly string CallData = "0x" + Convert.ToHexStringLower(new AggregatorDecimalsFunction().GetCallData());
    private readonly Dictionary<ulong, JsonRpcClient> _clients;
    private readonly ConcurrentDictionary<(ChainId, EvmAddress), int> _known = new();
    private readonly ConcurrentDictionary<(ChainId, EvmAddress), (FeedDecimals Failure, DateTimeOffset At)> _failed = new();
    private readonly TimeProvider _time;
    private long _reads;

    public FeedDecimalsReader(IEnumerable<ChainOptions> chains, RpcRetryOptions? retry = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(chains);
        _time = time ?? TimeProvider.System;
        _clients = chains.Where(c => c.RpcUrls.Count > 0).ToDictionary(c => c.ChainId, c => new JsonRpcClient(c.RpcUrls, retry, time));
    }

    /// <summary>How many feeds' decimals are known (each is read once).</summary>
    public int Known => _known.Count;

    /// <summary>decimals() calls sent so far: one per feed, plus retries of failed reads.</summary>
    public long Reads => Interlocked.Read(ref _reads);

    /// <summary>
    /// A failed read is answered from memory for this long before the chain is asked again, so a chain whose RPC is
    /// down does not hold up every recompute with its retries.
    /// </summary>
    public TimeSpan RetryFailedAfter { get; init; } = TimeSpan.FromSeconds(30);

    public async Task<FeedDecimals> GetAsync(ChainId chain, EvmAddress feed, long? block, CancellationToken cancellationToken)
    {
        if (_known.TryGetValue((chain, feed), out var decimals))
        {
            return FeedDecimals.Known(decimals);
        }

        if (!_clients.TryGetValue(chain.Value, out var rpc))
        {
            return FeedDecimals.Unknown($"decimals of feed {feed} on chain {chain} cannot be read: no RPC URL for the chain");
        }

        if (_failed.TryGetValue((chain, feed), out var failed) && _time.GetUtcNow() - failed.At < RetryFailedAfter)
        {
            return failed.Failure;
        }

        var where = block is { } b ? "0x" + b.ToString("x", CultureInfo.InvariantCulture) : "latest";
        Interlocked.Increment(ref _reads);
        try
        {
            var result = await rpc.CallAsync("eth_call", [new Dictionary<string, string> { ["to"] = feed.Value, ["data"] = CallData }, where], cancellationToken)
                .ConfigureAwait(false);
            var hex = result.GetString();
            if (hex is not { Length: 66 } || !hex.StartsWith("0x", StringComparison.Ordinal) ||
                !System.Numerics.BigInteger.TryParse("0" + hex[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var word) || word > 255)
            {
                return Failed(chain, feed, $"decimals() of feed {feed} on chain {chain} returned '{hex}', not a uint8");
            }

            _known[(chain, feed)] = (int)word;
            _failed.TryRemove((chain, feed), out _);
            return FeedDecimals.Known((int)word);
        }
        catch (Exception e) when (e is RpcTransientException or RpcUnavailableException or RpcNodeException or HttpRequestException or TimeoutException)
        {
            return Failed(chain, feed, $"decimals() of feed {feed} on chain {chain} could not be read: {e.Message}");
        }
    }

    private FeedDecimals Failed(ChainId chain, EvmAddress feed, string problem)
    {
        var failure = FeedDecimals.Unknown(problem);
        _failed[(chain, feed)] = (failure, _time.GetUtcNow());
        return failure;
    }

    public void Dispose()
    {
        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }
    }
}
