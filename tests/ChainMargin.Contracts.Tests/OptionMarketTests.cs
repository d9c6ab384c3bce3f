using System.Numerics;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Contracts.Reference;
using ChainMargin.Testing;
using Nethereum.RPC.Eth.DTOs;
using Xunit;

namespace ChainMargin.Contracts.Tests;

/// <summary>
/// European cash-settled options: premium = |size| x premium per unit; payout at expiry = size x max(S - K, 0) for a
/// call or size x max(K - S, 0) for a put, in USDC (6 decimals), signed so a short pays.
/// </summary>
public sealed class OptionMarketTests(AnvilProtocolFixture fixture) : ProtocolTestBase(fixture), IClassFixture<AnvilProtocolFixture>
{
    [Fact]
    public async Task ListSeries_EmitsSeriesListedAndStoresTheTerms()
    {
        var expiry = await ExpiryInAsync(TimeSpan.FromDays(7));
        var receipt = await SendAsync(Deployer, P.OptionMarket, new ListSeriesFunction
        {
            Feed = P.SpotFeed("BTC"), Symbol = "BTC", Strike = ReferenceProtocolDeployer.ToFeedUnits(65_000m), Expiry = expiry, IsCall = false,
        });
        var listed = Assert.Single(Events<SeriesListedEventDto>(receipt)).Event;
        Assert.Equal(1, (int)listed.SeriesId);
        Assert.Equal("BTC", listed.Symbol);
        Assert.Equal(P.SpotFeed("BTC"), listed.Feed.ToLowerInvariant());
        Assert.Equal(new BigInteger(65_000_00000000), listed.Strike);
        Assert.Equal(expiry, listed.Expiry);
        Assert.False(listed.IsCall);

        var stored = await QueryDtoAsync<OptionSeriesFunction, OptionSeriesOutputDto>(P.OptionMarket, new OptionSeriesFunction { SeriesId = 1 });
        Assert.Equal(expiry, stored.Expiry);
        await ExpectRevertAsync(Alice, P.OptionMarket, new ListSeriesFunction { Feed = P.SpotFeed("BTC"), Symbol = "BTC", Strike = 1, Expiry = expiry, IsCall = true }, "not owner");
    }

    [Fact]
    public async Task Trade_BuyPaysAndSellReceivesThePremium()
    {
        var call = await ListAsync(3000m, isCall: true, TimeSpan.FromDays(1));
        await FundAndDepositAsync(Alice, P.Usdc, Usdc(1_000m));

        var buy = await TradeAsync(Alice, call, 2.5m, premiumPerUnit: 123.456789m);
        var premium = 2.5m * 123.456789m; // 308.6419725 -> 308.641972 (truncated)
        var traded = Assert.Single(Events<OptionTradedEventDto>(buy)).Event;
        Assert.Equal(Units18(2.5m), traded.SizeDelta);
        Assert.Equal(Units18(2.5m), traded.NewSize);
        Assert.Equal(Usdc(308.641972m), traded.Premium);
        Assert.Equal(-Usdc(308.641972m), Assert.Single(Events<PnlSettledEventDto>(buy)).Event.Amount);
        Assert.Equal(Usdc(1_000m) - Usdc(308.641972m), await VaultBalanceAsync(Alice.Address, P.Usdc));
        Assert.True(premium > 308.641972m);

        var sell = await TradeAsync(Alice, call, -1m, premiumPerUnit: 150m);
        Assert.Equal(Units18(1.5m), Assert.Single(Events<OptionTradedEventDto>(sell)).Event.NewSize);
        Assert.Equal(Usdc(150m), Assert.Single(Events<PnlSettledEventDto>(sell)).Event.Amount);
        Assert.Equal(Usdc(1_000m - 308.641972m + 150m), await VaultBalanceAsync(Alice.Address, P.Usdc));
        Assert.Equal(Units18(1.5m), await PositionAsync(Alice, call));

        // A buyer must be able to pay: premiums never become bad debt.
        await ExpectRevertAsync(Bob, P.OptionMarket, new OptionTradeFunction { SeriesId = call, SizeDelta = OneUnit, PremiumPerUnit = Usdc(1m) }, "insufficient collateral");
    }

    [Fact]
    public async Task Settle_CallInTheMoneyAndPutOutOfTheMoney()
    {
        var call = await ListAsync(3000m, isCall: true, TimeSpan.FromDays(1));
        var put = await ListAsync(2800m, isCall: false, TimeSpan.FromDays(1));
        await FundAndDepositAsync(Alice, P.Usdc, Usdc(5_000m));
        await TradeAsync(Alice, call, 2m, premiumPerUnit: 100m);
        await TradeAsync(Alice, put, 1m, premiumPerUnit: 50m);
        var balance = await VaultBalanceAsync(Alice.Address, P.Usdc);
        Assert.Equal(Usdc(5_000m - 250m), balance);

        await ExpectRevertAsync(Bob, P.OptionMarket, new SettleFunction { SeriesId = call, Account = Alice.Address }, "not expired");
        await PassExpiryAsync(call);
        // The last round predates expiry, so it cannot settle.
        await ExpectRevertAsync(Bob, P.OptionMarket, new SettleFunction { SeriesId = call, Account = Alice.Address }, "no price after expiry");
        await ExpectRevertAsync(Alice, P.OptionMarket, new OptionTradeFunction { SeriesId = call, SizeDelta = OneUnit, PremiumPerUnit = 0 }, "expired");
        await SetPriceAsync(P.SpotFeed("ETH"), 3456.78m);

        // Anyone may settle; the payout goes to the holder: 2 x (3456.78 - 3000) = 913.56.
        var settledCall = await SettleAsync(Bob, call, Alice);
        AssertSettled(settledCall, size: 2m, price: 3456.78m, payout: 913.56m);
        Assert.Equal(Usdc(913.56m), Assert.Single(Events<PnlSettledEventDto>(settledCall)).Event.Amount);

        // Put struck at 2800 with S = 3456.78: worthless, nothing is paid, the position still closes.
        var settledPut = await SettleAsync(Bob, put, Alice);
        AssertSettled(settledPut, size: 1m, price: 3456.78m, payout: 0m);
        Assert.Empty(Events<PnlSettledEventDto>(settledPut));

        Assert.Equal(balance + Usdc(913.56m), await VaultBalanceAsync(Alice.Address, P.Usdc));
        Assert.Equal(BigInteger.Zero, await PositionAsync(Alice, call));
        Assert.Equal(BigInteger.Zero, await PositionAsync(Alice, put));
        await ExpectRevertAsync(Bob, P.OptionMarket, new SettleFunction { SeriesId = call, Account = Alice.Address }, "no position");
    }

    [Fact]
    public async Task Settle_PutInTheMoneyAndCallOutOfTheMoney_ShortPays()
    {
        var put = await ListAsync(3000m, isCall: false, TimeSpan.FromHours(2));
        var call = await ListAsync(3200m, isCall: true, TimeSpan.FromHours(2));
        await FundAndDepositAsync(Alice, P.Usdc, Usdc(2_000m));
        await FundAndDepositAsync(Bob, P.Usdc, Usdc(2_000m));
        await TradeAsync(Alice, put, 1.5m, premiumPerUnit: 80m);   // long put
        await TradeAsync(Bob, put, -1.5m, premiumPerUnit: 80m);    // short put
        await TradeAsync(Bob, call, -0.75m, premiumPerUnit: 20m);  // short call
        var alice0 = await VaultBalanceAsync(Alice.Address, P.Usdc);
        var bob0 = await VaultBalanceAsync(Bob.Address, P.Usdc);
        Assert.Equal(Usdc(2_000m + 120m + 15m), bob0);

        await PassExpiryAsync(put);
        await SetPriceAsync(P.SpotFeed("ETH"), 2543.21m);

        // 1.5 x (3000 - 2543.21) = 685.185 to the long, from the short.
        AssertSettled(await SettleAsync(Alice, put, Alice), size: 1.5m, price: 2543.21m, payout: 685.185m);
        var shortPut = await SettleAsync(Alice, put, Bob);
        AssertSettled(shortPut, size: -1.5m, price: 2543.21m, payout: -685.185m);
        Assert.Equal(-Usdc(685.185m), Assert.Single(Events<PnlSettledEventDto>(shortPut)).Event.Amount);
        AssertSettled(await SettleAsync(Alice, call, Bob), size: -0.75m, price: 2543.21m, payout: 0m);

        Assert.Equal(alice0 + Usdc(685.185m), await VaultBalanceAsync(Alice.Address, P.Usdc));
        Assert.Equal(bob0 - Usdc(685.185m), await VaultBalanceAsync(Bob.Address, P.Usdc));
    }

    private static void AssertSettled(TransactionReceipt receipt, decimal size, decimal price, decimal payout)
    {
        var e = Assert.Single(Events<OptionSettledEventDto>(receipt)).Event;
        Assert.Equal(Units18(size), e.Size);
        Assert.Equal(ReferenceProtocolDeployer.ToFeedUnits(price), e.SettlementPrice);
        Assert.Equal(Usdc(payout), e.Payout);
    }

    private async Task<ulong> ExpiryInAsync(TimeSpan span) => (ulong)((await Fixture.Rpc.BlockAsync()).Timestamp + (long)span.TotalSeconds);

    private async Task<int> ListAsync(decimal strike, bool isCall, TimeSpan expiresIn)
    {
        var receipt = await SendAsync(Deployer, P.OptionMarket, new ListSeriesFunction
        {
            Feed = P.SpotFeed("ETH"), Symbol = "ETH", Strike = ReferenceProtocolDeployer.ToFeedUnits(strike),
            Expiry = await ExpiryInAsync(expiresIn), IsCall = isCall,
        });
        return (int)Assert.Single(Events<SeriesListedEventDto>(receipt)).Event.SeriesId;
    }

    private async Task PassExpiryAsync(int seriesId)
    {
        var series = await QueryDtoAsync<OptionSeriesFunction, OptionSeriesOutputDto>(P.OptionMarket, new OptionSeriesFunction { SeriesId = seriesId });
        await Fixture.Rpc.SetNextBlockTimestampAsync((long)series.Expiry + 60);
        await Fixture.Rpc.MineAsync();
    }

    private Task<TransactionReceipt> TradeAsync(DevAccount account, int seriesId, decimal size, decimal premiumPerUnit) =>
        SendAsync(account, P.OptionMarket, new OptionTradeFunction { SeriesId = seriesId, SizeDelta = Units18(size), PremiumPerUnit = Usdc(premiumPerUnit) });

    private Task<TransactionReceipt> SettleAsync(DevAccount caller, int seriesId, DevAccount account) =>
        SendAsync(caller, P.OptionMarket, new SettleFunction { SeriesId = seriesId, Account = account.Address });

    private Task<BigInteger> PositionAsync(DevAccount account, int seriesId) =>
        QueryAsync<OptionPositionOfFunction, BigInteger>(P.OptionMarket, new OptionPositionOfFunction { Account = account.Address, SeriesId = seriesId });
}
