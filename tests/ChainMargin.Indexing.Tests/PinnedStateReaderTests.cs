using System.Globalization;
using System.Numerics;
using ChainMargin.Core;
using ChainMargin.Indexing.Rpc;
using ChainMargin.Indexing.State;
using ChainMargin.Indexing.Tests.Harness;
using ChainMargin.Storage;
using ChainMargin.Testing;
using Xunit;

namespace ChainMargin.Indexing.Tests;

/// <summary>
/// State that events cannot give, read through Multicall3 pinned to a block: the values equal plain eth_calls at that
/// block, a read pinned to an older block keeps that block's values after later rounds changed them, and the watcher
/// stores the feeds' state with the block each was read at.
/// </summary>
public sealed class PinnedStateReaderTests : IClassFixture<AnvilProtocolFixture>
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly AnvilProtocolFixture _fixture;
    private readonly ChainDriver _chain;

    public PinnedStateReaderTests(AnvilProtocolFixture fixture)
    {
        _fixture = fixture;
        _chain = new ChainDriver(fixture);
    }

    private IReadOnlyList<EvmAddress> Feeds => [.. _fixture.Protocol.Feeds.Select(f => EvmAddress.Parse(f.Address)).Order()];

    [Fact]
    public async Task ReadAsync_PinnedToABlock_EqualsDirectCallsThere_AndKeepsThemAfterLaterRounds()
    {
        await _chain.SetPriceAsync("ETH", 3_100m);
        var pinned = await _chain.HeadAsync();

        await using var proxy = new FaultProxy(_fixture.RpcUrl);
        using var rpc = new JsonRpcClient([proxy.Url]);
        var reader = new FeedStateReader(new PinnedStateReader(rpc, new ChainId(_fixture.ChainId), EvmAddress.Parse(_fixture.Protocol.Multicall3)), Feeds);

        var before = proxy.Calls.Count;
        var atPinned = await reader.ReadAsync(pinned, None);

        // One header (for the block's hash) and one eth_call (aggregate3) for every feed's two calls.
        var calls = proxy.Calls.Skip(before).Select(c => c.Method).ToList();
        Assert.Equal(["eth_getBlockByNumber", "eth_call"], calls);
        Assert.Equal(Feeds.Count, atPinned.Count);
        await AssertEqualsDirectCallsAsync(atPinned, pinned);
        Assert.Equal(ReferenceFeedUnits(3_100m), atPinned.Single(s => s.Feed == EvmAddress.Parse(_fixture.Protocol.SpotFeed("ETH"))).Answer);

        // Later rounds change the feeds; the read pinned to the earlier block still answers that block's values.
        await _chain.SetPriceAsync("ETH", 2_900m);
        await _chain.SetPriceAsync("BTC", 61_000m);
        var later = await _chain.HeadAsync();
        Assert.Equal(atPinned, await reader.ReadAsync(pinned, None));
        var atLater = await reader.ReadAsync(later, None);
        await AssertEqualsDirectCallsAsync(atLater, later);
        var eth = EvmAddress.Parse(_fixture.Protocol.SpotFeed("ETH"));
        Assert.Equal(ReferenceFeedUnits(2_900m), atLater.Single(s => s.Feed == eth).Answer);
        Assert.NotEqual(atPinned.Single(s => s.Feed == eth).RoundId, atLater.Single(s => s.Feed == eth).RoundId);
    }

    [Fact]
    public async Task ReadAsync_ContractWithoutCode_CarriesAReason_NotAZero()
    {
        using var rpc = new JsonRpcClient([_fixture.RpcUrl]);
        var nowhere = EvmAddress.Parse("0x000000000000000000000000000000000000dEaD");
        var reader = new FeedStateReader(new PinnedStateReader(rpc, new ChainId(_fixture.ChainId), EvmAddress.Parse(_fixture.Protocol.Multicall3)), [nowhere, .. Feeds]);
        var states = await reader.ReadAsync(await _chain.HeadAsync(), None);

        var dead = states.Single(s => s.Feed == nowhere);
        Assert.Null(dead.Answer);
        Assert.Null(dead.Decimals);
        Assert.Contains("no data", dead.Reason, StringComparison.Ordinal);
        Assert.All(states.Where(s => s.Feed != nowhere), s => Assert.Null(s.Reason));
    }

    [Theory]
    [InlineData(StorageOptions.Sqlite)]
    [InlineData(StorageOptions.Postgres)]
    public async Task Watcher_WithMulticall3_StoresTheFeedsAtEachCheckpoint_AsReadAtThatBlock(string provider)
    {
        await _chain.SetPriceAsync("BTC", 60_500m);
        await using var store = await TestStore.CreateAsync(provider);
        var options = IndexRig.Options(_fixture.RpcUrl, _fixture.ChainId, _fixture.Protocol);
        options.Contracts.Multicall3 = _fixture.Protocol.Multicall3;
        options.MaxBlocksPerCommit = 7;

        // Every block inside the finality window: every commit reads (below it, backfill reads once; next test).
        options.FinalityDepth = 1_000;
        using var handle = IndexRig.Watcher(options, store.Store);
        await IndexRig.CatchUpAsync(handle.Watcher);

        var chain = new ChainId(_fixture.ChainId);
        var checkpoint = (await store.Store.GetCheckpointAsync(chain, None))!.Block;
        var stored = await store.Store.GetFeedStatesAsync(chain, None);

        // One row per feed and commit, each at a commit's last block with that block's hash.
        var blocks = stored.Select(s => s.Block).Distinct().ToList();
        Assert.Equal((int)Math.Ceiling((checkpoint.Number + 1) / 7.0), blocks.Count);
        Assert.All(blocks, b => Assert.True(b.Number % 7 == 6 || b == checkpoint, $"block {b.Number} is not the last block of a commit"));
        Assert.All(blocks, b => Assert.Equal(Feeds.Count, stored.Count(s => s.Block == b)));
        foreach (var block in blocks)
        {
            Assert.Equal((await _chain.Anvil.BlockAsync(block.Number)).Hash, block.Hash);
        }

        // Where the feeds existed, each row equals the feed's own answer at its block; earlier rows say why they are empty.
        var atCheckpoint = stored.Where(s => s.Block == checkpoint).OrderBy(s => s.Feed).ToList();
        Assert.Equal(Feeds, atCheckpoint.Select(s => s.Feed));
        await AssertEqualsDirectCallsAsync(atCheckpoint, checkpoint.Number);
        Assert.All(stored.Where(s => s.Answer is null), s => Assert.False(string.IsNullOrEmpty(s.Reason)));
    }

    [Theory]
    [InlineData(StorageOptions.Sqlite)]
    [InlineData(StorageOptions.Postgres)]
    public async Task Watcher_FeedsFirstNamedByListingsInTheSpan_AreReadAtThatSpansCommit_BesideTheConfiguredOne(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        var options = IndexRig.Options(_fixture.RpcUrl, _fixture.ChainId, _fixture.Protocol);
        options.Contracts.Multicall3 = _fixture.Protocol.Multicall3;
        var configured = options.Contracts.PriceFeeds.First();
        options.Contracts.PriceFeeds = new Dictionary<string, string> { [configured.Key] = configured.Value };
        options.Contracts.VolatilityFeeds = [];

        // One span over the whole chain, inside the finality window: its commit reads the feeds. The read starts with
        // the one configured feed when the span's headers arrive; the span's market and series listings name the
        // others, and the read is made again with all of them.
        options.MaxBlocksPerCommit = 100_000;
        options.FinalityDepth = 100_000;
        using var handle = IndexRig.Watcher(options, store.Store);
        Assert.True(await handle.Watcher.StepAsync(None));

        var chain = new ChainId(_fixture.ChainId);
        var checkpoint = (await store.Store.GetCheckpointAsync(chain, None))!.Block;
        var listed = (await store.Store.GetPerpMarketsAsync(None)).Where(m => m.Chain == chain).Select(m => m.Feed)
            .Concat((await store.Store.GetOptionSeriesAsync(None)).Where(x => x.Chain == chain).Select(x => x.Feed));
        var expected = listed.Append(EvmAddress.Parse(configured.Value)).Distinct().Order().ToList();
        Assert.True(expected.Count > 1, "the listings name feeds besides the configured one");
        var stored = (await store.Store.GetFeedStatesAsync(chain, None)).Where(s => s.Block == checkpoint).OrderBy(s => s.Feed).ToList();
        Assert.Equal(expected, stored.Select(s => s.Feed));
        await AssertEqualsDirectCallsAsync(stored, checkpoint.Number);
    }

    [Theory]
    [InlineData(StorageOptions.Sqlite)]
    [InlineData(StorageOptions.Postgres)]
    public async Task Watcher_BackfillBelowTheFinalityWindow_ReadsTheFeedsOnce_ThenAtEveryCommitInsideIt_AndARestartReadsWhereNoStopWould(string provider)
    {
        while (await _chain.HeadAsync() < 45)
        {
            await _chain.Anvil.MineAsync();
        }

        await using var store = await TestStore.CreateAsync(provider);
        var options = IndexRig.Options(_fixture.RpcUrl, _fixture.ChainId, _fixture.Protocol, finalityDepth: 10);
        options.MaxBlocksPerCommit = 7;
        options.PruneEveryBlocks = 0;
        var chain = new ChainId(_fixture.ChainId);

        async Task<(long Head, List<long> Ends)> CatchUpAsync()
        {
            var head = await _chain.HeadAsync();
            var from = (await store.Store.GetCheckpointAsync(chain, None))?.Block.Number + 1 ?? options.StartBlock;
            using var handle = IndexRig.Watcher(options, store.Store);
            await IndexRig.CatchUpAsync(handle.Watcher);
            var ends = new List<long>();
            for (var end = from + options.MaxBlocksPerCommit - 1; end < head; end += options.MaxBlocksPerCommit)
            {
                ends.Add(end);
            }

            ends.Add(head);
            Assert.Equal(head, (await store.Store.GetCheckpointAsync(chain, None))!.Block.Number);
            return (head, ends);
        }

        // The first commit reads (no feed has a stored read yet), then every commit whose last block is inside the
        // window (head - FinalityDepth and above); the spans between are backfill and read nothing.
        var (head, ends) = await CatchUpAsync();
        var expected = ends.Where((end, i) => i == 0 || end >= head - options.FinalityDepth).ToList();
        Assert.True(expected.Count < ends.Count - 2, "the chain is long enough for backfill spans below the window");
        var stored = await store.Store.GetFeedStatesAsync(chain, None);
        Assert.Equal(expected, stored.Select(s => s.Block.Number).Distinct().Order());
        Assert.All(expected, n => Assert.Equal(Feeds, stored.Where(s => s.Block.Number == n).Select(s => s.Feed).Order()));
        var atHead = stored.Where(s => s.Block.Number == head).OrderBy(s => s.Feed).ToList();
        await AssertEqualsDirectCallsAsync(atHead, head);
        foreach (var feed in Feeds)
        {
            Assert.Equal(atHead.Single(s => s.Feed == feed), await store.Store.GetFeedDecimalsStateAsync(chain, feed, None));
        }

        // A restarted watcher learns from the store that every feed has a read with its decimals: its backfill spans
        // below the window read nothing, exactly as if it had never stopped (a crash leaves no extra rows).
        for (var i = 0; i < 30; i++)
        {
            await _chain.Anvil.MineAsync();
        }

        var (head2, ends2) = await CatchUpAsync();
        var expected2 = ends2.Where(end => end >= head2 - options.FinalityDepth).ToList();
        Assert.True(ends2[0] < head2 - options.FinalityDepth, "the restart begins below the window");
        Assert.Equal(expected.Concat(expected2), (await store.Store.GetFeedStatesAsync(chain, None)).Select(s => s.Block.Number).Distinct().Order());
    }

    [Theory]
    [InlineData(StorageOptions.Sqlite)]
    [InlineData(StorageOptions.Postgres)]
    public async Task Watcher_PruneEveryBlock_KeepsPerFeedOnlyTheNewestReadAtOrBelowTheHorizon(string provider)
    {
        while (await _chain.HeadAsync() < 45)
        {
            await _chain.Anvil.MineAsync();
        }

        await using var store = await TestStore.CreateAsync(provider);
        var options = IndexRig.Options(_fixture.RpcUrl, _fixture.ChainId, _fixture.Protocol);
        options.MaxBlocksPerCommit = 7;
        options.FinalityDepth = 10;
        options.PruneEveryBlocks = 1;
        using var handle = IndexRig.Watcher(options, store.Store);
        await IndexRig.CatchUpAsync(handle.Watcher);

        var chain = new ChainId(_fixture.ChainId);
        var checkpoint = (await store.Store.GetCheckpointAsync(chain, None))!.Block;
        var horizon = checkpoint.Number - options.FinalityDepth;
        var stored = await store.Store.GetFeedStatesAsync(chain, None);
        foreach (var feed in Feeds)
        {
            var reads = stored.Where(s => s.Feed == feed).ToList();
            var newestWithDecimals = reads.Where(s => s.Block.Number <= horizon && s.Decimals is not null).Max(s => s.Block.Number);

            // At or below the horizon: nothing older than the newest read that had the decimals.
            Assert.DoesNotContain(reads, s => s.Block.Number < newestWithDecimals);

            // Above it every commit's read is still there, for a rollback to come back to.
            var commitsAbove = Enumerable.Range(0, (int)checkpoint.Number + 1).Select(n => (long)n)
                .Where(n => n > horizon && (n % 7 == 6 || n == checkpoint.Number));
            Assert.Equal(commitsAbove, reads.Where(s => s.Block.Number > horizon).Select(s => s.Block.Number).Order());
        }
    }

    [Fact]
    public async Task ReadAsync_WithoutMulticall3_IsOneBatchPinnedToTheBlock_WithTheSameAnswers()
    {
        await _chain.SetPriceAsync("ETH", 3_050m);
        var pinned = await _chain.HeadAsync();
        await using var proxy = new FaultProxy(_fixture.RpcUrl);
        using var rpc = new JsonRpcClient([proxy.Url]);
        var batched = new FeedStateReader(new PinnedStateReader(rpc, new ChainId(_fixture.ChainId), null), Feeds);
        var aggregated = new FeedStateReader(new PinnedStateReader(rpc, new ChainId(_fixture.ChainId), EvmAddress.Parse(_fixture.Protocol.Multicall3)), Feeds);

        var before = proxy.Calls.Count;
        var states = await batched.ReadAsync(pinned, None);

        // One header, then one JSON-RPC batch carrying every feed's two eth_calls; no Multicall3 anywhere.
        var calls = proxy.Calls.Skip(before).ToList();
        Assert.Equal(["eth_getBlockByNumber", "eth_call"], calls.Select(c => c.Method));
        Assert.Equal(2 * Feeds.Count, calls[1].Calls);
        await AssertEqualsDirectCallsAsync(states, pinned);
        Assert.Equal(await aggregated.ReadAsync(pinned, None), states);
    }

    [Theory]
    [InlineData(StorageOptions.Sqlite)]
    [InlineData(StorageOptions.Postgres)]
    public async Task Watcher_WithoutMulticall3_StillStoresTheFeedsAtEachCheckpoint(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        var options = IndexRig.Options(_fixture.RpcUrl, _fixture.ChainId, _fixture.Protocol);
        Assert.True(string.IsNullOrEmpty(options.Contracts.Multicall3));
        options.MaxBlocksPerCommit = 50;
        using var handle = IndexRig.Watcher(options, store.Store);
        await IndexRig.CatchUpAsync(handle.Watcher);

        var chain = new ChainId(_fixture.ChainId);
        var checkpoint = (await store.Store.GetCheckpointAsync(chain, None))!.Block;
        var atCheckpoint = (await store.Store.GetFeedStatesAsync(chain, None)).Where(s => s.Block == checkpoint).OrderBy(s => s.Feed).ToList();
        Assert.Equal(Feeds, atCheckpoint.Select(s => s.Feed));
        await AssertEqualsDirectCallsAsync(atCheckpoint, checkpoint.Number);
        foreach (var feed in Feeds)
        {
            Assert.Equal(atCheckpoint.Single(s => s.Feed == feed), await store.Store.GetFeedDecimalsStateAsync(chain, feed, None));
        }
    }

    /// <summary>Each state equals decimals() and latestRoundData() asked of the feed alone with a plain eth_call at the block.</summary>
    private async Task AssertEqualsDirectCallsAsync(IReadOnlyList<FeedState> states, long block)
    {
        using var rpc = new JsonRpcClient([_fixture.RpcUrl]);
        var tag = "0x" + block.ToString("x", CultureInfo.InvariantCulture);
        foreach (var state in states)
        {
            Assert.Equal(block, state.Block.Number);
            Assert.Null(state.Reason);
            var decimals = await EthCallAsync(rpc, state.Feed, "0x313ce567", tag); // decimals()
            var round = await EthCallAsync(rpc, state.Feed, "0xfeaf968c", tag); // latestRoundData()
            Assert.Equal(Word(decimals, 0, signed: false), new BigInteger(state.Decimals!.Value));
            Assert.Equal(Word(round, 0, signed: false), state.RoundId);
            Assert.Equal(Word(round, 1, signed: true), state.Answer);
            Assert.Equal(Word(round, 3, signed: false), new BigInteger(state.UpdatedAt!.Value));
        }
    }

    private static async Task<string> EthCallAsync(JsonRpcClient rpc, EvmAddress to, string data, string tag)
    {
        var result = await rpc.CallAsync("eth_call", [new Dictionary<string, string> { ["to"] = to.Value, ["data"] = data }, tag], None);
        return result.GetString()!;
    }

    private static BigInteger Word(string hex, int index, bool signed) =>
        new(Convert.FromHexString(hex.AsSpan(2 + (index * 64), 64)), isUnsigned: !signed, isBigEndian: true);

    private static BigInteger ReferenceFeedUnits(decimal usd) => ChainMargin.Contracts.Reference.ReferenceProtocolDeployer.ToFeedUnits(usd);
}
