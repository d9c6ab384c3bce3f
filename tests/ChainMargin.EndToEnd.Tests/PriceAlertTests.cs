using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace ChainMargin.EndToEnd.Tests;

/// <summary>
/// Price alerts through the API on three devnet chains: ETH dropped on chain A alone raises a disagreement (and a jump
/// on chain A), once however often it is seen, in /v1/alerts and /metrics; putting the price back clears them.
/// </summary>
public sealed class PriceAlertTests : CrossChainScenario
{
    protected override ulong FirstChainId => 66001;

    protected override bool UsePostgres => false;

    protected override bool FastPath => true;

    [Fact]
    public async Task Alerts_ChainsDisagreeThenAgree_RaisedOnceAndCleared()
    {
        Assert.DoesNotContain(await AlertsAsync(active: true), a => a.GetProperty("kind").GetString() == "price-disagreement");

        await DropEthPriceOnChainAAsync(1000m);
        await WaitAsync(async () => (await AlertsAsync(active: true)).Any(a => a.GetProperty("kind").GetString() == "price-disagreement"), "the disagreement alert");

        // Every recompute and read sees the condition again: still one alert, seen more than once.
        for (var i = 0; i < 3; i++)
        {
            await HealthAsync();
        }

        var active = await AlertsAsync(active: true);
        var disagreement = Assert.Single(active, a => a.GetProperty("kind").GetString() == "price-disagreement");
        Assert.Equal("ETH", disagreement.GetProperty("asset").GetString());
        Assert.Contains("disagree", disagreement.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.True(disagreement.GetProperty("seen").GetInt64() > 1);
        Assert.True(disagreement.GetProperty("raisedAt").GetDateTimeOffset() <= disagreement.GetProperty("lastSeenAt").GetDateTimeOffset());
        var jump = Assert.Single(active, a => a.GetProperty("kind").GetString() == "price-jump");
        Assert.Equal(Chains[0].ChainId, jump.GetProperty("chain").GetUInt64());
        Assert.Equal("ETH", jump.GetProperty("asset").GetString());

        var metrics = await Http.GetStringAsync("/metrics");
        Assert.Contains("chainmargin_alerts_raised_total{kind=\"price-disagreement\"} 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains("chainmargin_alerts_active{kind=\"price-disagreement\"} 1\n", metrics, StringComparison.Ordinal);

        // Back to 3000: the chains agree (the jump back is one more round; the next round at 3000 has none).
        await DropEthPriceOnChainAAsync(3000m);
        await DropEthPriceOnChainAAsync(3000m);
        await WaitAsync(async () => !(await AlertsAsync(active: true)).Any(a => a.GetProperty("kind").GetString() is "price-disagreement" or "price-jump"), "the alerts to clear");

        var cleared = (await AlertsAsync(active: false)).Single(a => a.GetProperty("id").GetInt64() == disagreement.GetProperty("id").GetInt64());
        Assert.False(cleared.GetProperty("active").GetBoolean());
        Assert.NotEqual(JsonValueKind.Null, cleared.GetProperty("clearedAt").ValueKind);
        metrics = await Http.GetStringAsync("/metrics");
        Assert.Contains("chainmargin_alerts_raised_total{kind=\"price-disagreement\"} 1\n", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("chainmargin_alerts_active{kind=\"price-disagreement\"}", metrics, StringComparison.Ordinal);

        // Paged, newest first; bad paging is a 400 naming the field.
        var page = await Http.GetFromJsonAsync<JsonElement>("/v1/alerts?pageSize=1&page=1");
        Assert.Equal(1, page.GetProperty("items").GetArrayLength());
        Assert.True(page.GetProperty("total").GetInt32() >= 2);
        var bad = await Http.GetAsync("/v1/alerts?pageSize=0");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("pageSize", (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("field").GetString());
    }

    private async Task<JsonElement[]> AlertsAsync(bool active)
    {
        var page = await Http.GetFromJsonAsync<JsonElement>($"/v1/alerts?active={(active ? "true" : "false")}&pageSize=500");
        return [.. page.GetProperty("items").EnumerateArray()];
    }
}
