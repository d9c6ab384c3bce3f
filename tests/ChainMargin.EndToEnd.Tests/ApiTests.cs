using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using ChainMargin.Host.Composition;
using Microsoft.Extensions.Configuration;

namespace ChainMargin.EndToEnd.Tests;

/// <summary>One running service over three chains on SQLite, shared by the API tests below (they only read).</summary>
public sealed class ApiFixture : CrossChainScenario
{
    protected override ulong FirstChainId => 63001;

    protected override bool UsePostgres => false;

    protected override bool FastPath => true;

    // Every move of at least the sampling step is sampled, however soon after the last sample.
    protected override IEnumerable<string> ExtraArgs => ["--HealthHistory:MinInterval=00:00:00"];

    /// <summary>Sets ETH on chain A's feed (the dashboard test moves prices; the API tests only read).</summary>
    public Task DropEthPriceAsync(decimal usd) => DropEthPriceOnChainAAsync(usd);
}

public sealed class ApiTests : IClassFixture<ApiFixture>
{
    private readonly ApiFixture _app;

    public ApiTests(ApiFixture app) => _app = app;

    private HttpClient Http => _app.Http;

    [Fact]
    public async Task WhatIf_EthDropOfHalf_LowersHealth()
    {
        var now = await Http.GetFromJsonAsync<JsonElement>($"/v1/accounts/{ApiFixture.Trader.Address}/health");
        using var body = new StringContent("{\"spot\":{\"ETH\":-0.5},\"volatility\":{\"ETH\":0.5}}", Encoding.UTF8, "application/json");
        var response = await Http.PostAsync($"/v1/accounts/{ApiFixture.Trader.Address}/what-if", body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var shocked = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(shocked.GetProperty("health").GetDecimal() < now.GetProperty("health").GetDecimal());
    }

    [Fact]
    public async Task WhatIf_ShockBelowMinusOne_Is400NamingTheField()
    {
        using var body = new StringContent("{\"spot\":{\"ETH\":-1.5}}", Encoding.UTF8, "application/json");
        var response = await Http.PostAsync($"/v1/accounts/{ApiFixture.Trader.Address}/what-if", body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("spot.ETH", problem.GetProperty("field").GetString());
    }

    [Theory]
    [InlineData("/v1/at-risk?pageSize=0", "pageSize")]
    [InlineData("/v1/at-risk?page=0", "page")]
    [InlineData("/v1/at-risk?state=broke", "state")]
    [InlineData("/v1/at-risk?chain=999", "chain")]
    [InlineData("/v1/chains/abc", "chainId")]
    [InlineData("/v1/accounts/not-an-address/positions", "address")]
    public async Task BadInput_Is400NamingTheField(string url, string field)
    {
        var response = await Http.GetAsync(url);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(field, problem.GetProperty("field").GetString());
    }

    [Fact]
    public async Task Chains_UnknownChain_Is404AndKnownChainIsCaughtUp()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync("/v1/chains/424242")).StatusCode);
        var chain = await Http.GetFromJsonAsync<JsonElement>($"/v1/chains/{_app.Chains[0].ChainId}");
        Assert.Equal(0, chain.GetProperty("lagBlocks").GetInt64());
        Assert.False(chain.GetProperty("stale").GetBoolean());
    }

    [Fact]
    public async Task Positions_ShowCollateralOnAAndPerpOnB()
    {
        var positions = await Http.GetFromJsonAsync<JsonElement>($"/v1/accounts/{ApiFixture.Trader.Address}/positions");
        var rows = positions.GetProperty("positions").EnumerateArray().ToArray();
        Assert.Contains(rows, r => r.GetProperty("chain").GetUInt64() == _app.Chains[0].ChainId && r.GetProperty("asset").GetString() == "WETH");
        Assert.Contains(rows, r => r.GetProperty("chain").GetUInt64() == _app.Chains[1].ChainId && r.GetProperty("kind").GetString()!.Contains("perp", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Metrics_ExposeLagPerChainInPrometheusFormat()
    {
        var text = await Http.GetStringAsync("/metrics");
        foreach (var chain in _app.Chains)
        {
            Assert.Contains($"chainmargin_head_lag_blocks{{chain=\"{chain.ChainId}\"", text, StringComparison.Ordinal);
        }

        Assert.Contains("# TYPE chainmargin_events_indexed_total counter", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenApi_DocumentListsTheHealthEndpoint()
    {
        var doc = await Http.GetStringAsync("/openapi/v1.json");
        Assert.Contains("/v1/accounts/{address}/health", doc, StringComparison.Ordinal);
    }

    [Fact]
    public void Configuration_UnknownKey_FailsNamingIt()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "sqlite",
            ["Storage:ConectionString"] = "x",
            ["Chains:0:Contracts:Valut"] = "0x0000000000000000000000000000000000000001",
        }).Build();
        var unknown = ConfigurationKeys.Unknown(config);
        Assert.Contains(unknown, u => u.StartsWith("Storage:ConectionString", StringComparison.Ordinal));
        Assert.Contains(unknown, u => u.StartsWith("Chains:0:Contracts:Valut", StringComparison.Ordinal));
        Assert.Equal(2, unknown.Count);
    }
}
