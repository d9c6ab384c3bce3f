using ChainMargin.Core;
using ChainMargin.Liquidation.Flagging;

namespace ChainMargin.Liquidation.Tests;

public sealed class SweepShardTests
{
    [Fact]
    public void ShardOf_EveryAccountInExactlyOneShard_StableAndBalanced()
    {
        var random = new Random(7);
        var counts = new int[4];
        for (var i = 0; i < 4000; i++)
        {
            var bytes = new byte[20];
            random.NextBytes(bytes);
            var account = EvmAddress.Parse("0x" + Convert.ToHexStringLower(bytes));
            var shard = MarginService.ShardOf(account, 4);
            Assert.InRange(shard, 0, 3);
            Assert.Equal(shard, MarginService.ShardOf(EvmAddress.Parse(account.Value.ToUpperInvariant().Replace("0X", "0x", StringComparison.Ordinal)), 4));
            counts[shard]++;
        }

        // 4,000 uniform addresses over 4 shards: each shard gets 1,000 +- a few standard deviations (~27).
        Assert.All(counts, c => Assert.InRange(c, 850, 1150));
        Assert.Equal(0, MarginService.ShardOf(EvmAddress.Parse("0x00000000000000000000000000000000000000a1"), 1));
    }

    [Fact]
    public void ShardOf_NoShards_IsRefused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => MarginService.ShardOf(EvmAddress.Zero, 0));
}
