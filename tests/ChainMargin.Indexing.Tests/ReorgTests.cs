using System.Numerics;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Core;
using ChainMargin.Indexing.Tests.Harness;
using ChainMargin.Storage;
using ChainMargin.Testing;
using Xunit;

namespace ChainMargin.Indexing.Tests;

/// <summary>
/// Reorgs made with anvil_reorg (replace the last N blocks, with other transactions in them) and anvil_rollback (drop
/// them). After each, the store must equal the contracts' own view and a clean re-index into a fresh store.
/// </summary>
public sealed class ReorgTests : IClassFixture<ActiveChainFixture>
{
    private readonly ActiveChainFixture _fixture;
    private readonly ChainDriver _chain;

    public ReorgTests(ActiveChainFixture fixture)
    {
        _fixture = fixture;
        _chain = new ChainDriver(fixture);
    }

    private ChainOptions Options(int finalityDepth = 20) => IndexRig.Options(_fixture.RpcUrl, _fixture.ChainId, _fixture.Protocol, finalityDepth);

    /// <summary>A fresh account with USDC minted and approved to the vault, so each later action is one transaction.</summary>
    private async Task<DevAccount> TraderAsync()
    {
        var account = await _chain.NewAccountAsync();
        await _chain.MintAndApproveAsync(account, "USDC", ChainDriver.Units(1_000_000, 6));
        return account;
    }

    /// <summary><paramref name="count"/> blocks, each with one deposit or one perp trade of the account.</summary>
    private async Task ActionsAsync(DevAccount account, int count)
    {
        for (var i = 0; i < count; i++)
        {
            if (i % 2 == 0)
            {
                await _chain.DepositOnlyAsync(account, "USDC", ChainDriver.Units(100 + i, 6));
            }
            else
            {
                await _chain.TradeAsync(account, "ETH", (i % 4 == 1 ? 1 : -1) * ChainDriver.Units(1, 17) * i);
            }
        }
    }

    /// <summary>Replaces the last <paramref name="depth"/> blocks; the first new one holds a deposit the old fork did not have.</summary>
    private async Task ReorgWithDepositAsync(DevAccount account, int depth, long amount)
    {
        var head = await _chain.HeadAsync();
        var raw = await _chain.SignDepositAsync(account, "USDC", new BigInteger(amount), head - depth);
        var replaced = await _chain.Anvil.BlockAsync(head - depth + 1);
        await _chain.Anvil.ReorgAsync(depth, [(raw, 0)]);
        Assert.Equal(head, await _chain.HeadAsync());
        Assert.NotEqual(replaced.Hash, (await _chain.Anvil.BlockAsync(head - depth + 1)).Hash);

        // The injected deposit is in the new fork and succeeded.
        var block = await _chain.Anvil.CallAsync("eth_getBlockByNumber", AnvilRpc.Hex(head - depth + 1), false);
        var hash = Assert.Single(block!["transactions"]!.AsArray())!.GetValue<string>();
        var receipt = await _chain.Anvil.CallAsync("eth_getTransactionReceipt", hash);
        Assert.Equal("0x1", receipt!["status"]!.GetValue<string>());
    }

    private Task AssertExactAsync(TestStore store, ChainOptions options, params DevAccount[] accounts) =>
        IndexRig.AssertExactAsync(store.Store, _chain, options, [.. ActiveChainFixture.Accounts, .. accounts]);

    [Theory]
    [InlineData(1, StorageOptions.Sqlite)]
    [InlineData(3, StorageOptions.Sqlite)]
    [InlineData(3, StorageOptions.Postgres)]
    [InlineData(12, StorageOptions.Sqlite)]
    public async Task Reorg_OfDepth_RollsBackAndReindexesExactly(int depth, string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        var options = Options();
        using var handle = IndexRig.Watcher(options, store.Store);
        var trader = await TraderAsync();
        await ActionsAsync(trader, depth + 2);
        await IndexRig.CatchUpAsync(handle.Watcher);
        var before = await IndexRig.ChecksumTextAsync(store.Store, handle.Watcher.Chain);

        await ReorgWithDepositAsync(trader, depth, 777_000);
        await IndexRig.CatchUpAsync(handle.Watcher);

        Assert.Equal(1, handle.Status.Reorgs);
        Assert.Equal(await _chain.HeadAsync(), handle.Status.Indexed?.Number);
        Assert.NotEqual(before, await IndexRig.ChecksumTextAsync(store.Store, handle.Watcher.Chain));
        await AssertExactAsync(store, options, trader);
    }

    [Fact]
    public async Task Reorg_ExactlyFinalityDepth_IsStillHandled()
    {
        await using var store = await TestStore.CreateAsync();
        var options = Options(finalityDepth: 5);
        using var handle = IndexRig.Watcher(options, store.Store);
        var trader = await TraderAsync();
        await ActionsAsync(trader, 8);
        await IndexRig.CatchUpAsync(handle.Watcher);

        await ReorgWithDepositAsync(trader, 5, 555_000);
        await IndexRig.CatchUpAsync(handle.Watcher);

        Assert.Equal(1, handle.Status.Reorgs);
        Assert.Null(handle.Status.Halted);
        await AssertExactAsync(store, options, trader);
    }

    [Fact]
    public async Task ShorteningReorg_RollbackThenFewerBlocks_IndexEqualsShorterChain()
    {
        await using var store = await TestStore.CreateAsync();
        var options = Options();
        using var handle = IndexRig.Watcher(options, store.Store);
        var trader = await TraderAsync();
        await ActionsAsync(trader, 6);
        await IndexRig.CatchUpAsync(handle.Watcher);
        var oldHead = await _chain.HeadAsync();

        await _chain.Anvil.RollbackAsync(5);
        await _chain.DepositOnlyAsync(trader, "USDC", ChainDriver.Units(42, 6));
        Assert.Equal(oldHead - 4, await _chain.HeadAsync());
        await IndexRig.CatchUpAsync(handle.Watcher);

        Assert.Equal(1, handle.Status.Reorgs);
        Assert.Equal(oldHead - 4, handle.Status.Indexed?.Number);
        Assert.Equal(oldHead - 4, (await store.Store.GetCheckpointAsync(handle.Watcher.Chain, CancellationToken.None))?.Block.Number);
        await AssertExactAsync(store, options, trader);
    }

    [Fact]
    public async Task ThreeReorgsInQuickSuccession_IndexEqualsFinalFork()
    {
        await using var store = await TestStore.CreateAsync();
        var options = Options();
        using var handle = IndexRig.Watcher(options, store.Store);
        var trader = await TraderAsync();
        await ActionsAsync(trader, 8);
        await IndexRig.CatchUpAsync(handle.Watcher);

        await ReorgWithDepositAsync(trader, 2, 1_000);
        Assert.False(await handle.Watcher.StepAsync(CancellationToken.None));
        await ReorgWithDepositAsync(trader, 4, 2_000);
        Assert.False(await handle.Watcher.StepAsync(CancellationToken.None));
        await ReorgWithDepositAsync(trader, 1, 3_000);
        await IndexRig.CatchUpAsync(handle.Watcher);

        // The third reorg only replaced blocks the watcher had already rolled back, so two were detected.
        Assert.Equal(2, handle.Status.Reorgs);
        await AssertExactAsync(store, options, trader);
    }

    [Fact]
    public async Task ReorgRemovingADeposit_DepositIsGoneFromTheIndex()
    {
        await using var store = await TestStore.CreateAsync();
        var options = Options();
        using var handle = IndexRig.Watcher(options, store.Store);
        var account = await _chain.NewAccountAsync();
        var who = EvmAddress.Parse(account.Address);
        await IndexRig.CatchUpAsync(handle.Watcher);
        var before = await _chain.HeadAsync();
        await _chain.DepositAsync(account, "WETH", ChainDriver.Units(4, 18));
        var blocks = (int)(await _chain.HeadAsync() - before);
        await IndexRig.CatchUpAsync(handle.Watcher);
        Assert.Equal(ChainDriver.Units(4, 18), Assert.Single(await store.Store.GetCollateralAsync(who, CancellationToken.None)).Balance);

        // Drop the blocks of mint, approve and deposit, and let the chain grow past the old head.
        await _chain.Anvil.RollbackAsync(blocks);
        await _chain.Anvil.MineBlocksAsync(blocks + 1);
        await IndexRig.CatchUpAsync(handle.Watcher);

        Assert.Equal(1, handle.Status.Reorgs);
        Assert.Equal(BigInteger.Zero, await _chain.VaultBalanceAsync(account.Address, _fixture.Protocol.Weth));
        Assert.Empty(await store.Store.GetCollateralAsync(who, CancellationToken.None));
        await AssertExactAsync(store, options, account);
    }

    [Fact]
    public async Task ReorgWhileStopped_NewWatcherDetectsItAtStart()
    {
        await using var store = await TestStore.CreateAsync();
        var options = Options();
        var trader = await TraderAsync();
        await ActionsAsync(trader, 6);
        using (var first = IndexRig.Watcher(options, store.Store))
        {
            await IndexRig.CatchUpAsync(first.Watcher);
        }

        await ReorgWithDepositAsync(trader, 4, 4_444);

        using var second = IndexRig.Watcher(options, store.Store);
        Assert.False(await second.Watcher.StepAsync(CancellationToken.None));
        Assert.Equal(1, second.Status.Reorgs);
        Assert.Equal(await _chain.HeadAsync() - 4, second.Status.Indexed?.Number);
        await IndexRig.CatchUpAsync(second.Watcher);
        await AssertExactAsync(store, options, trader);
    }

    [Fact]
    public async Task ReorgBeyondFinality_StepThrows_RunHaltsAndStoreIsUntouched()
    {
        await using var store = await TestStore.CreateAsync();
        var options = Options(finalityDepth: 5);
        using var handle = IndexRig.Watcher(options, store.Store);
        var trader = await TraderAsync();
        await ActionsAsync(trader, 12);
        await IndexRig.CatchUpAsync(handle.Watcher);
        var chain = handle.Watcher.Chain;
        var checkpoint = await store.Store.GetCheckpointAsync(chain, CancellationToken.None);
        var before = await IndexRig.ChecksumTextAsync(store.Store, chain);

        await _chain.Anvil.RollbackAsync(10);
        await _chain.Anvil.MineBlocksAsync(12);

        await Assert.ThrowsAsync<ReorgBeyondFinalityException>(() => handle.Watcher.StepAsync(CancellationToken.None));
        Assert.Equal(checkpoint?.Block, (await store.Store.GetCheckpointAsync(chain, CancellationToken.None))?.Block);
        Assert.Equal(before, await IndexRig.ChecksumTextAsync(store.Store, chain));

        using var restarted = IndexRig.Watcher(options, store.Store);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await restarted.Watcher.RunAsync(timeout.Token);

        Assert.False(timeout.IsCancellationRequested, "RunAsync should return by itself on a reorg beyond finality");
        Assert.NotNull(restarted.Status.Halted);
        Assert.StartsWith("watcher halted", restarted.Status.StaleReason(DateTimeOffset.UtcNow));
        Assert.Equal(before, await IndexRig.ChecksumTextAsync(store.Store, chain));
    }

    /// <summary>
    /// The step has read the span's headers, of the old fork; a reorg replacing the last two blocks lands before its logs
    /// are read. When the new fork's first block holds a deposit, its log carries a hash no header of the span has and
    /// the step refuses the span. When the new blocks are empty, the logs simply lack the old fork's deposit and trade
    /// and nothing in them names another fork: the step commits the headers it read, so the checkpoint is a block the
    /// chain no longer has, and the next step rolls it back. Either way the index ends exact.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ReorgBetweenHeadersAndLogs_RefusedOrRolledBackByTheNextStep_EndsExact(bool newForkBringsALog)
    {
        await using var store = await TestStore.CreateAsync();
        await using var proxy = new FaultProxy(_fixture.RpcUrl);
        var options = Options();
        options.RpcUrls = [proxy.Url];
        using var handle = IndexRig.Watcher(options, store.Store);
        var trader = await TraderAsync();
        await IndexRig.CatchUpAsync(handle.Watcher);
        await ActionsAsync(trader, 4);
        var head = await _chain.HeadAsync();
        IEnumerable<(string, int)>? newFork = newForkBringsALog ? [(await _chain.SignDepositAsync(trader, "USDC", 31_337, head - 2), 0)] : null;
        var before = await IndexRig.ChecksumTextAsync(store.Store, handle.Watcher.Chain);
        var done = 0;
        proxy.Plan = c => c.Method == "eth_getLogs" && Interlocked.Exchange(ref done, 1) == 0
            ? new Fault(FaultKind.Forward, Before: () => _chain.Anvil.ReorgAsync(2, newFork))
            : null;

        if (newForkBringsALog)
        {
            await Assert.ThrowsAsync<InconsistentChainException>(() => handle.Watcher.StepAsync(CancellationToken.None));
            Assert.Equal(before, await IndexRig.ChecksumTextAsync(store.Store, handle.Watcher.Chain));
        }
        else
        {
            Assert.True(await handle.Watcher.StepAsync(CancellationToken.None));
            var checkpoint = (await store.Store.GetCheckpointAsync(handle.Watcher.Chain, CancellationToken.None))!.Block;
            Assert.Equal(head, checkpoint.Number);
            Assert.NotEqual((await _chain.Anvil.BlockAsync(head)).Hash, checkpoint.Hash);
        }

        Assert.Single(proxy.Injected);
        await IndexRig.CatchUpAsync(handle.Watcher);
        Assert.Equal((await _chain.Anvil.BlockAsync(head)).Hash, (await store.Store.GetCheckpointAsync(handle.Watcher.Chain, CancellationToken.None))!.Block.Hash);
        await AssertExactAsync(store, options, trader);
    }

    [Fact]
    public async Task Backfill_ReorgRightAfterACommit_WhoseNextHeadWasReadWhileItRan_IsCaughtAndEndsExact()
    {
        await using var store = await TestStore.CreateAsync();
        var options = Options();
        using var handle = IndexRig.Watcher(options, store.Store);
        var trader = await TraderAsync();
        await IndexRig.CatchUpAsync(handle.Watcher);
        await ActionsAsync(trader, 6);
        var checkpoint = (await store.Store.GetCheckpointAsync(handle.Watcher.Chain, CancellationToken.None))!.Block.Number;

        // Two blocks per commit: the step leaves work to do, so it reads the next step's head and its check of this
        // checkpoint while the commit runs, and fetches the next spans ahead; all before the reorg below replaces the
        // checkpoint and the blocks after it.
        options.MaxBlocksPerCommit = 2;
        Assert.False(await handle.Watcher.StepAsync(CancellationToken.None));
        Assert.Equal(checkpoint + 2, (await store.Store.GetCheckpointAsync(handle.Watcher.Chain, CancellationToken.None))!.Block.Number);
        await ReorgWithDepositAsync(trader, 5, 4_242);

        // The next step trusts that early read and commits the span it fetched ahead: the old fork's, consistent with
        // the checkpoint. A later check finds the chain without it and rolls back. (Had a read come after the reorg, a
        // step would have refused a header not extending the checkpoint, or rolled back at once.)
        var refused = 0;
        for (var step = 0; step < 50; step++)
        {
            try
            {
                if (await handle.Watcher.StepAsync(CancellationToken.None))
                {
                    break;
                }
            }
            catch (InconsistentChainException)
            {
                refused++;
            }
        }

        Assert.True(refused <= 1, $"{refused} steps refused");
        Assert.Equal(1, handle.Watcher.Status.Reorgs);
        await AssertExactAsync(store, options, trader);
    }


    [Fact]
    public async Task RunningWatcher_ReorgsWhileItFollowsTheHead_EachDetected_EndsExact()
    {
        const int rounds = 4;
        await using var store = await TestStore.CreateAsync();
        var options = Options();
        using var handle = IndexRig.Watcher(options, store.Store);
        var trader = await TraderAsync();
        using var cts = new CancellationTokenSource();
        var run = handle.Watcher.RunAsync(cts.Token);
        try
        {
            for (var round = 0; round < rounds; round++)
            {
                await ActionsAsync(trader, 3);
                await WaitIndexedAtHeadAsync(handle, run);
                await ReorgWithDepositAsync(trader, 1 + round, 1_000 + round);
            }

            await _chain.DepositOnlyAsync(trader, "USDC", 5_000);
            await WaitIndexedAtHeadAsync(handle, run);
        }
        finally
        {
            await cts.CancelAsync();
            await run;
        }

        Assert.Null(handle.Status.Halted);
        Assert.Equal(rounds, handle.Status.Reorgs);
        await AssertExactAsync(store, options, trader);
    }

    /// <summary>Waits until the running watcher has indexed the chain's current head block (same hash).</summary>
    private async Task WaitIndexedAtHeadAsync(WatcherHandle handle, Task run)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var head = await _chain.Anvil.BlockAsync();
            if (handle.Status.Indexed is { } indexed && indexed.Number == head.Number && string.Equals(indexed.Hash, head.Hash, StringComparison.OrdinalIgnoreCase))
            {
                return;
            }

            Assert.False(run.IsCompleted, $"the watcher stopped: {handle.Status.Halted}");
            Assert.True(DateTime.UtcNow < deadline, $"not at head {head.Number} after 30 s: indexed {handle.Status.Indexed}, last error {handle.Status.LastError}");
            await Task.Delay(20);
        }
    }
}
