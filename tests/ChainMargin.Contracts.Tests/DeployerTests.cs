using System.Numerics;
using ChainMargin.Contracts.Chainlink;
using ChainMargin.Contracts.Erc20;
using ChainMargin.Contracts.Multicall;
using ChainMargin.Contracts.Reference;
using ChainMargin.Testing;
using Nethereum.Contracts;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.RPC.Eth.DTOs;
using Xunit;
using Xunit.Abstractions;

namespace ChainMargin.Contracts.Tests;

public sealed class DeployerTests(AnvilProtocolFixture fixture, ITestOutputHelper output) : ProtocolTestBase(fixture), IClassFixture<AnvilProtocolFixture>
{
    [Fact]
    public async Task DeployAsync_FreshChain_EveryContractHasCodeAndIsWired()
    {
        var web3 = Web3For(Deployer);
        var addresses = P.Tokens.Select(t => t.Address).Concat(P.Feeds.Select(f => f.Address))
            .Concat([P.Vault, P.PerpMarket, P.OptionMarket, P.Liquidator, P.Multicall3]).ToArray();
        Assert.Equal(addresses.Length, addresses.Distinct().Count());
        foreach (var address in addresses)
        {
            var code = await web3.Eth.GetCode.SendRequestAsync(address);
            Assert.True(code.Length > 2, $"no code at {address}");
        }

        Assert.Equal(6, await QueryAsync<DecimalsFunction, byte>(P.Usdc, new DecimalsFunction()));
        Assert.Equal(8, await QueryAsync<DecimalsFunction, byte>(P.Wbtc, new DecimalsFunction()));
        Assert.Equal(18, await QueryAsync<DecimalsFunction, byte>(P.Weth, new DecimalsFunction()));
        Assert.Equal(P.Usdc, (await QueryAsync<SettlementTokenFunction, string>(P.Vault, new SettlementTokenFunction())).ToLowerInvariant());
        var collateral = await QueryAsync<CollateralTokensFunction, List<string>>(P.Vault, new CollateralTokensFunction());
        Assert.Equal(P.Tokens.Select(t => t.Address), collateral.Select(a => a.ToLowerInvariant()));
        foreach (var market in new[] { P.PerpMarket, P.OptionMarket, P.Liquidator })
        {
            Assert.True(await QueryAsync<IsMarketFunction, bool>(P.Vault, new IsMarketFunction { Market = market }));
        }

        Assert.Equal(Fixture.Options.InsuranceUsdc, await QueryAsync<InsuranceBalanceFunction, BigInteger>(P.Vault, new InsuranceBalanceFunction { Token = P.Usdc }));
        Assert.Equal(Fixture.Options.InsuranceUsdc, await TokenBalanceAsync(P.Usdc, P.Vault));
        Assert.Equal(P.RiskSigner, (await QueryAsync<RiskSignerFunction, string>(P.Liquidator, new RiskSignerFunction())).ToLowerInvariant());
        Assert.Equal(P.BonusBps, (int)await QueryAsync<BonusBpsFunction, BigInteger>(P.Liquidator, new BonusBpsFunction()));
    }

    [Fact]
    public async Task DeployAsync_PerpMarketsAndFeeds_AreListedWithTheirSymbols()
    {
        Assert.Equal(2, (int)await QueryAsync<MarketCountFunction, BigInteger>(P.PerpMarket, new MarketCountFunction()));
        foreach (var market in P.PerpMarkets)
        {
            var listed = await QueryDtoAsync<PerpMarketFunction, PerpMarketOutputDto>(P.PerpMarket, new PerpMarketFunction { MarketId = market.MarketId });
            Assert.Equal(market.Underlying, listed.Symbol);
            Assert.Equal(market.Feed, listed.Feed.ToLowerInvariant());
            Assert.Equal(P.SpotFeed(market.Underlying), market.Feed);
            Assert.Equal(BigInteger.Pow(10, 20), listed.PnlScale);
        }

        var eth = await QueryDtoAsync<LatestRoundDataFunction, RoundDataOutputDto>(P.SpotFeed("ETH"), new LatestRoundDataFunction());
        Assert.Equal(new BigInteger(3000_00000000), eth.Answer);
        var vol = await QueryDtoAsync<LatestRoundDataFunction, RoundDataOutputDto>(P.VolFeed("ETH"), new LatestRoundDataFunction());
        Assert.Equal(new BigInteger(80000000), vol.Answer);
        Assert.Equal("USDC / USD", await QueryAsync<DescriptionFunction, string>(P.SpotFeed("USDC"), new DescriptionFunction()));
    }

    /// <summary>
    /// A warm deployment (the process has already deployed once, so no JIT) must take well under 2 s. The best of two
    /// runs is taken so one scheduling stall on a loaded 2-core CI box does not fail it; waiting for each receipt with
    /// Nethereum's polling would take several seconds and fail every time.
    /// </summary>
    [Fact]
    public async Task DeployAsync_WarmDeployment_TakesWellUnderTwoSeconds()
    {
        var best = TimeSpan.MaxValue;
        var vaults = new HashSet<string> { P.Vault };
        for (var run = 0; run < 2; run++)
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var again = await ReferenceProtocolDeployer.DeployAsync(Fixture.RpcUrl, Deployer.PrivateKey, Fixture.ChainId);
            best = watch.Elapsed < best ? watch.Elapsed : best;
            Assert.True(vaults.Add(again.Vault));
        }

        output.WriteLine($"cold deployment {Fixture.DeployTime.TotalMilliseconds:F0} ms (blocks {P.DeployedFromBlock}-{P.DeployedToBlock}), best warm {best.TotalMilliseconds:F0} ms");
        Assert.True(best < TimeSpan.FromSeconds(2), $"warm deployment took {best.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public void DeployedProtocol_Json_RoundTrips()
    {
        var json = P.ToJson();
        var back = DeployedProtocol.FromJson(json);
        Assert.Equal(json, back.ToJson());
        Assert.Equal(P.Usdc, back.Usdc);
        Assert.Equal(P.PerpMarketFor("BTC"), back.PerpMarketFor("BTC"));
        Assert.Contains("\"liquidator\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Multicall3_AtCanonicalAddress_AggregatesAndReportsFailures()
    {
        var decimals = new DecimalsFunction().GetCallData();
        var calls = new List<Call3>
        {
            new() { Target = P.Usdc, CallData = decimals },
            new() { Target = P.Weth, CallData = decimals },
            // A call to the perp market's decimals() does not exist and must fail without failing the batch.
            new() { Target = P.PerpMarket, AllowFailure = true, CallData = decimals },
        };
        var results = await QueryDtoAsync<Aggregate3Function, ResultsOutputDto>(Multicall3Address.Canonical, new Aggregate3Function { Calls = calls });
        Assert.Equal(3, results.ReturnData.Count);
        Assert.True(results.ReturnData[0].Success);
        Assert.Equal(6, (int)new BigInteger(results.ReturnData[0].ReturnData, isUnsigned: true, isBigEndian: true));
        Assert.Equal(18, (int)new BigInteger(results.ReturnData[1].ReturnData, isUnsigned: true, isBigEndian: true));
        Assert.False(results.ReturnData[2].Success);

        calls[2].AllowFailure = false;
        await Assert.ThrowsAnyAsync<Exception>(() => QueryDtoAsync<Aggregate3Function, ResultsOutputDto>(Multicall3Address.Canonical, new Aggregate3Function { Calls = calls }));

        var block = await Fixture.Rpc.BlockAsync();
        Assert.Equal(block.Number, (long)await QueryAsync<GetBlockNumberFunction, BigInteger>(Multicall3Address.Canonical, new GetBlockNumberFunction()));
        Assert.Equal(block.Timestamp, (long)await QueryAsync<GetCurrentBlockTimestampFunction, BigInteger>(Multicall3Address.Canonical, new GetCurrentBlockTimestampFunction()));
        var hash = await QueryAsync<GetBlockHashFunction, byte[]>(Multicall3Address.Canonical, new GetBlockHashFunction { BlockNumber = block.Number - 1 });
        Assert.Equal((await Fixture.Rpc.BlockAsync(block.Number - 1)).Hash, hash.ToHex(prefix: true));
        var balance = await Web3For(Deployer).Eth.GetBalance.SendRequestAsync(Keeper.Address);
        Assert.Equal(balance.Value, await QueryAsync<GetEthBalanceFunction, BigInteger>(Multicall3Address.Canonical, new GetEthBalanceFunction { Account = Keeper.Address }));
        Assert.Equal(new BigInteger(Fixture.ChainId), await QueryAsync<GetChainIdFunction, BigInteger>(Multicall3Address.Canonical, new GetChainIdFunction()));
    }

    [Fact]
    public async Task Multicall3_Aggregate_ReturnsBlockNumberAndData()
    {
        var calls = new List<MulticallCall>
        {
            new() { Target = P.Usdc, CallData = new SymbolFunction().GetCallData() },
            new() { Target = P.SpotFeed("BTC"), CallData = new LatestRoundDataFunction().GetCallData() },
        };
        var result = await QueryDtoAsync<AggregateFunction, AggregateOutputDto>(Multicall3Address.Canonical, new AggregateFunction { Calls = calls });
        Assert.Equal(await Fixture.Rpc.BlockNumberAsync(), (long)result.BlockNumber);
        var round = new RoundDataOutputDto();
        new Nethereum.ABI.FunctionEncoding.FunctionCallDecoder().DecodeFunctionOutput(round, result.ReturnData[1].ToHex(prefix: true));
        Assert.Equal(new BigInteger(60000_00000000), round.Answer);
    }

    [Fact]
    public async Task PriceFeed_SetAnswerAndSetRoundData_NewRoundsWithChainlinkEvents()
    {
        var feed = P.SpotFeed("ETH");
        var receipt = await SetPriceAsync(feed, 3100.5m);
        var block = await Fixture.Rpc.BlockAsync();
        var updated = Assert.Single(Events<AnswerUpdatedEventDto>(receipt)).Event;
        Assert.Equal(new BigInteger(3100_50000000), updated.Current);
        Assert.Equal(2, (int)updated.RoundId);
        Assert.Equal(block.Timestamp, (long)updated.UpdatedAt);
        var round = Assert.Single(Events<NewRoundEventDto>(receipt)).Event;
        Assert.Equal(2, (int)round.RoundId);
        Assert.Equal(Deployer.Address, round.StartedBy.ToLowerInvariant());

        var staleAt = block.Timestamp - 7200;
        await SendAsync(Deployer, feed, new SetRoundDataFunction { Answer = 2900_00000000, UpdatedAt = staleAt });
        var latest = await QueryDtoAsync<LatestRoundDataFunction, RoundDataOutputDto>(feed, new LatestRoundDataFunction());
        Assert.Equal(3, (int)latest.RoundId);
        Assert.Equal(staleAt, (long)latest.UpdatedAt);
        Assert.Equal(new BigInteger(2900_00000000), latest.Answer);
        Assert.Equal(latest.RoundId, latest.AnsweredInRound);

        var second = await QueryDtoAsync<GetRoundDataFunction, RoundDataOutputDto>(feed, new GetRoundDataFunction { RoundId = 2 });
        Assert.Equal(new BigInteger(3100_50000000), second.Answer);
        var error = await Assert.ThrowsAnyAsync<Exception>(() => QueryDtoAsync<GetRoundDataFunction, RoundDataOutputDto>(feed, new GetRoundDataFunction { RoundId = 4 }));
        Assert.Contains("No data present", error.ToString(), StringComparison.Ordinal);
        await ExpectRevertAsync(Alice, feed, new SetAnswerFunction { Answer = 1 }, "not owner");
    }

    [Fact]
    public async Task Block_AfterDeployment_IsMinedByAutomine()
    {
        var web3 = Web3For(Deployer);
        var latest = await web3.Eth.Blocks.GetBlockWithTransactionsHashesByNumber.SendRequestAsync(BlockParameter.CreateLatest());
        Assert.True((long)latest.Number.Value >= P.DeployedToBlock);
        Assert.True(P.DeployedFromBlock <= P.DeployedToBlock);
    }
}
