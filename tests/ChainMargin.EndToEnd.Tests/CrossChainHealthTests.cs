using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace ChainMargin.EndToEnd.Tests;

/// <summary>SQLite (the embedded default) with the in-process fast path: a price drop flags the account by itself.</summary>
public sealed class CrossChainHealthOnSqliteTests : CrossChainScenario
{
    protected override ulong FirstChainId => 61001;

    protected override bool UsePostgres => false;

    protected override bool FastPath => true;

    [Fact]
    public async Task Health_CollateralOnAPerpOnB_EqualsConfiguredCrossMargin()
    {
        var health = await HealthAsync();
        var cross = Method(health, "cross");

        // 4 WETH at 3000 USD with the ETH collateral weight, against 10 ETH of perp notional at 3000 x maintenance.
        var eth = Risk.Assets["ETH"];
        var weth = eth.Variants.TryGetValue("WETH", out var v) ? v.Haircut : 0;
        var equity = 4 * 3000 * eth.CollateralWeight * (1 - weth);
        var requirement = 10 * 3000 * Risk.Perps.MaintenanceFraction;
        Assert.Equal("ok", cross.GetProperty("status").GetString());
        Assert.Equal((decimal)(equity / requirement), Number(cross.GetProperty("health")), 4);

        var chains = health.GetProperty("blocks").EnumerateArray().Select(b => b.GetProperty("chainId").GetUInt64()).ToArray();
        Assert.Contains(Chains[0].ChainId, chains);
        Assert.Contains(Chains[1].ChainId, chains);
        Assert.DoesNotContain(Chains[2].ChainId, chains);
        Assert.Equal("healthy", health.GetProperty("state").GetString());
    }

    [Fact]
    public async Task Health_MalformedAddress_Is400NamingTheField()
    {
        var response = await Http.GetAsync("/v1/accounts/0x12345/health");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("address", problem.GetProperty("field").GetString());
        Assert.Contains("0x12345", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PriceDropOnChainA_FastPath_FlagsTheAccountLiquidatable()
    {
        await WaitAsync(async () => await CurrentStateAsync() == "healthy", "the first state");
        await DropEthPriceOnChainAAsync(1000m);
        await WaitAsync(async () => await CurrentStateAsync() == "liquidatable", "the fast path to flag the account", 30);

        var health = await HealthAsync();
        Assert.Equal("liquidatable", health.GetProperty("state").GetString());
        Assert.True(Number(health.GetProperty("health")) < 1m);

        // Only chain A moved: the chains disagree on ETH, so the price is unsafe and the reason says why.
        var reasons = health.GetProperty("reasons").EnumerateArray().Select(r => r.GetString()).ToArray();
        Assert.Contains(reasons, r => r!.Contains("price-unsafe", StringComparison.Ordinal) && r.Contains("disagree", StringComparison.Ordinal));
    }
}

/// <summary>PostgreSQL (the system of record) with the fast path off: the Hangfire sweep alone flags the account.</summary>
public sealed class CrossChainHealthOnPostgresTests : CrossChainScenario
{
    protected override ulong FirstChainId => 62001;

    protected override bool UsePostgres => true;

    protected override bool FastPath => false;

    [Fact]
    public async Task PriceDropOnChainA_HangfireSweep_FlagsTheAccountLiquidatable()
    {
        Environment.SetEnvironmentVariable("CHAINMARGIN_API_KEY", "e2e-key");
        using var sweep = new HttpRequestMessage(HttpMethod.Post, "/v1/admin/sweep");
        sweep.Headers.Add("X-Api-Key", "e2e-key");
        Assert.Equal(HttpStatusCode.Accepted, (await Http.SendAsync(sweep)).StatusCode);
        await WaitAsync(async () => await CurrentStateAsync() == "healthy", "the first sweep");

        await DropEthPriceOnChainAAsync(1000m);
        await WaitAsync(() => Task.FromResult(CaughtUp()), "the price round to be indexed");
        await Task.Delay(500);
        Assert.Equal("healthy", await CurrentStateAsync());

        using var again = new HttpRequestMessage(HttpMethod.Post, "/v1/admin/sweep");
        again.Headers.Add("X-Api-Key", "e2e-key");
        Assert.Equal(HttpStatusCode.Accepted, (await Http.SendAsync(again)).StatusCode);
        await WaitAsync(async () => await CurrentStateAsync() == "liquidatable", "the sweep to flag the account", 30);

        var at = await Http.GetFromJsonAsync<JsonElement>("/v1/at-risk");
        Assert.Contains(at.GetProperty("items").EnumerateArray(), i => string.Equals(i.GetProperty("account").GetString(), Trader.Address, StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task AdminSweep_WithoutKey_IsRefused()
    {
        var response = await Http.PostAsync("/v1/admin/sweep", null);
        Assert.True(response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden);
    }
}
