using System.Numerics;
using ChainMargin.Contracts.Reference;
using ChainMargin.Testing;
using Nethereum.RPC.Eth.DTOs;
using Xunit;

namespace ChainMargin.Contracts.Tests;

/// <summary>
/// Perp trades checked against an independent computation in decimal arithmetic: entry = size-weighted average price
/// (truncated to the feed's 8 decimals), realised PnL = closed size x (price - entry), truncated toward zero to USDC's
/// 6 decimals.
/// </summary>
public sealed class PerpMarketTests(AnvilProtocolFixture fixture) : ProtocolTestBase(fixture), IClassFixture<AnvilProtocolFixture>
{
    private const int Eth = 1;
    private const int Btc = 2;

    [Fact]
    public async Task Trade_OpenIncreaseReduceClose_RealisesPnlOnTheReducedPart()
    {
        await FundAndDepositAsync(Alice, P.Usdc, Usdc(100_000m));
        var insurance0 = await InsuranceAsync();

        // Open 2 ETH long at 3000.
        var open = await TradeAsync(Alice, Eth, 2m);
        AssertChange(open, sizeDelta: 2m, newSize: 2m, entry: 3000m, tradePrice: 3000m, pnl: 0m);
        Assert.Empty(Events<PnlSettledEventDto>(open));

        // Increase by 1 at 3301.37: entry = (2 x 3000 + 1 x 3301.37) / 3 = 3100.456666666..., kept to 8 decimals.
        await SetPriceAsync(P.SpotFeed("ETH"), 3301.37m);
        var increase = await TradeAsync(Alice, Eth, 1m);
        var entry = Truncate(((2m * 3000m) + (1m * 3301.37m)) / 3m, 8);
        Assert.Equal(3100.45666666m, entry);
        AssertChange(increase, sizeDelta: 1m, newSize: 3m, entry: entry, tradePrice: 3301.37m, pnl: 0m);

        // Reduce by 1.25 at 3500.12: PnL = 1.25 x (3500.12 - entry); entry unchanged.
        await SetPriceAsync(P.SpotFeed("ETH"), 3500.12m);
        var reduce = await TradeAsync(Alice, Eth, -1.25m);
        var pnl1 = Truncate(1.25m * (3500.12m - entry), 6);
        Assert.Equal(499.579166m, pnl1);
        AssertChange(reduce, sizeDelta: -1.25m, newSize: 1.75m, entry: entry, tradePrice: 3500.12m, pnl: pnl1);
        var settled = Assert.Single(Events<PnlSettledEventDto>(reduce)).Event;
        Assert.Equal(Usdc(pnl1), settled.Amount);
        Assert.Equal(P.Usdc, settled.Token.ToLowerInvariant());

        // Close the remaining 1.75 at 2800.5: a loss.
        await SetPriceAsync(P.SpotFeed("ETH"), 2800.5m);
        var close = await TradeAsync(Alice, Eth, -1.75m);
        var pnl2 = Truncate(1.75m * (2800.5m - entry), 6);
        Assert.True(pnl2 < 0);
        AssertChange(close, sizeDelta: -1.75m, newSize: 0m, entry: 0m, tradePrice: 2800.5m, pnl: pnl2);

        Assert.Equal(Usdc(100_000m + pnl1 + pnl2), await VaultBalanceAsync(Alice.Address, P.Usdc));
        // The vault is the counterparty: the insurance balance moves the other way.
        Assert.Equal(insurance0 - Usdc(pnl1 + pnl2), await InsuranceAsync());
        var position = await PositionAsync(Alice, Eth);
        Assert.Equal(BigInteger.Zero, position.Size);
        Assert.Equal(BigInteger.Zero, position.EntryPrice);
        Assert.Empty(await OpenMarketsAsync(Alice));
    }

    [Fact]
    public async Task Trade_ShortThroughZero_ClosesAndOpensTheRestAtTheTradePrice()
    {
        await FundAndDepositAsync(Bob, P.Usdc, Usdc(50_000m));
        await TradeAsync(Bob, Btc, -0.3m); // short 0.3 BTC at 60000

        await SetPriceAsync(P.SpotFeed("BTC"), 58_765.43m);
        var flip = await TradeAsync(Bob, Btc, 0.5m);

        // The 0.3 short closes with PnL -0.3 x (58765.43 - 60000) = +370.371; 0.2 long opens at 58765.43.
        var pnl = Truncate(-0.3m * (58_765.43m - 60_000m), 6);
        Assert.Equal(370.371m, pnl);
        AssertChange(flip, sizeDelta: 0.5m, newSize: 0.2m, entry: 58_765.43m, tradePrice: 58_765.43m, pnl: pnl);
        Assert.Equal(Usdc(50_000m + pnl), await VaultBalanceAsync(Bob.Address, P.Usdc));
        Assert.Equal(new[] { Btc }, await OpenMarketsAsync(Bob));

        // Shorts lose when the price rises: flip back down and check the sign.
        await SetPriceAsync(P.SpotFeed("BTC"), 59_000m);
        var back = await TradeAsync(Bob, Btc, -0.7m);
        var pnl2 = Truncate(0.2m * (59_000m - 58_765.43m), 6);
        AssertChange(back, sizeDelta: -0.7m, newSize: -0.5m, entry: 59_000m, tradePrice: 59_000m, pnl: pnl2);
    }

    [Fact]
    public async Task Trade_LossLargerThanBalance_IsCappedAndTheRestIsBadDebt()
    {
        await FundAndDepositAsync(Bob, P.Usdc, Usdc(100m));
        await TradeAsync(Bob, Eth, 1m); // long 1 ETH at 3000 with 100 USDC: the protocol leaves margin to the off-chain engine

        await SetPriceAsync(P.SpotFeed("ETH"), 2000m);
        var close = await TradeAsync(Bob, Eth, -1m);

        AssertChange(close, sizeDelta: -1m, newSize: 0m, entry: 0m, tradePrice: 2000m, pnl: -1000m);
        Assert.Equal(-Usdc(100m), Assert.Single(Events<PnlSettledEventDto>(close)).Event.Amount);
        var badDebt = Assert.Single(Events<BadDebtEventDto>(close)).Event;
        Assert.Equal(Usdc(900m), badDebt.Amount);
        Assert.Equal(Bob.Address, badDebt.Account.ToLowerInvariant());
        Assert.Equal(BigInteger.Zero, await VaultBalanceAsync(Bob.Address, P.Usdc));
    }

    [Fact]
    public async Task OpenMarkets_TracksEveryMarketWithAPosition()
    {
        await FundAndDepositAsync(Alice, P.Usdc, Usdc(10_000m));
        await TradeAsync(Alice, Eth, 1m);
        await TradeAsync(Alice, Btc, -0.1m);
        Assert.Equal(new[] { Eth, Btc }, (await OpenMarketsAsync(Alice)).Order());

        await TradeAsync(Alice, Eth, -1m);
        Assert.Equal(new[] { Btc }, await OpenMarketsAsync(Alice));
        await TradeAsync(Alice, Eth, -0.5m);
        Assert.Equal(new[] { Btc, Eth }, await OpenMarketsAsync(Alice));

        var unrealized = await QueryAsync<UnrealizedPnlFunction, BigInteger>(P.PerpMarket, new UnrealizedPnlFunction { Account = Alice.Address, MarketId = Eth });
        Assert.Equal(BigInteger.Zero, unrealized);
        await SetPriceAsync(P.SpotFeed("ETH"), 2900m);
        unrealized = await QueryAsync<UnrealizedPnlFunction, BigInteger>(P.PerpMarket, new UnrealizedPnlFunction { Account = Alice.Address, MarketId = Eth });
        Assert.Equal(Usdc(-0.5m * (2900m - 3000m)), unrealized);
    }

    [Fact]
    public async Task Trade_InvalidInputs_Revert()
    {
        await ExpectRevertAsync(Alice, P.PerpMarket, new PerpTradeFunction { MarketId = 3, SizeDelta = OneUnit }, "unknown market");
        await ExpectRevertAsync(Alice, P.PerpMarket, new PerpTradeFunction { MarketId = Eth, SizeDelta = 0 }, "zero size");
        await SetPriceAsync(P.SpotFeed("ETH"), 0m);
        await ExpectRevertAsync(Alice, P.PerpMarket, new PerpTradeFunction { MarketId = Eth, SizeDelta = OneUnit }, "bad price");
        await ExpectRevertAsync(Alice, P.PerpMarket, new CloseForFunction { Account = Alice.Address, MarketId = Eth }, "not liquidator");
        await ExpectRevertAsync(Alice, P.PerpMarket, new ListMarketFunction { Feed = P.SpotFeed("ETH"), Symbol = "ETH" }, "not owner");
    }

    private static decimal Truncate(decimal value, int decimals)
    {
        var scale = (decimal)Math.Pow(10, decimals);
        return decimal.Truncate(value * scale) / scale;
    }

    private static BigInteger Price(decimal value) => ReferenceProtocolDeployer.ToFeedUnits(value);

    private static void AssertChange(TransactionReceipt receipt, decimal sizeDelta, decimal newSize, decimal entry, decimal tradePrice, decimal pnl)
    {
        var e = Assert.Single(Events<PositionChangedEventDto>(receipt)).Event;
        Assert.Equal(Units18(sizeDelta), e.SizeDelta);
        Assert.Equal(Units18(newSize), e.NewSize);
        Assert.Equal(Price(entry), e.EntryPrice);
        Assert.Equal(Price(tradePrice), e.TradePrice);
        Assert.Equal(Usdc(pnl), e.RealizedPnl);
    }

    private Task<TransactionReceipt> TradeAsync(ChainMargin.Contracts.Devnet.DevAccount account, int marketId, decimal size) =>
        SendAsync(account, P.PerpMarket, new PerpTradeFunction { MarketId = marketId, SizeDelta = Units18(size) });

    private Task<PerpPositionOutputDto> PositionAsync(ChainMargin.Contracts.Devnet.DevAccount account, int marketId) =>
        QueryDtoAsync<PerpPositionOfFunction, PerpPositionOutputDto>(P.PerpMarket, new PerpPositionOfFunction { Account = account.Address, MarketId = marketId });

    private async Task<int[]> OpenMarketsAsync(ChainMargin.Contracts.Devnet.DevAccount account) =>
        (await QueryAsync<OpenMarketsFunction, List<BigInteger>>(P.PerpMarket, new OpenMarketsFunction { Account = account.Address }))
        .Select(id => (int)id).ToArray();

    private Task<BigInteger> InsuranceAsync() =>
        QueryAsync<InsuranceBalanceFunction, BigInteger>(P.Vault, new InsuranceBalanceFunction { Token = P.Usdc });
}
