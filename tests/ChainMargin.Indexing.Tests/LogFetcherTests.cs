using ChainMargin.Indexing.Rpc;
using Xunit;

namespace ChainMargin.Indexing.Tests;

/// <summary>How the log fetcher reads providers' refusals, in the words the providers use.</summary>
public sealed class LogFetcherTests
{
    public static TheoryData<long, string, string?> RangeRefusals => new()
    {
        // Alchemy
        { -32602, "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit on the response size, or you can use this block range that should work: [0x10, 0x2f]", null },
        // Infura
        { -32005, "query returned more than 10000 results", null },
        // geth-style nodes (BSC and others)
        { -32000, "exceed maximum block range: 5000", null },
        // QuickNode
        { -32614, "eth_getLogs is limited to a 10,000 range", null },
        // Ankr / generic
        { -32062, "block range is too wide", null },
        { -32000, "query timeout exceeded", null },
    };

    public static TheoryData<long, string, string?> RateLimits => new()
    {
        // Infura's rate limit shares code -32005 with its result cap.
        { -32005, "project ID request rate exceeded", "{\"see\":\"https://infura.io/dashboard\",\"current_rps\":13.3,\"allowed_rps\":10.0,\"backoff_seconds\":30.0}" },
        // Alchemy answers a throughput cap with code 429 in the error object.
        { 429, "Your app has exceeded its compute units per second capacity. If you have retries enabled, you can safely ignore this message. If not, check out https://docs.alchemy.com/reference/throughput", null },
        { -32090, "Too many requests, reason: call rate limit exhausted, retry in 10s", null },
    };

    [Theory]
    [MemberData(nameof(RangeRefusals))]
    public void IsRangeRefusal_ProviderRangeAndResultCaps_AreRefusals(long code, string message, string? data) =>
        Assert.True(LogFetcher.IsRangeRefusal(new RpcNodeException(code, message, data)), message);

    [Theory]
    [MemberData(nameof(RateLimits))]
    public void IsRangeRefusal_RateLimits_AreNotRangeRefusals(long code, string message, string? data) =>
        Assert.False(LogFetcher.IsRangeRefusal(new RpcNodeException(code, message, data)), message);

    [Theory]
    [InlineData(-32000, "execution reverted")]
    [InlineData(-32000, "header not found")]
    public void IsRangeRefusal_OtherNodeErrors_AreNotRefusals(long code, string message) =>
        Assert.False(LogFetcher.IsRangeRefusal(new RpcNodeException(code, message, null)));

    [Theory]
    [InlineData("Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit on the response size, or you can use this block range that should work: [0x10, 0x2f]", 500, 32)]
    [InlineData("exceed maximum block range: 25", 500, 25)]
    [InlineData("eth_getLogs is limited to a 1,000 block range", 5000, 1000)]
    [InlineData("query returned more than 10000 results", 500, 250)]
    [InlineData("exceed maximum block range: 5000", 500, 250)]
    public void SuggestedSpan_TakesTheProvidersSuggestionElseHalves(string message, long refused, long expected) =>
        Assert.Equal(expected, LogFetcher.SuggestedSpan(new RpcNodeException(-32000, message, null), refused));

    [Theory]
    [InlineData("batch size too large", true)]
    [InlineData("Batch of more than 10 requests are not allowed", true)]
    [InlineData("header not found", false)]
    [InlineData("query returned more than 10000 results", false)]
    public void IsBatchRefusal_OnlyRefusalsOfTheBatchItself(string message, bool expected) =>
        Assert.Equal(expected, BlockHeaders.IsBatchRefusal(new RpcNodeException(-32600, message, null)));
}
