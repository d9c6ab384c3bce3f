using ChainMargin.Testing;
using Xunit;

namespace ChainMargin.Contracts.Tests;

/// <summary>The chain-steering helpers every test project relies on, checked against a real anvil.</summary>
public sealed class AnvilRpcTests : IClassFixture<AnvilRpcTests.Chain>
{
    private readonly Chain _chain;

    public AnvilRpcTests(Chain chain) => _chain = chain;

    [Fact]
    public async Task Fixture_StartsTheNodeWithItsChainId()
    {
        Assert.Equal(4242UL, await _chain.Rpc.ChainIdAsync());
        Assert.Equal(4242UL, _chain.Node.ChainId);
    }

    [Fact]
    public async Task ReorgAsync_ReplacesTheLastBlocksWithNewHashes()
    {
        await _chain.Rpc.MineBlocksAsync(5);
        var tip = await _chain.Rpc.BlockAsync();
        var keptParent = await _chain.Rpc.BlockAsync(tip.Number - 3);
        var replaced = await _chain.Rpc.BlockAsync(tip.Number - 2);

        await _chain.Rpc.ReorgAsync(3);

        var newTip = await _chain.Rpc.BlockAsync();
        Assert.Equal(tip.Number, newTip.Number);
        Assert.NotEqual(tip.Hash, newTip.Hash);
        var newReplaced = await _chain.Rpc.BlockAsync(tip.Number - 2);
        Assert.NotEqual(replaced.Hash, newReplaced.Hash);
        Assert.Equal(keptParent.Hash, newReplaced.ParentHash);
        Assert.Equal(keptParent.Hash, (await _chain.Rpc.BlockAsync(tip.Number - 3)).Hash);
    }

    [Fact]
    public async Task SnapshotAndRevert_RestoreTheChain()
    {
        var before = await _chain.Rpc.BlockAsync();
        var snapshot = await _chain.Rpc.SnapshotAsync();
        await _chain.Rpc.MineBlocksAsync(3);
        Assert.Equal(before.Number + 3, await _chain.Rpc.BlockNumberAsync());

        Assert.True(await _chain.Rpc.RevertAsync(snapshot));
        Assert.Equal(before, await _chain.Rpc.BlockAsync());
    }

    [Fact]
    public async Task SetNextBlockTimestamp_AppliesToTheNextMinedBlock()
    {
        var now = (await _chain.Rpc.BlockAsync()).Timestamp;
        await _chain.Rpc.SetNextBlockTimestampAsync(now + 86_400);
        await _chain.Rpc.MineAsync();
        Assert.Equal(now + 86_400, (await _chain.Rpc.BlockAsync()).Timestamp);
        await _chain.Rpc.MineAsync(now + 90_000);
        Assert.Equal(now + 90_000, (await _chain.Rpc.BlockAsync()).Timestamp);
    }

    [Fact]
    public async Task CallAsync_UnknownMethod_ThrowsWithTheNodesMessage()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => _chain.Rpc.CallAsync("anvil_noSuchMethod"));
        Assert.Contains("anvil_noSuchMethod", error.Message, StringComparison.Ordinal);
    }

    public sealed class Chain : AnvilFixture
    {
        public Chain()
            : base(4242)
        {
        }
    }
}
