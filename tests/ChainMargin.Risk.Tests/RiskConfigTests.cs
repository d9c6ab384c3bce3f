using ChainMargin.Core;

namespace ChainMargin.Risk.Tests;

public class RiskConfigTests
{
    private static string RiskJsonPath()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "config", "risk.json");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("config/risk.json not found above the test directory");
    }

    [Fact]
    public void Default_IsValid() => Assert.Empty(RiskConfig.CreateDefault().Validate());

    [Fact]
    public void RiskJson_BindsAndValidates_AndMatchesDefaults()
    {
        var config = RiskConfig.FromJson(File.ReadAllText(RiskJsonPath()));
        Assert.Empty(config.Validate());
        var defaults = RiskConfig.CreateDefault();
        Assert.Equal(0.85, config.Assets["eth"].CollateralWeight);
        Assert.Equal(0.98, config.Assets["USDC"].CollateralWeight);
        Assert.Equal(0.02, config.Assets["USDC"].Variants["usdc.e"].Haircut);
        Assert.Equal(defaults.Perps.MaintenanceFraction, config.Perps.MaintenanceFraction);
        Assert.Equal(defaults.Perps.InitialFraction, config.Perps.InitialFraction);
        Assert.Equal(defaults.Grid.VolShocks, config.Grid.VolShocks);
        Assert.Equal(21, config.Grid.SpotSteps);
        Assert.Equal([0.99, 0.975], config.Var.Confidences);
        Assert.Equal(0.94, config.Var.Lambda);
        Assert.Equal(MarginMethods.Portfolio, config.HeadlineMethod);
    }

    [Theory]
    [InlineData("""{"Risk":{"Assets":{"ETH":{"CollateralWeight":0}}}}""", "Risk:Assets:ETH:CollateralWeight must be in (0,1]")]
    [InlineData("""{"Risk":{"Assets":{"ETH":{"CollateralWeight":1.2}}}}""", "Risk:Assets:ETH:CollateralWeight must be in (0,1]")]
    [InlineData("""{"Risk":{"Assets":{"ETH":{"CollateralWeight":0.8,"Variants":{"WETH":{"Haircut":1}}}}}}""", "Risk:Assets:ETH:Variants:WETH:Haircut")]
    [InlineData("""{"Risk":{"Assets":{"ETH":{"CollateralWeight":0.8}},"Perps":{"MaintenanceFraction":0.06,"InitialFraction":0.05}}}""", "Risk:Perps:InitialFraction must be at least")]
    [InlineData("""{"Risk":{"Assets":{"ETH":{"CollateralWeight":0.8}},"Grid":{"SpotSteps":20}}}""", "Risk:Grid:SpotSteps")]
    [InlineData("""{"Risk":{"Assets":{"ETH":{"CollateralWeight":0.8}},"Var":{"Lambda":1.0}}}""", "Risk:Var:Lambda")]
    [InlineData("""{"Risk":{"Assets":{"ETH":{"CollateralWeight":0.8}},"Var":{"Confidences":[0.99, 1.5]}}}""", "Risk:Var:Confidences:1")]
    [InlineData("""{"Risk":{"Assets":{"ETH":{"CollateralWeight":0.8}},"HeadlineMethod":"best"}}""", "Risk:HeadlineMethod")]
    [InlineData("""{"Risk":{"Assets":{"ETH":{"CollateralWeight":0.8}},"CreditLines":{"bob":100}}}""", "Risk:CreditLines:bob is not an EVM address")]
    [InlineData("""{"Risk":{"Assets":{}}}""", "Risk:Assets must list at least one asset")]
    [InlineData("""{"Risk":{"Assets":{"ETH":{"CollateralWeight":0.8}},"Perps":{"Tiers":[{"NotionalAbove":100,"MaintenanceFraction":0.01,"InitialFraction":0.02}]}}}""", "Risk:Perps:Tiers:0:MaintenanceFraction")]
    public void Validate_BadValue_NamesTheKey(string json, string expected)
    {
        var config = RiskConfig.FromJson(json);
        var errors = config.Validate();
        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Prepare_BadConfig_FailsNamingTheKey()
    {
        var config = RiskConfig.CreateDefault();
        config.Assets["BTC"].CollateralWeight = double.NaN;
        var error = Assert.Throws<RiskConfigException>(() => Fixtures.Prepare(config: config));
        Assert.Contains("Risk:Assets:BTC:CollateralWeight", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Variant_IsPricedAsItsCanonicalAsset_WithItsHaircut()
    {
        var portfolio = Fixtures.Portfolio(
            collateral: [Fixtures.Collateral(Fixtures.ChainA, "USDC.e", 1000m, 6), Fixtures.Collateral(Fixtures.ChainB, "WETH", 1m)],
            perps: [Fixtures.Perp(Fixtures.ChainA, "ETH", 1m, 3000m)]);
        var cross = Fixtures.Compute(portfolio).Method(MarginMethods.Cross);
        Assert.Equal(MarginStatus.Ok, cross.Status);
        Assert.Equal((1000 * 0.98 * 0.98) + (3000 * 0.85), Fixtures.D(cross.Equity), 6);
    }

    [Fact]
    public void UnknownAsset_CountsZero_WithAReason()
    {
        var snapshot = Fixtures.Market(extra: [Fixtures.Price(new AssetId("DOGE"), 0.1m)]);
        var portfolio = Fixtures.Portfolio(
            collateral: [Fixtures.Collateral(Fixtures.ChainA, "DOGE", 1000m), Fixtures.Collateral(Fixtures.ChainA, "USDC", 100m, 6)],
            perps: [Fixtures.Perp(Fixtures.ChainA, "ETH", 0.1m, 3000m)]);
        var cross = Fixtures.Compute(portfolio, Fixtures.Prepare(snapshot)).Method(MarginMethods.Cross);
        Assert.Equal(98, Fixtures.D(cross.Equity), 6);
        Assert.Contains(cross.Reasons, r => r.Contains("no risk parameters for DOGE", StringComparison.Ordinal));
    }
}
