using System.Numerics;
using ChainMargin.Core;
using Xunit;
using static ChainMargin.Storage.Tests.Facts;

namespace ChainMargin.Storage.Tests;

/// <summary>
/// The repository suite every store must pass. Each test gets a fresh, migrated database from the subclass.
/// </summary>
public abstract class ChainStoreContract : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;

    private SqlChainStore? _store;

    protected SqlChainStore Store => _store ?? throw new InvalidOperationException("store not initialised");

    /// <summary>Creates a fresh empty database for this test.</summary>
    protected abstract Task CreateDatabaseAsync();

    protected abstract Task DropDatabaseAsync();

    /// <summary>A new store instance on this test's database (a second process, as far as the database can tell).</summary>
    protected abstract SqlChainStore OpenStore();

    /// <summary>Rows in a table, counted with raw SQL rather than through the store.</summary>
    protected abstract Task<long> CountRowsAsync(string table);

    public async Task InitializeAsync()
    {
        await CreateDatabaseAsync();
        _store = OpenStore();
        await _store.MigrateAsync(None);
    }

    public async Task DisposeAsync()
    {
        if (_store is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }

        await DropDatabaseAsync();
    }

    [Fact]
    public async Task MigrateAsync_RunAgain_RecordsEachVersionOnceAndKeepsData()
    {
        await Store.CommitAsync(Batch(1, 1, [Collateral(Block(1), 0, 1, 5)]), None);

        await Store.MigrateAsync(None);
        await Store.MigrateAsync(None);

        var expected = Migrations.MigrationScript.Load(StoreName).Select(s => s.Version).ToList();
        Assert.NotEmpty(expected);
        Assert.Equal(expected, await Store.GetAppliedMigrationsAsync(None));
        Assert.Equal(expected.Count, await CountRowsAsync("schema_migrations"));
        Assert.Equal(5, Assert.Single(await Store.GetCollateralAsync(null, None)).Balance);
    }

    [Fact]
    public async Task MigrateAsync_FreshDatabaseFromSeveralStoresAtOnce_AppliesEachVersionOnce()
    {
        await ((IAsyncDisposable)Store).DisposeAsync();
        _store = null;
        await DropDatabaseAsync();
        await CreateDatabaseAsync();
        var stores = Enumerable.Range(0, 4).Select(_ => OpenStore()).ToList();
        try
        {
            await Task.WhenAll(stores.Select(s => Task.Run(() => s.MigrateAsync(None))));

            var expected = Migrations.MigrationScript.Load(StoreName).Select(s => s.Version).ToList();
            Assert.Equal(expected, await stores[0].GetAppliedMigrationsAsync(None));
            Assert.Equal(expected.Count, await CountRowsAsync("schema_migrations"));
        }
        finally
        {
            foreach (var s in stores.OfType<IAsyncDisposable>())
            {
                await s.DisposeAsync();
            }
        }

        _store = OpenStore();
    }

    [Fact]
    public async Task CommitAsync_Batch_StoresBlocksFactsAndCheckpoint()
    {
        Assert.Null(await Store.GetCheckpointAsync(Chain, None));

        await Store.CommitAsync(
            Batch(1, 3, [Collateral(Block(2), 0, 1, 1_000), Collateral(Block(3), 4, 2, 7), Perp(Block(3), 5, 1, 10, 2_000)]), None);

        var checkpoint = await Store.GetCheckpointAsync(Chain, None);
        Assert.NotNull(checkpoint);
        Assert.Equal(Block(3), checkpoint.Block);
        Assert.Equal(TimeSpan.Zero, checkpoint.UpdatedAt.Offset);
        var blocks = await Store.GetRecentBlocksAsync(Chain, 10, None);
        Assert.Equal([Indexed(3), Indexed(2), Indexed(1)], blocks);
        Assert.Equal([Indexed(3), Indexed(2)], await Store.GetRecentBlocksAsync(Chain, 2, None));
        Assert.Empty(await Store.GetRecentBlocksAsync(OtherChain, 10, None));
        Assert.Null(await Store.GetCheckpointAsync(OtherChain, None));

        Assert.Equal(
            [
                new CollateralBalance(Chain, Address(100), Address(1), Address(200), 1_000, Block(2)),
                new CollateralBalance(Chain, Address(100), Address(2), Address(200), 7, Block(3)),
            ],
            await Store.GetCollateralAsync(null, None));
        Assert.Equal(
            [new CollateralBalance(Chain, Address(100), Address(2), Address(200), 7, Block(3))],
            await Store.GetCollateralAsync(Address(2), None));
        Assert.Equal(
            [new PerpPositionRow(Chain, Address(101), Address(1), 1, 10, 2_000, Block(3))],
            await Store.GetPerpPositionsAsync(Address(1), None));
        Assert.Empty(await Store.GetPerpPositionsAsync(Address(2), None));
        Assert.Equal(2, await CountRowsAsync("collateral_changes"));
    }

    [Fact]
    public async Task CommitAsync_SameFactsAgain_AppliesNothingTwice()
    {
        var facts = Mixed(1, 30, "a", seed: 7);
        var batch = Batch(1, 30, facts);
        await Store.CommitAsync(batch, None);
        var once = await Snapshot.ReadAsync(Store, Chain);
        var rows = await CountRowsAsync("collateral_changes");

        await Store.CommitAsync(batch, None);

        // A retried step overlaps what was stored: old facts again plus new ones.
        var more = Mixed(31, 40, "a", seed: 8);
        await Store.CommitAsync(Batch(20, 40, facts.Where(f => f.Block.Number >= 20).Concat(more)), None);
        await Store.CommitAsync(Batch(20, 40, facts.Where(f => f.Block.Number >= 20).Concat(more)), None);

        Snapshot.AssertEqual(Snapshot.Expected(facts), once);
        Snapshot.AssertEqual(Snapshot.Expected([.. facts, .. more]), await Snapshot.ReadAsync(Store, Chain));
        Assert.Equal(rows + more.OfType<CollateralChanged>().Count(), await CountRowsAsync("collateral_changes"));
        Assert.Equal(40, await CountRowsAsync("blocks"));
        Assert.Equal(Block(40), (await Store.GetCheckpointAsync(Chain, None))!.Block);
    }

    [Fact]
    public async Task CommitAsync_SameBatchFromTwoWritersAtOnce_AppliedOnce()
    {
        // Two owners of one chain (a lease bug) racing with the same batches: each fact still counts once.
        var second = OpenStore();
        try
        {
            var facts = Mixed(1, 40, "a", seed: 21);
            var batches = Enumerable.Range(0, 8).Select(i => Batch((i * 5) + 1, (i * 5) + 5, facts.Where(f => f.Block.Number > i * 5 && f.Block.Number <= (i * 5) + 5))).ToList();

            await Task.WhenAll(
                Task.Run(async () => { foreach (var b in batches) { await Store.CommitAsync(b, None); } }),
                Task.Run(async () => { foreach (var b in batches) { await second.CommitAsync(b, None); } }));

            Snapshot.AssertEqual(Snapshot.Expected(facts), await Snapshot.ReadAsync(Store, Chain));
            Assert.Equal(facts.OfType<CollateralChanged>().Count(), await CountRowsAsync("collateral_changes"));
        }
        finally
        {
            await ((IAsyncDisposable)second).DisposeAsync();
        }
    }

    [Fact]
    public async Task CommitAsync_DuplicateFactInsideOneBatch_CountsOnce()
    {
        var deposit = Collateral(Block(1), 0, 1, 100);
        await Store.CommitAsync(Batch(1, 1, [deposit, deposit]), None);

        Assert.Equal(100, Assert.Single(await Store.GetCollateralAsync(null, None)).Balance);
    }

    [Fact]
    public async Task CommitAsync_CollateralDeltasIncludingNegative_SumsExactlyWithLastBlock()
    {
        var wei = BigInteger.Pow(10, 18);
        await Store.CommitAsync(
            Batch(1, 2, [Collateral(Block(1), 0, 1, 5 * wei), Collateral(Block(1), 3, 1, -2 * wei), Collateral(Block(2), 1, 1, wei / 3)]), None);
        await Store.CommitAsync(Batch(3, 5, [Collateral(Block(5), 0, 1, -(4 * wei)), Collateral(Block(4), 2, 1, -1)]), None);

        // Another token and another venue of the same account stay separate.
        await Store.CommitAsync(Batch(6, 6, [Collateral(Block(6), 0, 1, 9, token: 201), Collateral(Block(6), 1, 1, 11, venue: 105)]), None);

        var balances = await Store.GetCollateralAsync(Address(1), None);
        Assert.Equal(
            [
                new CollateralBalance(Chain, Address(100), Address(1), Address(200), (5 * wei) - (2 * wei) + (wei / 3) - (4 * wei) - 1, Block(5)),
                new CollateralBalance(Chain, Address(100), Address(1), Address(201), 9, Block(6)),
                new CollateralBalance(Chain, Address(105), Address(1), Address(200), 11, Block(6)),
            ],
            balances);
        Assert.True(balances[0].Balance < 0);
    }

    [Fact]
    public async Task CommitAsync_PerpChanges_LatestByBlockThenLogIndexWins()
    {
        // Within one batch, in scrambled order.
        await Store.CommitAsync(
            Batch(1, 10, [Perp(Block(10), 2, 1, 20, 2_000), Perp(Block(10), 5, 1, -30, 2_100), Perp(Block(9), 7, 1, 40, 2_200)]), None);
        Assert.Equal(
            [new PerpPositionRow(Chain, Address(101), Address(1), 1, -30, 2_100, Block(10))],
            await Store.GetPerpPositionsAsync(null, None));

        // A later batch carrying an earlier change (a backfill) does not overwrite the newer position.
        await Store.CommitAsync(Batch(8, 8, [Perp(Block(8), 0, 1, 99, 9_999)]), None);
        Assert.Equal(-30, Assert.Single(await Store.GetPerpPositionsAsync(null, None)).Size);

        await Store.CommitAsync(Batch(11, 11, [Perp(Block(11), 0, 1, 0, 0)]), None);
        Assert.Equal(
            [new PerpPositionRow(Chain, Address(101), Address(1), 1, 0, 0, Block(11))],
            await Store.GetPerpPositionsAsync(null, None));
    }

    [Fact]
    public async Task CommitAsync_ListingsAndOptionPositions_LatestStored()
    {
        await Store.CommitAsync(
            Batch(1, 2,
            [
                new PerpMarketListed(Block(1), 0, Address(101), 1, Address(300), "ETH"),
                new PerpMarketListed(Block(1), 1, Address(101), 2, Address(301), "BTC"),
                new OptionSeriesListed(Block(1), 2, Address(102), 7, Address(300), "ETH", 3_000_00000000, 1_800_000_000, true),
                new OptionSeriesListed(Block(2), 0, Address(102), 8, Address(300), "ETH", 2_500_00000000, 1_800_000_000, false),
                new OptionPositionChanged(Block(1), 3, Address(102), Address(1), 7, 5),
                new OptionPositionChanged(Block(2), 1, Address(102), Address(1), 7, -3),
                new OptionPositionChanged(Block(2), 2, Address(102), Address(2), 8, 4),
            ]),
            None);

        Assert.Equal(
            [new PerpMarketRow(Chain, Address(101), 1, Address(300), "ETH"), new PerpMarketRow(Chain, Address(101), 2, Address(301), "BTC")],
            await Store.GetPerpMarketsAsync(None));
        Assert.Equal(
            [
                new OptionSeriesRow(Chain, Address(102), 7, Address(300), "ETH", 3_000_00000000, 1_800_000_000, true),
                new OptionSeriesRow(Chain, Address(102), 8, Address(300), "ETH", 2_500_00000000, 1_800_000_000, false),
            ],
            await Store.GetOptionSeriesAsync(None));
        Assert.Equal(
            [new OptionPositionRow(Chain, Address(102), Address(1), 7, -3, Block(2))],
            await Store.GetOptionPositionsAsync(Address(1), None));
        Assert.Equal(2, (await Store.GetOptionPositionsAsync(null, None)).Count);
    }

    [Fact]
    public async Task RollbackToAsync_AfterLaterBlocks_RestoresPreStateExactly()
    {
        var early = Mixed(1, 15, "a", seed: 1);
        await Store.CommitAsync(Batch(1, 8, early.Where(f => f.Block.Number <= 8)), None);
        await Store.CommitAsync(Batch(9, 15, early.Where(f => f.Block.Number > 8)), None);
        var before = await Snapshot.ReadAsync(Store, Chain);
        var blocksBefore = await Store.GetRecentBlocksAsync(Chain, 100, None);

        var late = Mixed(16, 40, "a", seed: 2);
        await Store.CommitAsync(Batch(16, 30, late.Where(f => f.Block.Number <= 30)), None);
        await Store.CommitAsync(Batch(31, 40, late.Where(f => f.Block.Number > 30)), None);
        Assert.NotEqual(before.History.Count, (await Snapshot.ReadAsync(Store, Chain)).History.Count);

        await Store.RollbackToAsync(Block(15), None);

        Snapshot.AssertEqual(before, await Snapshot.ReadAsync(Store, Chain));
        Snapshot.AssertEqual(Snapshot.Expected(early), before);
        Assert.Equal(blocksBefore, await Store.GetRecentBlocksAsync(Chain, 100, None));
        Assert.Equal(Block(15), (await Store.GetCheckpointAsync(Chain, None))!.Block);
        Assert.Equal(early.OfType<CollateralChanged>().Count(), await CountRowsAsync("collateral_changes"));
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public async Task RollbackToAsync_ThenOtherFork_EqualsCleanIndexOfSurvivingFacts(int seed)
    {
        var common = Mixed(1, 20, "a", seed);
        var orphaned = Mixed(21, 35, "a", seed + 100);
        var replacement = Mixed(21, 30, "b", seed + 200);
        var otherChain = new ChainBatch(
            OtherChain, [Indexed(25, "x", OtherChain)], [Collateral(Block(25, "x", OtherChain), 0, 1, 77)], Block(25, "x", OtherChain));
        await Store.CommitAsync(Batch(1, 20, common), None);
        await Store.CommitAsync(Batch(21, 35, orphaned), None);
        await Store.CommitAsync(otherChain, None);

        await Store.RollbackToAsync(Block(20), None);
        await Store.CommitAsync(Batch(21, 30, replacement, fork: "b"), None);

        Snapshot.AssertEqual(Snapshot.Expected([.. common, .. replacement]), await Snapshot.ReadAsync(Store, Chain));
        Assert.Equal(Block(30, "b"), (await Store.GetCheckpointAsync(Chain, None))!.Block);
        Assert.Equal(Indexed(21, "b"), (await Store.GetRecentBlocksAsync(Chain, 10, None))[^1]);

        // The other chain is untouched by this chain's rollback.
        Assert.Equal(77, Assert.Single(await Store.GetCollateralAsync(null, None), c => c.Chain == OtherChain).Balance);
        Assert.Equal(Block(25, "x", OtherChain), (await Store.GetCheckpointAsync(OtherChain, None))!.Block);
    }

    [Theory]
    [InlineData(31)]
    [InlineData(32)]
    [InlineData(33)]
    [InlineData(34)]
    public async Task CommitAndRollback_RandomHistory_EqualsCleanIndexOfCanonicalFacts(int seed)
    {
        // Random batch boundaries, retried (overlapping) batches and two reorgs of random depth, checked against an
        // independent computation over the facts of the final canonical chain.
        var random = new Random(seed);
        var canonical = new List<ChainFact>();
        var tip = 0L;
        var forks = new SortedDictionary<long, string>();
        foreach (var (fork, reorgDepth) in new[] { ("a", 0), ("b", random.Next(1, 15)), ("c", random.Next(1, 25)) })
        {
            if (reorgDepth > 0)
            {
                var ancestor = tip - reorgDepth;
                await Store.RollbackToAsync(Block(ancestor, forks.Last(f => f.Key <= ancestor).Value), None);
                canonical.RemoveAll(f => f.Block.Number > ancestor);
                tip = ancestor;
            }

            var facts = Mixed(tip + 1, tip + 30, fork, random.Next());
            var from = tip + 1;
            while (from <= tip + 30)
            {
                var to = Math.Min(tip + 30, from + random.Next(0, 8));
                var batch = Batch(from, to, facts.Where(f => f.Block.Number >= from && f.Block.Number <= to), fork);
                await Store.CommitAsync(batch, None);
                if (random.Next(3) == 0)
                {
                    await Store.CommitAsync(batch, None);
                }

                from = to + 1;
            }

            canonical.AddRange(facts);

            // Which fork the blocks from here on belong to, for naming a later rollback's ancestor.
            forks[tip + 1] = fork;
            tip += 30;
        }

        Snapshot.AssertEqual(Snapshot.Expected(canonical), await Snapshot.ReadAsync(Store, Chain));
        Assert.Equal(canonical.OfType<CollateralChanged>().Count(), await CountRowsAsync("collateral_changes"));
        Assert.Equal(tip, await CountRowsAsync("blocks"));
        Assert.Equal(Block(tip, "c"), (await Store.GetCheckpointAsync(Chain, None))!.Block);
    }

    [Fact]
    public async Task RollbackToAsync_BelowEveryFactOfAKey_RemovesTheAggregate()
    {
        await Store.CommitAsync(Batch(1, 3, [Collateral(Block(1), 0, 1, 5), Collateral(Block(3), 0, 2, 6), Perp(Block(3), 1, 2, 1, 1)]), None);

        await Store.RollbackToAsync(Block(2), None);

        Assert.Equal([new CollateralBalance(Chain, Address(100), Address(1), Address(200), 5, Block(1))], await Store.GetCollateralAsync(null, None));
        Assert.Empty(await Store.GetPerpPositionsAsync(null, None));
        Assert.Equal([Indexed(2), Indexed(1)], await Store.GetRecentBlocksAsync(Chain, 10, None));
    }

    [Fact]
    public async Task RollbackToAsync_DeltasAcrossDigitBoundaries_SubtractsTheStoredFactsExactly()
    {
        // The rollback subtracts the deltas as stored in the fact table, so each must have been written exactly: around
        // the base-10000 digits of numeric, 16-digit chunks, 64 and 128 bits, trailing zero digits, and negatives.
        var two = new BigInteger(2);
        BigInteger[] deltas =
        [
            0, 1, 9_999, 10_000, 10_001, 99_990_000, BigInteger.Pow(10, 16) - 1, BigInteger.Pow(10, 16), BigInteger.Pow(10, 16) + 1,
            ulong.MaxValue, new BigInteger(ulong.MaxValue) + 1, BigInteger.Pow(10, 20), BigInteger.Pow(10, 32) + 7, BigInteger.Pow(two, 128) - 1,
            BigInteger.Pow(two, 128), BigInteger.Pow(10, 48), -1, -10_000, -BigInteger.Pow(10, 20), -(BigInteger.Pow(two, 200) + 12_345),
        ];
        await Store.CommitAsync(Batch(1, 1, deltas.Select((_, i) => Collateral(Block(1), i, 1 + i, 5))), None);
        await Store.CommitAsync(Batch(2, 2, deltas.Select((d, i) => Collateral(Block(2), i, 1 + i, d))), None);
        Assert.Equal(
            deltas.Select(d => 5 + d).Order(),
            (await Store.GetCollateralAsync(null, None)).Select(b => b.Balance).Order());

        await Store.RollbackToAsync(Block(1), None);

        var balances = await Store.GetCollateralAsync(null, None);
        Assert.Equal(deltas.Length, balances.Count);
        Assert.All(balances, b => Assert.Equal(new CollateralBalance(Chain, Address(100), b.Account, Address(200), 5, Block(1)), b));
    }

    [Fact]
    public async Task CommitAsync_Uint256AndInt256Extremes_RoundTripExactly()
    {
        var max = BigInteger.Pow(2, 256) - 1;
        var min = -BigInteger.Pow(2, 255);
        await Store.CommitAsync(
            Batch(1, 1,
            [
                Collateral(Block(1), 0, 1, max),
                Collateral(Block(1), 1, 2, min),
                Perp(Block(1), 2, 1, min, max, market: 3),
                new PerpPositionChanged(Block(1), 3, Address(101), Address(2), max, BigInteger.Pow(2, 255) - 1, max, min),
                new OptionSeriesListed(Block(1), 4, Address(102), max, Address(300), "ETH", max, long.MaxValue, true),
                Price(Block(1), 5, 300, max, min),
            ]),
            None);

        var collateral = await Store.GetCollateralAsync(null, None);
        Assert.Equal([max, min], collateral.Select(c => c.Balance));
        var perps = await Store.GetPerpPositionsAsync(null, None);
        Assert.Equal((min, max, new BigInteger(3)), (perps[0].Size, perps[0].EntryPrice, perps[0].MarketId));
        Assert.Equal((BigInteger.Pow(2, 255) - 1, max, max), (perps[1].Size, perps[1].EntryPrice, perps[1].MarketId));
        var series = Assert.Single(await Store.GetOptionSeriesAsync(None));
        Assert.Equal((max, max, long.MaxValue), (series.SeriesId, series.Strike, series.Expiry));
        var price = Assert.Single(await Store.GetLatestPricesAsync(None));
        Assert.Equal((max, min), (price.RoundId, price.Answer));
    }

    [Fact]
    public async Task CommitAsync_FeedStates_StoredWithTheirBlock_ReplacedWhenReadAgain_RolledBackAboveTheAncestor()
    {
        var max = (BigInteger.One << 255) - 1;
        FeedState State(long block, int feed, BigInteger answer, string fork = "a") =>
            new(Block(block, fork), Address(feed), 8, 1_000 + block, answer, 1_700_000_000 + block, null);
        var missing = new FeedState(Block(4), Address(302), null, null, null, null, "decimals() returned no data at block 4 (no feed contract there)");

        await Store.CommitAsync(Batch(1, 4, [Collateral(Block(2), 0, 1, 5)]) with { FeedStates = [State(4, 300, 3_000), State(4, 301, -max), missing] }, None);
        await Store.CommitAsync(Batch(5, 8, []) with { FeedStates = [State(8, 300, 3_100), State(8, 301, max)] }, None);

        // A span indexed again (after a crash) reads the same block again: one row, the last read.
        await Store.CommitAsync(Batch(5, 8, []) with { FeedStates = [State(8, 300, 3_100), State(8, 301, max)] }, None);
        Assert.Equal(
            [State(4, 300, 3_000), State(8, 300, 3_100), State(4, 301, -max), State(8, 301, max), missing],
            await Store.GetFeedStatesAsync(Chain, None));
        Assert.Empty(await Store.GetFeedStatesAsync(OtherChain, None));

        // A reorg above block 6 removes what was read at block 8; the other fork's read is stored with its own hash.
        await Store.RollbackToAsync(Block(6), None);
        Assert.Equal([State(4, 300, 3_000), State(4, 301, -max), missing], await Store.GetFeedStatesAsync(Chain, None));
        await Store.CommitAsync(Batch(7, 8, [], fork: "b") with { FeedStates = [State(8, 300, 2_900, "b")] }, None);
        Assert.Equal(State(8, 300, 2_900, "b"), (await Store.GetFeedStatesAsync(Chain, None)).Single(s => s.Block.Number == 8));
    }

    [Fact]
    public async Task GetFeedDecimalsStateAsync_NewestReadWithDecimals_ElseTheNewestReason_NullWhenNoneStored()
    {
        FeedState Read(long block, int feed, int decimals, string fork = "a") =>
            new(Block(block, fork), Address(feed), decimals, 1_000 + block, 3_000 + block, 1_700_000_000 + block, null);
        FeedState Failed(long block, int feed, string fork = "a") =>
            new(Block(block, fork), Address(feed), null, null, null, null, $"decimals() reverted at block {block}");

        // Feed 300 read at 4 and 8, failed at 12 (a node hiccup); 301 never answered; 302 arrived at block 8.
        await Store.CommitAsync(Batch(1, 4, []) with { FeedStates = [Read(4, 300, 8), Failed(4, 301), Failed(4, 302)] }, None);
        await Store.CommitAsync(Batch(5, 8, []) with { FeedStates = [Read(8, 300, 8), Failed(8, 301), Read(8, 302, 18)] }, None);
        await Store.CommitAsync(Batch(9, 12, []) with { FeedStates = [Failed(12, 300), Failed(12, 301), Read(12, 302, 18)] }, None);

        Assert.Equal(Read(8, 300, 8), await Store.GetFeedDecimalsStateAsync(Chain, Address(300), None));
        Assert.Equal(Failed(12, 301), await Store.GetFeedDecimalsStateAsync(Chain, Address(301), None));
        Assert.Equal(Read(12, 302, 18), await Store.GetFeedDecimalsStateAsync(Chain, Address(302), None));
        Assert.Null(await Store.GetFeedDecimalsStateAsync(Chain, Address(303), None));
        Assert.Null(await Store.GetFeedDecimalsStateAsync(OtherChain, Address(300), None));

        // A reorg above block 6 takes the later reads with it: 302's decimals are not known any more.
        await Store.RollbackToAsync(Block(6), None);
        Assert.Equal(Failed(4, 302), await Store.GetFeedDecimalsStateAsync(Chain, Address(302), None));
        Assert.Equal(Read(4, 300, 8), await Store.GetFeedDecimalsStateAsync(Chain, Address(300), None));
    }

    [Fact]
    public async Task CommitAsync_RejectedLogs_StoredWithReasonInLogOrder()
    {
        var topic = "0x" + new string('a', 64);
        await Store.CommitAsync(
            Batch(1, 2,
            [
                new RejectedLog(Block(2), 0, Address(103), topic, "unknown event"),
                new RejectedLog(Block(1), 9, Address(103), topic, "data too short: 31 bytes"),
            ]),
            None);
        await Store.CommitAsync(Batch(2, 2, [new RejectedLog(Block(2), 0, Address(103), topic, "unknown event")]), None);

        Assert.Equal(
            [
                new RejectedLog(Block(1), 9, Address(103), topic, "data too short: 31 bytes"),
                new RejectedLog(Block(2), 0, Address(103), topic, "unknown event"),
            ],
            await Store.GetRejectedLogsAsync(Chain, None));
        Assert.Empty(await Store.GetRejectedLogsAsync(OtherChain, None));
    }

    [Fact]
    public async Task GetPriceHistoryAsync_ManyRounds_OldestFirstLimitedToNewestAndLatestPerFeed()
    {
        var rounds = new List<ChainFact>();
        for (var n = 1; n <= 12; n++)
        {
            rounds.Add(Price(Block(n), 1, 300, n, 2_000_00000000L + n));
            rounds.Add(Price(Block(n), 0, 301, 100 + n, 60_000_00000000L - n));
        }

        // Two rounds of one feed in one block: the later log is the later round.
        rounds.Add(Price(Block(12), 4, 300, 13, 2_100_00000000L));
        await Store.CommitAsync(Batch(1, 6, rounds.Where(r => r.Block.Number <= 6)), None);
        await Store.CommitAsync(Batch(7, 12, rounds.Where(r => r.Block.Number > 6)), None);
        await Store.CommitAsync(
            new ChainBatch(OtherChain, [], [Price(Block(3, "x", OtherChain), 0, 300, 1, 5)], Block(3, "x", OtherChain)), None);

        var history = await Store.GetPriceHistoryAsync(Chain, Address(300), 5, None);
        Assert.Equal([9, 10, 11, 12, 13], history.Select(h => (int)h.RoundId));
        Assert.Equal(Block(12), history[^1].AsOf);
        Assert.Equal(13, (await Store.GetPriceHistoryAsync(Chain, Address(300), 100, None)).Count);
        Assert.Single(await Store.GetPriceHistoryAsync(OtherChain, Address(300), 100, None));

        var latest = await Store.GetLatestPricesAsync(None);
        Assert.Equal(
            [
                new PriceRoundRow(OtherChain, Address(300), 1, 5, 1_700_000_036, Block(3, "x", OtherChain)),
                new PriceRoundRow(Chain, Address(300), 13, 2_100_00000000L, 1_700_000_144, Block(12)),
                new PriceRoundRow(Chain, Address(301), 112, 60_000_00000000L - 12, 1_700_000_144, Block(12)),
            ],
            latest);
    }

    [Fact]
    public async Task RecordAccountStateAsync_SameStateAgain_AppendsHistoryOnlyOnChange()
    {
        var at = new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
        AccountStateRecord State(int account, string state, decimal? health, int minutes) =>
            new(Address(account), state, health, $"health {health}", $"31337:{minutes}:0xabc", at.AddMinutes(minutes));

        Assert.True(await Store.RecordAccountStateAsync(State(1, "healthy", 2.5m, 0), None));
        Assert.False(await Store.RecordAccountStateAsync(State(1, "healthy", 2.4m, 1), None));
        Assert.True(await Store.RecordAccountStateAsync(State(1, "warning", 1.05m, 2), None));
        Assert.False(await Store.RecordAccountStateAsync(State(1, "warning", 1.04m, 3), None));
        Assert.True(await Store.RecordAccountStateAsync(State(1, "liquidatable", 0.987654321m, 4), None));
        Assert.True(await Store.RecordAccountStateAsync(State(2, "liquidatable", null, 5), None));

        Assert.Equal(
            [State(1, "healthy", 2.5m, 0), State(1, "warning", 1.05m, 2), State(1, "liquidatable", 0.987654321m, 4)],
            await Store.GetAccountStateHistoryAsync(Address(1), None));
        Assert.Equal(
            [State(1, "liquidatable", 0.987654321m, 4), State(2, "liquidatable", null, 5)],
            await Store.GetCurrentAccountStatesAsync(None));
        Assert.Empty(await Store.GetAccountStateHistoryAsync(Address(3), None));
    }

    [Fact]
    public async Task RecordAccountStateAsync_ConcurrentSameChange_RecordedOnce()
    {
        var record = new AccountStateRecord(Address(1), "liquidatable", 0.9m, "below 1", "31337:1:0xabc", DateTimeOffset.UnixEpoch);

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => Store.RecordAccountStateAsync(record, None))));

        Assert.Equal(1, results.Count(r => r));
        Assert.Single(await Store.GetAccountStateHistoryAsync(Address(1), None));
    }

    [Fact]
    public async Task CommitAsync_FailsMidBatch_LeavesNothingPartial()
    {
        var first = Mixed(1, 10, "a", seed: 3);
        await Store.CommitAsync(Batch(1, 10, first), None);
        var before = await Snapshot.ReadAsync(Store, Chain);

        // The bad value is the last fact: blocks, other facts and aggregates were already written when it fails.
        List<ChainFact> second =
        [
            .. Mixed(11, 20, "a", seed: 4),
            Collateral(Block(20), 50, 1, 12345),
            new RejectedLog(Block(20), 51, Address(103), "0x00", "kept?"),
            Collateral(Block(20), 60, 1, BigInteger.Pow(2, 256)),
        ];
        await Assert.ThrowsAnyAsync<ArgumentOutOfRangeException>(() => Store.CommitAsync(Batch(11, 20, second), None));

        Snapshot.AssertEqual(before, await Snapshot.ReadAsync(Store, Chain));
        Assert.Equal(Block(10), (await Store.GetCheckpointAsync(Chain, None))!.Block);
        Assert.Equal(10, await CountRowsAsync("blocks"));
        Assert.Equal(first.OfType<CollateralChanged>().Count(), await CountRowsAsync("collateral_changes"));

        // The store is still usable and the same facts (minus the bad one) go in whole.
        await Store.CommitAsync(Batch(11, 20, second.Take(second.Count - 1)), None);
        Snapshot.AssertEqual(Snapshot.Expected([.. first, .. second.Take(second.Count - 1)]), await Snapshot.ReadAsync(Store, Chain));
    }

    [Fact]
    public async Task CommitAsync_CancelledMidway_LeavesNothing()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Store.CommitAsync(Batch(1, 10, Mixed(1, 10, "a", 5)), cancelled.Token));

        Assert.Null(await Store.GetCheckpointAsync(Chain, None));
        Assert.Equal(0, await CountRowsAsync("blocks"));
    }

    [Fact]
    public async Task CommitAsync_FactFromAnotherChain_RefusedWhole()
    {
        var batch = Batch(1, 2, [Collateral(Block(1), 0, 1, 5), Collateral(Block(2, "x", OtherChain), 0, 1, 5)]);

        await Assert.ThrowsAsync<ArgumentException>(() => Store.CommitAsync(batch, None));

        Assert.Empty(await Store.GetCollateralAsync(null, None));
        Assert.Null(await Store.GetCheckpointAsync(Chain, None));
    }

    [Fact]
    public async Task CommitAsync_TwoChainsConcurrently_BothStoredIndependently()
    {
        var a = Enumerable.Range(1, 20).Select(n => Batch(n, n, [Collateral(Block(n), 0, 1, n)])).ToList();
        var b = Enumerable.Range(1, 20).Select(n => Batch(n, n, [Collateral(Block(n, "x", OtherChain), 0, 1, -n)], "x", OtherChain)).ToList();

        await Task.WhenAll(
            Task.Run(async () => { foreach (var batch in a) { await Store.CommitAsync(batch, None); } }),
            Task.Run(async () => { foreach (var batch in b) { await Store.CommitAsync(batch, None); } }));

        var balances = await Store.GetCollateralAsync(null, None);
        Assert.Equal([(OtherChain, new BigInteger(-210)), (Chain, new BigInteger(210))], balances.Select(x => (x.Chain, x.Balance)));
        Assert.Equal(Block(20, "x", OtherChain), (await Store.GetCheckpointAsync(OtherChain, None))!.Block);
    }

    /// <summary>"postgres" or "sqlite": which embedded migrations this store applies.</summary>
    protected abstract string StoreName { get; }
}
