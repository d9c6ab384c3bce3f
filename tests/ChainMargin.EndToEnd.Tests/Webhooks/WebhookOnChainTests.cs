using System.Net;
using System.Text;
using System.Text.Json;

namespace ChainMargin.EndToEnd.Tests.Webhooks;

/// <summary>
/// The whole path on real chains: a price crash on chain A flags the account through the fast path, and the margin
/// service's state change reaches a subscribed receiver as a signed event with every method and the block vector.
/// </summary>
public sealed class WebhookOnChainTests : CrossChainScenario
{
    private const string Secret = "on-chain-secret-5b1e0f9a77c2";

    protected override ulong FirstChainId => 64001;

    protected override bool UsePostgres => false;

    protected override bool FastPath => true;

    [Fact]
    public async Task PriceCrash_FlagsTheAccount_AndTheSubscriberGetsASignedLiquidatableEvent()
    {
        Environment.SetEnvironmentVariable("CHAINMARGIN_API_KEY", ServiceApp.ApiKey);
        await using var receiver = new WebhookReceiver(Secret, _ => 204);
        using (var create = ServiceApp.Admin(HttpMethod.Post, "/v1/admin/webhooks", $$"""{"url":"{{receiver.Url}}","secret":"{{Secret}}","states":["liquidatable"]}"""))
        {
            Assert.Equal(HttpStatusCode.Created, (await Http.SendAsync(create)).StatusCode);
        }

        await WaitAsync(async () => await CurrentStateAsync() == "healthy", "the first state");
        await DropEthPriceOnChainAAsync(1000m);
        await WaitAsync(() => Task.FromResult(!receiver.Received.IsEmpty), "the webhook", 30);

        var hook = Assert.Single(receiver.Received);
        Assert.True(hook.SignatureValid);
        var body = JsonDocument.Parse(Encoding.UTF8.GetString(hook.Body)).RootElement;
        Assert.Equal(Trader.Address, body.GetProperty("account").GetString(), ignoreCase: true);
        Assert.Equal("healthy", body.GetProperty("from").GetString());
        Assert.Equal("liquidatable", body.GetProperty("to").GetString());
        Assert.True(body.GetProperty("health").GetDecimal() < 1m);
        var methods = body.GetProperty("methods").EnumerateArray().Select(m => m.GetProperty("method").GetString()).ToArray();
        Assert.Contains("isolated", methods);
        Assert.Contains("cross", methods);
        Assert.Contains("portfolio", methods);
        var chains = body.GetProperty("blocks").EnumerateArray().Select(b => b.GetProperty("chainId").GetUInt64()).ToArray();
        Assert.Contains(Chains[0].ChainId, chains);
        Assert.Contains(Chains[1].ChainId, chains);
        Assert.Contains("price-unsafe", body.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }
}
