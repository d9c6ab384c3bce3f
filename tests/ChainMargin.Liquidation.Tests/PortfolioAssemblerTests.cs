using System.Numerics;
using ChainMargin.Core;
using ChainMargin.Liquidation.Portfolio;

namespace ChainMargin.Liquidation.Tests;

public sealed class PortfolioAssemblerTests
{
    private static readonly ChainId A = new(1);
    private static readonly ChainId B = new(2);
    private static readonly EvmAddress Vault = EvmAddress.Parse("0x00000000000000000000000000000000000000aa");
    private static readonly EvmAddress Perp = EvmAddress.Parse("0x00000000000000000000000000000000000000bb");
    private static readonly EvmAddress Weth = EvmAddress.Parse("0x00000000000000000000000000000000000000c1");
    private static readonly EvmAddress EthFeed = EvmAddress.Parse("0x00000000000000000000000000000000000000f1");
    private static readonly EvmAddress Alice = EvmAddress.Parse("0x00000000000000000000000000000000000000a1");

    [Fact]
    public void Assemble_CollateralOnAPerpOnB_IsOneAccountWithBothChainsAndTheirBlocks()
    {
        var registry = new TokenRegistry();
        registry.AddToken(new TokenInfo(A, Weth, "WETH", 18, new AssetId("ETH")));
        registry.AddPriceFeed(B, EthFeed, new AssetId("ETH"));
        var blockA = new BlockRef(A, 10, "0xa");
        var blockB = new BlockRef(B, 20, "0xb");
        var rows = new StoreSnapshot(
            [new CollateralBalance(A, Vault, Alice, Weth, BigInteger.Pow(10, 18) * 3, blockA)],
            [new PerpPositionRow(B, Perp, Alice, 1, BigInteger.Pow(10, 18) * -2, 300_000_000_000, blockB)],
            [],
            [new PerpMarketRow(B, Perp, 1, EthFeed, "ETH")],
            [],
            [],
            new Dictionary<ChainId, BlockRef> { [A] = blockA with { Number = 11 }, [B] = blockB });

        var portfolio = new PortfolioAssembler(registry).Assemble(rows)[Alice];

        var collateral = Assert.Single(portfolio.Collateral);
        Assert.Equal("WETH", collateral.Asset.Symbol);
        Assert.Equal(3.0, collateral.Amount.ToDouble());
        var perp = Assert.Single(portfolio.Perps);
        Assert.Equal("ETH", perp.Underlying.Symbol);
        Assert.Equal(-2.0, perp.Size.ToDouble());
        Assert.Equal(3000.0, perp.EntryPrice.ToDouble());
        Assert.Equal(11, portfolio.Blocks.For(A)!.Value.Number);
        Assert.Equal(20, portfolio.Blocks.For(B)!.Value.Number);
    }

    [Fact]
    public void Assemble_ZeroBalancesAndClosedPositions_AreLeftOut()
    {
        var registry = new TokenRegistry();
        registry.AddToken(new TokenInfo(A, Weth, "WETH", 18, new AssetId("ETH")));
        var block = new BlockRef(A, 1, "0x1");
        var rows = new StoreSnapshot(
            [new CollateralBalance(A, Vault, Alice, Weth, BigInteger.Zero, block)],
            [new PerpPositionRow(A, Perp, Alice, 1, BigInteger.Zero, 0, block)],
            [], [new PerpMarketRow(A, Perp, 1, EthFeed, "ETH")], [], [], new Dictionary<ChainId, BlockRef>());

        Assert.Empty(new PortfolioAssembler(registry).Assemble(rows));
    }
}
