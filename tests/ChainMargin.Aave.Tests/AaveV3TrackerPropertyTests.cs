using System.Numerics;
using ChainMargin.Core;
using ChainMargin.Indexing.Aave;
using ChainMargin.Indexing.Decoding;
using ChainMargin.Risk.Aave;
using FsCheck.Xunit;
using Xunit;

namespace ChainMargin.Aave.Tests;

/// <summary>
/// The tracker against a model of ScaledBalanceTokenBase._mintScaled/_burnScaled (Aave V3.0.2): for any sequence of
/// supplies and withdrawals at rising indices, the scaled balance rebuilt from the emitted Mint/Burn events (including
/// burns smaller than the accrued interest, emitted as Mints) equals the token's own.
/// </summary>
public sealed class AaveV3TrackerPropertyTests
{
    private static readonly BigInteger Ray = BigInteger.Pow(10, 27);
    private static readonly ChainId Chain = new(31_404);
    private static readonly EvmAddress Asset = EvmAddress.Parse("0x00000000000000000000000000000000000000a1");
    private static readonly EvmAddress AToken = EvmAddress.Parse("0x00000000000000000000000000000000000000a2");
    private static readonly EvmAddress User = EvmAddress.Parse("0x00000000000000000000000000000000000000b1");

    [Property(MaxTest = 200)]
    public void ScaledBalance_FromMintAndBurnEvents_EqualsTheTokenModel(int seed)
    {
        var random = new Random(seed);
        var tracker = new AaveV3UserStateTracker();
        tracker.RegisterReserve(new AaveV3ReserveTokens(0, Asset, AToken, EvmAddress.Parse("0x00000000000000000000000000000000000000a3"), EvmAddress.Parse("0x00000000000000000000000000000000000000a4")));
        BigInteger scaled = 0, userIndex = 0, index = Ray;
        var log = 0;
        for (var step = 0; step < 30; step++)
        {
            index += new BigInteger(random.NextInt64(0, 50_000_000_000_000_000)) * 1_000_000; // up to +5% per step
            var balance = AaveV3Math.RayMul(scaled, index);
            var withdraw = balance > 10 && random.Next(3) == 0;
            var amount = withdraw
                ? BigInteger.One + new BigInteger(random.NextInt64(0, long.MaxValue)) % balance
                : new BigInteger(random.NextInt64(1, 1_000_000_000_000)) * (random.Next(2) == 0 ? 1 : 1_000_000_000);
            var amountScaled = AaveV3Math.RayDiv(amount, index);
            if (amountScaled.IsZero || (withdraw && amountScaled > scaled))
            {
                continue; // the token would revert
            }

            var increase = AaveV3Math.RayMul(scaled, index) - AaveV3Math.RayMul(scaled, userIndex);
            userIndex = index;
            var block = new BlockRef(Chain, step + 1, "0x" + (step + 1).ToString("x64"));
            ChainFact fact;
            if (!withdraw)
            {
                scaled += amountScaled;
                fact = new AaveScaledMint(block, log++, AToken, User, User, amount + increase, increase, index);
            }
            else
            {
                scaled -= amountScaled;
                fact = increase > amount
                    ? new AaveScaledMint(block, log++, AToken, User, User, increase - amount, increase, index)
                    : new AaveScaledBurn(block, log++, AToken, User, User, amount - increase, increase, index);
            }

            tracker.Apply(fact, 1_000 + step);
            Assert.Equal(scaled, tracker.Snapshot(User)!.Balances.Single().ScaledATokenBalance);
        }
    }

    /// <summary>Full repayment clears the borrowing bit exactly when the balance reaches zero: rayDiv(rayMul(s, i), i) == s for i >= 1 ray.</summary>
    [Property(MaxTest = 500)]
    public void FullRepayment_BurnsExactlyTheScaledBalance(ulong scaledSeed, ulong indexSeed)
    {
        var scaled = new BigInteger(scaledSeed) + 1;
        var index = Ray + (new BigInteger(indexSeed) * 1_000_000_000);
        Assert.Equal(scaled, AaveV3Math.RayDiv(AaveV3Math.RayMul(scaled, index), index));
    }

    [Fact]
    public void Decode_MalformedData_IsRejectedWithTheReasonNotThrown()
    {
        var decoder = new AaveV3EventDecoder(Chain);
        decoder.Register(AToken, AaveV3ContractRole.AToken);
        var topic = "0x" + new string('0', 24) + User.Value[2..];
        var bad = new RawLog(AToken.Value, [AaveV3EventDecoder.ScaledMint, topic, topic], "0x1234", 7, "0x" + new string('a', 64), 3, false);
        var fact = Assert.IsType<RejectedLog>(decoder.Decode(bad));
        Assert.Equal(3, fact.LogIndex);
        Assert.Contains("32-byte words", fact.Reason, StringComparison.Ordinal);

        // An unregistered contract's log is not ours: skipped, not rejected.
        Assert.Null(decoder.Decode(bad with { Address = "0x00000000000000000000000000000000000000ff" }));
    }
}
