using System.Numerics;
using ChainMargin.Core;
using ChainMargin.Host.Composition;
using ChainMargin.Liquidation.Accounts;
using ChainMargin.Liquidation.Keeper;
using ChainMargin.Liquidation.Portfolio;
using ChainMargin.Risk;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ChainMargin.Liquidation.Tests.Accounts;

/// <summary>Linked addresses make one portfolio, margined as if one address held everything.</summary>
public sealed class LinkedAccountPortfolioTests
{
    private static readonly ChainId A = new(1);
    private static readonly ChainId B = new(2);
    private static readonly EvmAddress Vault = EvmAddress.Parse("0x00000000000000000000000000000000000000aa");
    private static readonly EvmAddress Perp = EvmAddress.Parse("0x00000000000000000000000000000000000000bb");
    private static readonly EvmAddress Weth = EvmAddress.Parse("0x00000000000000000000000000000000000000c1");
    private static readonly EvmAddress EthFeed = EvmAddress.Parse("0x00000000000000000000000000000000000000f1");
    private static readonly EvmAddress Alice = EvmAddress.Parse("0x00000000000000000000000000000000000000a1");
    private static readonly EvmAddress AliceOnB = EvmAddress.Parse("0x00000000000000000000000000000000000000a2");
    private static readonly EvmAddress Bob = EvmAddress.Parse("0x00000000000000000000000000000000000000b1");

    private static (TokenRegistry Registry, StoreSnapshot Rows) Rows(EvmAddress collateralHolder, EvmAddress perpHolder)
    {
        var registry = new TokenRegistry();
        registry.AddToken(new TokenInfo(A, Weth, "WETH", 18, new AssetId("ETH")));
        registry.AddPriceFeed(B, EthFeed, new AssetId("ETH"));
        var blockA = new BlockRef(A, 10, "0xa");
        var blockB = new BlockRef(B, 20, "0xb");
        var rows = new StoreSnapshot(
            [
                new CollateralBalance(A, Vault, collateralHolder, Weth, BigInteger.Pow(10, 18) * 4, blockA),
                new CollateralBalance(A, Vault, Bob, Weth, BigInteger.Pow(10, 18), blockA),
            ],
            [new PerpPositionRow(B, Perp, perpHolder, 1, BigInteger.Pow(10, 18) * 10, 300_000_000_000, blockB)],
            [],
            [new PerpMarketRow(B, Perp, 1, EthFeed, "ETH")],
            [],
            [],
            new Dictionary<ChainId, BlockRef> { [A] = blockA, [B] = blockB });
        return (registry, rows);
    }

    private static MarketSnapshot Market(decimal eth) => new(
        DateTimeOffset.FromUnixTimeSeconds(1_800_000_000),
        new Dictionary<AssetId, AssetPrice> { [new AssetId("ETH")] = new(new AssetId("ETH"), eth, PriceStatus.Safe, null, []) },
        new Dictionary<AssetId, AssetVolatility>(),
        new Dictionary<ChainId, string>());

    [Fact]
    public void Assemble_CollateralOnAddressAPerpOnAddressB_IsOnePortfolioWithEachHolder()
    {
        var (registry, rows) = Rows(Alice, AliceOnB);
        var groups = AccountGroups.Build([new AccountLink(Alice, AliceOnB, "signed")], out var conflicts);
        Assert.Empty(conflicts);

        var portfolios = new PortfolioAssembler(registry).Assemble(rows, null, groups);

        Assert.Equal([Alice, Bob], portfolios.Keys.Order());
        var alice = portfolios[Alice];
        Assert.Equal([Alice, AliceOnB], alice.Addresses);
        Assert.Equal(Alice, Assert.Single(alice.Collateral).Holder);
        Assert.Equal(AliceOnB, Assert.Single(alice.Perps).Holder);
        Assert.Equal([A, B], alice.Chains);

        // Asking for either address recomputes the whole account.
        Assert.Equal([Alice], new PortfolioAssembler(registry).Assemble(rows, new HashSet<EvmAddress> { AliceOnB }, groups).Keys);
    }

    [Fact]
    public void Margin_LinkedAccount_EqualsTheSamePositionsHeldByOneAddress()
    {
        var config = RiskConfig.CreateDefault();
        var market = RiskMarket.Prepare(Market(3000m), config);
        var (registry, split) = Rows(Alice, AliceOnB);
        var groups = AccountGroups.Build([new AccountLink(Alice, AliceOnB, "signed")], out _);
        var linked = MarginEngine.Compute(new MarginParameters(new PortfolioAssembler(registry).Assemble(split, null, groups)[Alice], market));
        var (_, together) = Rows(Alice, Alice);
        var single = MarginEngine.Compute(new MarginParameters(new PortfolioAssembler(registry).Assemble(together)[Alice], market));

        foreach (var method in new[] { MarginMethods.Cross, MarginMethods.Portfolio, MarginMethods.Dynamic })
        {
            Assert.Equal(single.Method(method).Health, linked.Method(method).Health);
            Assert.Equal(single.Method(method).Maintenance, linked.Method(method).Maintenance);
        }

        // 4 WETH x 3000 x 0.85 against 10 ETH x 3000 x the perp maintenance fraction: cross margin, not two isolated accounts.
        var expected = 4 * 3000 * 0.85 / (10 * 3000 * config.Perps.MaintenanceFraction);
        Assert.Equal((decimal)expected, linked.Method(MarginMethods.Cross).Health!.Value, 6);
        Assert.Equal([Alice, AliceOnB], linked.Addresses);
        var positions = linked.Method(MarginMethods.Cross).Positions;
        Assert.Equal(Alice, positions.Single(p => p.Kind == "collateral").Holder);
        Assert.Equal(AliceOnB, positions.Single(p => p.Kind == "perp").Holder);

        // Unlinked, the perp address alone has no collateral at all.
        var alone = MarginEngine.Compute(new MarginParameters(new PortfolioAssembler(registry).Assemble(split)[AliceOnB], market));
        Assert.True(alone.Method(MarginMethods.Cross).Health < 0.01m);
    }

    [Fact]
    public void LiquidationCandidates_LinkedAccount_AreTheHoldingAddressPerChain()
    {
        var (registry, split) = Rows(Alice, AliceOnB);
        var groups = AccountGroups.Build([new AccountLink(Alice, AliceOnB, "signed")], out _);
        var report = MarginEngine.Compute(new MarginParameters(new PortfolioAssembler(registry).Assemble(split, null, groups)[Alice], RiskMarket.Prepare(Market(800m), RiskConfig.CreateDefault())));

        var candidates = LiquidationCandidate.FromReport(report);

        Assert.Contains(candidates, c => c.Account == Alice && c.Chain == A);
        Assert.Contains(candidates, c => c.Account == AliceOnB && c.Chain == B);
        Assert.Equal(2, candidates.Count);
    }

    [Fact]
    public async Task ConfiguredLinks_BadAddressOrAnAddressInTwoGroups_FailAtStartUpNamingTheKey()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Accounts:Links:0:Primary"] = Alice.Value,
            ["Accounts:Links:0:Linked:0"] = AliceOnB.Value,
            ["Accounts:Links:1:Primary"] = Bob.Value,
            ["Accounts:Links:1:Linked:0"] = AliceOnB.Value,
            ["Accounts:Links:1:Linked:1"] = "0x1234",
        }).Build();

        Assert.Empty(ConfigurationKeys.Unknown(configuration));
        var error = Assert.Throws<InvalidOperationException>(() => new ServiceCollection().AddChainMarginAccounts(configuration)).Message;
        Assert.Contains("Accounts:Links:1:Linked:0", error, StringComparison.Ordinal);
        Assert.Contains("Accounts:Links:1:Linked:1: '0x1234' is not an EVM address", error, StringComparison.Ordinal);

        var misspelt = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Accounts:Links:0:Primay"] = Alice.Value }).Build();
        Assert.Contains(ConfigurationKeys.Unknown(misspelt), e => e.StartsWith("Accounts:Links:0:Primay", StringComparison.Ordinal));

        var good = new AccountOptions { Links = [new AccountLinkGroupOptions { Primary = Alice.Value, Linked = [AliceOnB.Value] }] };
        Assert.Empty(good.Validate());
        Assert.Equal(Alice, (await new AccountDirectory(good.ToLinks(), null).CurrentAsync(CancellationToken.None)).AccountOf(AliceOnB));
    }
}
