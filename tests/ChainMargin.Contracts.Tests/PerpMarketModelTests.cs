using System.Numerics;
using ChainMargin.Contracts.Reference;
using ChainMargin.Testing;
using Xunit;

namespace ChainMargin.Contracts.Tests;

/// <summary>
/// A seeded random walk of prices and trades (opens, increases, partial closes, full closes, flips, both sides)
/// checked step by step against a model of the documented rules: weighted-average entry truncated to the feed's
/// decimals, PnL on the closed part truncated toward zero, the rest of a flip opened at the trade price.
/// </summary>
public sealed class PerpMarketModelTests(AnvilProtocolFixture fixture) : ProtocolTestBase(fixture), IClassFixture<AnvilProtocolFixture>
{
    private static readonly BigInteger PnlScale = BigInteger.Pow(10, 20);

    [Theory]
    [InlineData(20251125)]
    [InlineData(7)]
    public async Task Trade_RandomSequence_MatchesTheModel(int seed)
    {
        var random = new Random(seed);
        await FundAndDepositAsync(Alice, P.Usdc, Usdc(1_000_000m));
        var insurance0 = await QueryAsync<InsuranceBalanceFunction, BigInteger>(P.Vault, new InsuranceBalanceFunction { Token = P.Usdc });
        BigInteger size = 0, entry = 0, realized = 0;
        BigInteger price = 3000_00000000;
        var flips = 0;
        var closes = 0;

        for (var step = 0; step < 30; step++)
        {
            if (random.Next(3) > 0)
            {
                // Prices move by up to +-5% with all 8 decimals in use.
                price += price * random.Next(-500, 501) / 10_000 + random.Next(0, 100_000_000);
                await SendAsync(Deployer, P.SpotFeed("ETH"), new SetAnswerFunction { Answer = price });
            }

            var delta = NextDelta(random, size);
            var receipt = await SendAsync(Alice, P.PerpMarket, new PerpTradeFunction { MarketId = 1, SizeDelta = delta });

            var newSize = size + delta;
            BigInteger pnl = 0;
            if (size.IsZero || size.Sign == delta.Sign)
            {
                entry = ((BigInteger.Abs(size) * entry) + (BigInteger.Abs(delta) * price)) / BigInteger.Abs(newSize);
            }
            else
            {
                var closed = BigInteger.Abs(delta) >= BigInteger.Abs(size) ? size : -delta;
                pnl = closed * (price - entry) / PnlScale; // BigInteger division truncates toward zero, as Solidity's
                if (newSize.IsZero)
                {
                    entry = 0;
                    closes++;
                }
                else if (newSize.Sign != size.Sign)
                {
                    entry = price;
                    flips++;
                }
            }

            size = newSize;
            realized += pnl;
            var e = Assert.Single(Events<PositionChangedEventDto>(receipt)).Event;
            Assert.Equal((size, entry, price, pnl), (e.NewSize, e.EntryPrice, e.TradePrice, e.RealizedPnl));
        }

        var position = await QueryDtoAsync<PerpPositionOfFunction, PerpPositionOutputDto>(P.PerpMarket, new PerpPositionOfFunction { Account = Alice.Address, MarketId = 1 });
        Assert.Equal((size, entry), (position.Size, position.EntryPrice));
        Assert.Equal(Usdc(1_000_000m) + realized, await VaultBalanceAsync(Alice.Address, P.Usdc));
        Assert.Equal(insurance0 - realized, await QueryAsync<InsuranceBalanceFunction, BigInteger>(P.Vault, new InsuranceBalanceFunction { Token = P.Usdc }));
        // The walk must actually exercise the interesting paths.
        Assert.True(flips > 0 && closes > 0, $"flips {flips}, closes {closes}");
    }

    /// <summary>Sizes with up to 6 significant decimals; sometimes exactly the opposite of the position (a close).</summary>
    private static BigInteger NextDelta(Random random, BigInteger size)
    {
        if (!size.IsZero && random.Next(6) == 0)
        {
            return -size;
        }

        var magnitude = new BigInteger(random.Next(1, 3_000_000)) * BigInteger.Pow(10, 12);
        return random.Next(2) == 0 ? magnitude : -magnitude;
    }
}
