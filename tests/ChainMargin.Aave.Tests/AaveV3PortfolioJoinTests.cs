using ChainMargin.Core;
using ChainMargin.Host.Aave;
using ChainMargin.Risk;
using ChainMargin.Risk.Aave;
using Xunit;
using Xunit.Abstractions;

namespace ChainMargin.Aave.Tests;

/// <summary>
/// Aave positions join the cross-chain portfolio: supplied collateral and borrows of the Aave chain sit next to a
/// position on another chain; the account's report shows Aave's own health on its chain (equal to the Pool's) and the
/// margin engine's cross-chain health.
/// </summary>
public sealed class AaveV3PortfolioJoinTests(ITestOutputHelper output)
{
    [Fact]
    public async Task AavePositions_JoinThePortfolio_WithVenueHealthBesideCrossChainHealth()
    {
        await using var m = await AaveTestMarket.StartAsync(31_405, output);
        await m.AddUserAsync("dave", ("USDC", 100_000m));
        await m.AddUserAsync("bob", ("WETH", 10m));
        await m.SupplyAsync("dave", "USDC", 100_000m);
        await m.SupplyAsync("bob", "WETH", 10m);
        await m.BorrowAsync("bob", "USDC", 20_000m);
        var snapshot = await m.AssertIndexerMatchesPoolAsync("bob borrowed");

        var chain = new ChainId(m.Node.ChainId);
        var result = AaveV3AccountCalculator.Calculate(AaveV3Inputs.Market(snapshot), AaveV3Inputs.User(snapshot, m.Address("bob")));
        var symbols = m.Deployment.Reserves.ToDictionary(r => r.Asset, r => new AssetId(r.Symbol));
        var view = AaveV3Portfolio.ToPortfolio(chain, snapshot.Block, result, a => symbols.TryGetValue(a, out var id) ? id : null);

        // Another chain: 5,000 USDC of collateral at the reference venue.
        var otherChain = new ChainId(31_406);
        var otherBlock = new BlockRef(otherChain, 10, "0x" + new string('b', 64));
        var portfolio = new Portfolio(
            m.Address("bob"), [m.Address("bob")],
            [.. view.Collateral, new PortfolioCollateral(otherChain, "reference", new AssetId("USDC"), new TokenAmount(5_000_000_000, 6), otherBlock)],
            view.Debts, [], [], [view.Health], new BlockVector([snapshot.Block, otherBlock]));

        var onChain = (await m.Indexer.Reader.ReadAccountDataAsync([m.Address("bob")], snapshot.Block.Number, CancellationToken.None))[0];
        Assert.Equal(Units.ToReported(Units.ToDouble(onChain.HealthFactor, 18), 6), Assert.Single(portfolio.VenueHealth).Health);
        Assert.Equal("WETH", Assert.Single(view.Collateral).Asset.Symbol);
        Assert.Equal(8250, Assert.Single(view.CollateralTerms).LiquidationThreshold);

        var prices = new Dictionary<AssetId, AssetPrice>();
        foreach (var (symbol, usd) in new[] { ("USDC", 1m), ("WETH", 3000m), ("ETH", 3000m), ("WBTC", 60000m), ("BTC", 60000m) })
        {
            prices[new AssetId(symbol)] = new AssetPrice(new AssetId(symbol), usd, PriceStatus.Safe, null, [snapshot.Block]);
        }

        var market = new MarketSnapshot(DateTimeOffset.FromUnixTimeSeconds(snapshot.Market.Timestamp), prices, new Dictionary<AssetId, AssetVolatility>(), new Dictionary<ChainId, string>());
        var report = MarginEngine.Compute(portfolio, market, RiskConfig.CreateDefault());
        var cross = report.Method(MarginMethods.Cross);
        Assert.NotNull(cross.Health);
        Assert.Contains(cross.Chains, c => c.Chain == chain);
        Assert.Contains(cross.Chains, c => c.Chain == otherChain);
        Assert.Contains(cross.Positions, p => p.Kind == "debt" && p.Venue == AaveV3Portfolio.Venue);
        output.WriteLine($"Aave health on chain {chain}: {portfolio.VenueHealth[0].Health}; cross-chain ({cross.Method}) health: {cross.Health}; headline {report.Headline.Method} {report.Headline.Health}");
    }
}
