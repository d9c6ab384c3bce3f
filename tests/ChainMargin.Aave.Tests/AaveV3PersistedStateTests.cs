using System.Numerics;
using ChainMargin.Core;
using ChainMargin.Risk.Aave;
using Xunit;
using Xunit.Abstractions;

namespace ChainMargin.Aave.Tests;

/// <summary>
/// Aave V3 state persisted by the chain watcher into PostgreSQL (real Aave V3 on anvil): after every step the numbers
/// computed from the store alone equal Pool.getUserAccountData for every user; a restart resumes from the store; a
/// reorg that removes a supply and a borrow rolls the persisted state back, and the numbers still match.
/// </summary>
public sealed class AaveV3PersistedStateTests(ITestOutputHelper output)
{
    private const long Day = 24 * 3600;

    [Fact]
    public async Task Store_EveryStepAndAfterARestart_EqualsGetUserAccountDataForEveryUser()
    {
        await using var m = await AaveTestMarket.StartAsync(31_411, output);
        await using var rig = await AaveStoreRig.StartAsync(m);

        await m.AddUserAsync("dave", ("USDC", 200_000m), ("WETH", 50m));
        await m.AddUserAsync("bob", ("WBTC", 1m), ("USDC", 10m));
        await m.AddUserAsync("carol", ("WETH", 20m), ("USDC", 10_000m));
        await m.AddUserAsync("erin", ("WETH", 5m), ("USDC", 100m));
        await m.AddUserAsync("frank", ("WETH", 1m), ("USDC", 1_000m));
        await m.AddUserAsync("liz", ("USDC", 100_000m), ("WETH", 20m));
        await m.SupplyAsync("dave", "USDC", 200_000m);
        await m.SupplyAsync("dave", "WETH", 50m);
        await m.SupplyAsync("bob", "WBTC", 1m);
        await m.SupplyAsync("carol", "WETH", 20m);
        await m.SupplyAsync("erin", "WETH", 5m);
        await m.SupplyAsync("frank", "WETH", 1m);
        await m.SupplyAsync("frank", "USDC", 1_000m);
        await rig.AssertStoreMatchesPoolAsync("supplies");
        Assert.Equal(1, rig.SpanIndexer.Loads);

        await m.SetCollateralAsync("bob", "WBTC", true);
        await m.SetCollateralAsync("frank", "USDC", false);
        await m.SetEModeAsync("carol", 1);
        await m.BorrowAsync("bob", "USDC", 40_000m);
        await m.BorrowAsync("carol", "WETH", 17m);
        await m.BorrowAsync("erin", "USDC", 3_000m, rateMode: 1);
        await m.BorrowAsync("frank", "USDC", 100m);
        var afterBorrows = await rig.AssertStoreMatchesPoolAsync("collateral switches, e-mode, borrows");
        Assert.Contains(afterBorrows.EModes, e => e.CategoryId == 1);
        Assert.Contains(rig.Commits, c => c.Accounts.Contains(m.Address("bob")));

        await m.JumpAsync(21 * Day);
        await rig.AssertStoreMatchesPoolAsync("3 weeks of interest");
        await m.RepayAsync("bob", "USDC", 1);
        await m.RepayAsync("erin", "USDC", m.Units("USDC", 1_000m), rateMode: 1);
        await rig.AssertStoreMatchesPoolAsync("repays");

        // A restart: a new process on the same database resumes at the checkpoint, it does not re-index the market.
        var checkpoint = (await rig.Store.GetCheckpointAsync(new ChainId(m.Node.ChainId), CancellationToken.None))!.Block.Number;
        await rig.RestartAsync();
        await m.JumpAsync(7 * Day);
        await rig.AssertStoreMatchesPoolAsync("restarted, one more week");
        Assert.Equal(1, rig.SpanIndexer.Loads);
        Assert.Equal(checkpoint + 1, rig.SpanIndexer.ResumedFrom);

        // Price moves: one through AaveOracle.setAssetSources, one written into the aggregator with no event at all.
        await m.SetPriceAsync(m.Reserve("WBTC").Asset, 52_000_0000_0000);
        var commits = rig.Commits.Count;
        await rig.AssertStoreMatchesPoolAsync("WBTC at 52,000 (new source)");
        Assert.Contains(rig.Commits.Skip(commits), c => c.PricesChanged);
        var wethFeed = await rig.SourceOfAsync(m.Reserve("WETH").Asset);
        await rig.SetAnswerSilentlyAsync(wethFeed, 2_500_0000_0000);
        commits = rig.Commits.Count;
        var silent = await rig.AssertStoreMatchesPoolAsync("WETH at 2,500 (aggregator storage, no event)");
        Assert.Equal(new BigInteger(2_500_0000_0000), silent.Reserves.Single(r => r.Asset == m.Reserve("WETH").Asset).Price);
        Assert.Contains(rig.Commits.Skip(commits), c => c.PricesChanged);

        // A liquidation after the restart: the liquidator's new aToken-free balances and bob's are persisted.
        await m.LiquidateAsync("liz", "WBTC", "USDC", "bob", AaveTestMarket.MaxUint, receiveAToken: false);
        await rig.AssertStoreMatchesPoolAsync("bob liquidated");
        output.WriteLine($"{rig.Checks} user checks from the store; {rig.SpanIndexer.MarketReads} market reads since the restart");
    }

    [Theory]
    [InlineData("postgres", 31_412)]
    [InlineData("sqlite", 31_415)]
    public async Task Reorg_RemovingASupplyAndABorrow_RollsThePersistedStateBack(string provider, ulong chainId)
    {
        await using var m = await AaveTestMarket.StartAsync(chainId, output);
        await using var rig = await AaveStoreRig.StartAsync(m, provider);
        await m.AddUserAsync("dave", ("USDC", 100_000m), ("WETH", 10m));
        await m.AddUserAsync("alice", ("WETH", 10m));
        await m.AddUserAsync("bob", ("WETH", 3m));
        await m.SupplyAsync("dave", "USDC", 100_000m);
        await m.SupplyAsync("dave", "WETH", 10m);
        var before = await rig.AssertStoreMatchesPoolAsync("before the fork");

        var snapshot = await rig.SnapshotAsync();
        await m.SupplyAsync("alice", "WETH", 10m);
        await m.BorrowAsync("alice", "USDC", 10_000m);
        await m.BorrowAsync("dave", "WETH", 1m);
        var onFork = await rig.AssertStoreMatchesPoolAsync("alice supplied and borrowed (to be reorged out)");
        Assert.Contains(onFork.Users, u => u.User == m.Address("alice"));

        // The other fork: the blocks with alice's supply and borrow never happened; bob supplies instead.
        await rig.RevertAsync(snapshot);
        await m.JumpAsync(60);
        await m.SupplyAsync("bob", "WETH", 3m);
        await m.JumpAsync(60);
        await m.JumpAsync(60);
        var after = await rig.AssertStoreMatchesPoolAsync("after the reorg");

        Assert.Contains(rig.Commits, c => c.Reorged);
        Assert.DoesNotContain(after.Users, u => u.User == m.Address("alice"));
        Assert.DoesNotContain(after.Balances, b => b.User == m.Address("alice"));
        Assert.Contains(after.Users, u => u.User == m.Address("bob"));
        var daveBefore = before.Balances.Where(b => b.User == m.Address("dave")).ToList();
        Assert.Equal(daveBefore, after.Balances.Where(b => b.User == m.Address("dave")).ToList());
        Assert.Equal(2, rig.SpanIndexer.Loads);
        var market = AaveV3StoredInputs.Market(after);
        Assert.All(after.Reserves, r => Assert.True(r.Block.Number <= after.Checkpoint!.Value.Number));
        Assert.Equal(0, AaveV3AccountCalculator.Calculate(market, AaveV3StoredInputs.Users(after).Single(u => u.User == m.Address("dave"))).Data!.TotalDebtBase);
    }
}
