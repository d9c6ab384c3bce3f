using ChainMargin.Host.Composition;
using ChainMargin.Liquidation.Oracles;
using ChainMargin.Liquidation.Portfolio;
using Microsoft.Extensions.Configuration;

namespace ChainMargin.Liquidation.Tests.Oracles;

public sealed class PriceSafetyOptionsTests
{
    [Fact]
    public void Bind_RepositoryConfig_IsAcceptedAndValid()
    {
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(ChainMarginConfiguration.ConfigDirectory(), "chainmargin.json"))
            .Build();

        Assert.DoesNotContain(ConfigurationKeys.Unknown(configuration), e => e.StartsWith("Prices", StringComparison.Ordinal));
        var options = configuration.GetSection("Prices").Get<PriceSafetyOptions>()!;
        Assert.Empty(options.Validate());
        Assert.Equal(10_000_000m, options.Feeds["ETH"].MaxAnswer);
    }

    [Fact]
    public void Bind_MisspeltFeedKeyAndBadValues_AreRefusedByName()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Prices:Feeds:ETH:MaxAnwser"] = "5",
            ["Prices:Feeds:BTC:MinAnswer"] = "10",
            ["Prices:Feeds:BTC:MaxAnswer"] = "5",
            ["Prices:Feeds:BTC:Chains:arbitrum:HeartbeatSeconds"] = "0",
        }).Build();

        Assert.Contains(ConfigurationKeys.Unknown(configuration), e => e.StartsWith("Prices:Feeds:ETH:MaxAnwser", StringComparison.Ordinal));
        var errors = configuration.GetSection("Prices").Get<PriceSafetyOptions>()!.Validate();
        Assert.Contains("Prices:Feeds:BTC:MaxAnswer must be above MinAnswer", errors);
        Assert.Contains("Prices:Feeds:BTC:Chains:arbitrum is not a chain id", errors);
        Assert.Contains("Prices:Feeds:BTC:Chains:arbitrum:HeartbeatSeconds must be positive", errors);
        Assert.Throws<ArgumentException>(() => new MarketSnapshotBuilder(new Core.TokenRegistry(), new PriceSafetyOptions { MaxJumpFraction = 0 }));
    }

    [Fact]
    public void FeedLimits_ChainOverride_WinsOverAssetAndSection()
    {
        var options = new PriceSafetyOptions
        {
            MaxAge = TimeSpan.FromHours(2),
            Feeds = { ["ETH"] = new FeedSafetyOptions { HeartbeatSeconds = 3600, MaxAnswer = 5000, Chains = { ["10"] = new FeedSafetyOptions { HeartbeatSeconds = 1200 } } } },
        };

        var optimism = FeedLimitsFor(options, "ETH", 10);
        var mainnet = FeedLimitsFor(options, "ETH", 1);
        var btc = FeedLimitsFor(options, "BTC", 1);

        Assert.Equal(TimeSpan.FromMinutes(30), optimism.MaxAge);
        Assert.Equal(5000m, optimism.MaxAnswer);
        Assert.Equal(TimeSpan.FromMinutes(70), mainnet.MaxAge);
        Assert.Equal(TimeSpan.FromHours(2), btc.MaxAge);
        Assert.Null(btc.MaxAnswer);
    }

    private static FeedLimits FeedLimitsFor(PriceSafetyOptions options, string asset, ulong chain) =>
        FeedLimits.ForFeed(options, new Core.AssetId(asset), new Core.ChainId(chain));
}
