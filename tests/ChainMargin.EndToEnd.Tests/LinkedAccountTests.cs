using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ChainMargin.Contracts.Accounts;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Host.Devnet;

namespace ChainMargin.EndToEnd.Tests;

/// <summary>
/// Two addresses linked through the API by a message both sign: collateral on address A (chain A), a perp on address B
/// (chain B). Linked, they are one account with the cross-margin health of the same positions held by one address
/// (the scenario's trader holds exactly those).
/// </summary>
public sealed class LinkedAccountTests : CrossChainScenario
{
    private static readonly DevAccount Primary = DevAccounts.Traders[1];
    private static readonly DevAccount Linked = DevAccounts.Traders[2];

    protected override ulong FirstChainId => 65001;

    protected override bool UsePostgres => false;

    protected override bool FastPath => true;

    [Fact]
    public async Task LinkThroughApi_CollateralOnAPerpOnB_IsOneAccountWithTheSingleAddressHealth()
    {
        var a = new DevnetChain("chain0", Chains[0].ChainId, Chains[0].Node.Port);
        var b = new DevnetChain("chain1", Chains[1].ChainId, Chains[1].Node.Port);
        await DemoSeeder.DepositAsync(a, Chains[0].Protocol, Primary, "WETH", Wei(4), CancellationToken.None);
        await DemoSeeder.TradePerpAsync(b, Chains[1].Protocol, Linked, "ETH", Wei(10), CancellationToken.None);

        // Alone, the perp's address has no collateral: the fast path flags it.
        await WaitAsync(async () => await StateOfAsync(Linked.Address) == "liquidatable", "the perp address to be flagged on its own");
        Assert.Contains(Linked.Address, await AtRiskAsync());

        var request = LinkRequest(nonce: 1);
        var response = await Http.PostAsJsonAsync("/v1/accounts/links", request);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);

        // Either address now reads as the account of the primary, with both addresses listed.
        var trader = await HealthAsync();
        var health = await Http.GetFromJsonAsync<JsonElement>($"/v1/accounts/{Linked.Address}/health");
        Assert.Equal(Primary.Address, health.GetProperty("account").GetString());
        Assert.Equal([Primary.Address, Linked.Address], health.GetProperty("addresses").EnumerateArray().Select(x => x.GetString()));
        Assert.Equal(Number(Method(trader, "cross").GetProperty("health")), Number(Method(health, "cross").GetProperty("health")));
        Assert.Equal(Number(Method(trader, "portfolio").GetProperty("health")), Number(Method(health, "portfolio").GetProperty("health")));
        Assert.Equal("healthy", health.GetProperty("state").GetString());

        // The state history of any address of the account is the account's, recorded under its primary.
        var state = await Http.GetFromJsonAsync<JsonElement>($"/v1/accounts/{Linked.Address}/state");
        Assert.Equal(Primary.Address, state.GetProperty("account").GetString());
        Assert.Equal("healthy", await StateOfAsync(Linked.Address));

        var positions = await Http.GetFromJsonAsync<JsonElement>($"/v1/accounts/{Primary.Address}/positions");
        var rows = positions.GetProperty("positions").EnumerateArray().ToArray();
        Assert.Contains(rows, r => r.GetProperty("kind").GetString() == "collateral" && r.GetProperty("holder").GetString() == Primary.Address && r.GetProperty("chain").GetUInt64() == Chains[0].ChainId);
        Assert.Contains(rows, r => r.GetProperty("kind").GetString() == "perp" && r.GetProperty("holder").GetString() == Linked.Address && r.GetProperty("chain").GetUInt64() == Chains[1].ChainId);

        // The group is one account: its linked address's own earlier state is not listed; after a price drop the
        // group is at risk once, under its primary.
        Assert.DoesNotContain(Linked.Address, await AtRiskAsync());
        await DropEthPriceOnChainAAsync(1000m);
        // One recompute flags both, but it records the accounts' states in parallel: wait for both.
        await WaitAsync(async () => await StateOfAsync(Primary.Address) == "liquidatable", "the linked account to be flagged");
        await WaitAsync(async () => await StateOfAsync(Trader.Address) == "liquidatable", "the single-address trader to be flagged");
        var atRisk = await AtRiskAsync();
        Assert.Single(atRisk, x => x == Primary.Address);
        Assert.DoesNotContain(Linked.Address, atRisk);
        Assert.Contains(Trader.Address, atRisk);

        // The same signed message again is a replay.
        var replay = await Http.PostAsJsonAsync("/v1/accounts/links", request);
        Assert.Equal(HttpStatusCode.BadRequest, replay.StatusCode);
        Assert.Equal("application/problem+json", replay.Content.Headers.ContentType?.MediaType);
        Assert.Equal("message.nonce", (await replay.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("field").GetString());

        // The linked address alone signs the unlink: it is its own account again.
        var deadline = DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 600;
        var unlink = new AccountUnlinkMessage { Primary = Primary.Address, Linked = Linked.Address, Nonce = 2, Deadline = deadline };
        using var delete = new HttpRequestMessage(HttpMethod.Delete, "/v1/accounts/links")
        {
            Content = JsonContent.Create(new
            {
                chainId = Chains[0].ChainId,
                message = new { primary = Primary.Address, linked = Linked.Address, nonce = "2", deadline },
                signature = AccountLinkTypedData.Sign(unlink, Chains[0].ChainId, Linked.PrivateKey),
            }),
        };
        Assert.Equal(HttpStatusCode.OK, (await Http.SendAsync(delete)).StatusCode);
        var alone = await Http.GetFromJsonAsync<JsonElement>($"/v1/accounts/{Linked.Address}/health");
        Assert.Equal(Linked.Address, alone.GetProperty("account").GetString());
        Assert.Equal([Linked.Address], alone.GetProperty("addresses").EnumerateArray().Select(x => x.GetString()));
        Assert.Empty((await Http.GetFromJsonAsync<JsonElement>("/v1/accounts/links")).EnumerateArray());
    }

    private object LinkRequest(long nonce)
    {
        var deadline = DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 600;
        var message = new AccountLinkMessage { Primary = Primary.Address, Linked = Linked.Address, Nonce = nonce, Deadline = deadline };
        var chain = Chains[0].ChainId;
        return new
        {
            chainId = chain,
            message = new { primary = Primary.Address, linked = Linked.Address, nonce = nonce.ToString(CultureInfo.InvariantCulture), deadline },
            primarySignature = AccountLinkTypedData.Sign(message, chain, Primary.PrivateKey),
            linkedSignature = AccountLinkTypedData.Sign(message, chain, Linked.PrivateKey),
        };
    }

    private async Task<string?> StateOfAsync(string address)
    {
        var state = await Http.GetFromJsonAsync<JsonElement>($"/v1/accounts/{address}/state");
        return state.GetProperty("current").ValueKind == JsonValueKind.Null ? null : state.GetProperty("current").GetProperty("state").GetString();
    }

    private async Task<string?[]> AtRiskAsync()
    {
        var page = await Http.GetFromJsonAsync<JsonElement>("/v1/at-risk?pageSize=500");
        return page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("account").GetString()).ToArray();
    }
}
