using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ChainMargin.Core;
using ChainMargin.Host.Webhooks;
using ChainMargin.Storage;
using ChainMargin.Storage.Webhooks;

namespace ChainMargin.EndToEnd.Tests.Webhooks;

/// <summary>
/// Webhooks on state changes against the running service on real storage and a real HTTP receiver on 127.0.0.1:
/// signed bodies, retries with backoff through Hangfire, and deliveries that survive a restart on both stores.
/// </summary>
public sealed class WebhookTests
{
    private const string Secret = "receiver-secret-7f3a9c21d4e8b605";
    private static readonly EvmAddress Account = EvmAddress.Parse("0x00000000000000000000000000000000000a11ce");

    [Fact]
    public async Task StateChange_ToSubscribedState_PostsSignedEventOnce_AndSecretIsNeverShownOrLogged()
    {
        await using var receiver = new WebhookReceiver(Secret, _ => 200);
        await using var service = await ServiceApp.StartAsync(postgres: false);
        var responses = new List<string>();

        using var create = await service.Http.SendAsync(ServiceApp.Admin(HttpMethod.Post, "/v1/admin/webhooks",
            $$"""{"url":"{{receiver.Url}}","secret":"{{Secret}}","states":["liquidatable"],"description":"risk desk"}"""));
        responses.Add(await create.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Created, create.StatusCode);
        var created = JsonDocument.Parse(responses[^1]).RootElement;
        Assert.Equal("****" + Secret[^4..], created.GetProperty("secretMasked").GetString());
        Assert.False(created.TryGetProperty("secret", out _));

        Assert.True(await service.RecordAsync(Account, "healthy", 1.5m));
        Assert.True(await service.RecordAsync(Account, "liquidatable", 0.8125m, "fast path: cross liquidatable"));
        Assert.False(await service.RecordAsync(Account, "liquidatable", 0.8m));
        await WaitAsync(() => Task.FromResult(!receiver.Received.IsEmpty), "the webhook");
        var deliveries = await WaitForDeliveriesAsync(service, d => d.GetProperty("status").GetString() == "delivered");

        var hook = Assert.Single(receiver.Received);
        Assert.True(hook.SignatureValid, $"signature {hook.Signature} does not verify");
        Assert.False(WebhookReceiver.Verify(hook.Body, "another-secret-0000000", hook.Signature));
        var body = JsonDocument.Parse(hook.Body).RootElement;
        Assert.Equal(hook.EventId, body.GetProperty("id").GetString());
        Assert.Equal("account.state_changed", body.GetProperty("type").GetString());
        Assert.Equal(Account.Value, body.GetProperty("account").GetString());
        Assert.Equal("healthy", body.GetProperty("from").GetString());
        Assert.Equal("liquidatable", body.GetProperty("to").GetString());
        Assert.Equal(0.8125m, body.GetProperty("health").GetDecimal());
        Assert.Equal("fast path: cross liquidatable", body.GetProperty("reason").GetString());
        Assert.Equal(["cross", "portfolio"], body.GetProperty("methods").EnumerateArray().Select(m => m.GetProperty("method").GetString()));
        var block = Assert.Single(body.GetProperty("blocks").EnumerateArray().ToArray());
        Assert.Equal((31337UL, 7L, "0x07"), (block.GetProperty("chainId").GetUInt64(), block.GetProperty("number").GetInt64(), block.GetProperty("hash").GetString()));
        Assert.True(long.Parse(hook.Timestamp!, System.Globalization.CultureInfo.InvariantCulture) > 1_700_000_000);
        Assert.Equal("1", hook.Attempt);

        var delivery = Assert.Single(deliveries);
        Assert.Equal((1, 200), (delivery.GetProperty("attempts").GetInt32(), delivery.GetProperty("lastStatusCode").GetInt32()));
        Assert.Equal(hook.EventId, delivery.GetProperty("eventId").GetString());

        using var list = await service.Http.SendAsync(ServiceApp.Admin(HttpMethod.Get, "/v1/admin/webhooks"));
        responses.Add(await list.Content.ReadAsStringAsync());
        var listed = Assert.Single(JsonDocument.Parse(responses[^1]).RootElement.GetProperty("items").EnumerateArray().ToArray());
        Assert.Equal(receiver.Url, listed.GetProperty("url").GetString());
        Assert.Equal(["liquidatable"], listed.GetProperty("states").EnumerateArray().Select(s => s.GetString()));
        using var ofOne = await service.Http.SendAsync(ServiceApp.Admin(HttpMethod.Get, $"/v1/admin/webhooks/{created.GetProperty("id").GetInt64()}/deliveries"));
        responses.Add(await ofOne.Content.ReadAsStringAsync());
        Assert.Single(JsonDocument.Parse(responses[^1]).RootElement.GetProperty("items").EnumerateArray());
        responses.Add(await service.Http.GetStringAsync($"/v1/accounts/{Account.Value}/state"));

        await service.StopAsync();
        Assert.Contains("delivered to http://127.0.0.1", service.Log.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, service.Log.ToString(), StringComparison.Ordinal);
        Assert.All(responses, r => Assert.DoesNotContain(Secret, r, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Create_WithoutSecret_GeneratesOneShownOnlyInTheCreateResponse()
    {
        await using var service = await ServiceApp.StartAsync(postgres: false);
        using var create = await service.Http.SendAsync(ServiceApp.Admin(HttpMethod.Post, "/v1/admin/webhooks", """{"url":"https://hooks.example/cm"}"""));
        Assert.Equal(HttpStatusCode.Created, create.StatusCode);
        var created = await create.Content.ReadFromJsonAsync<JsonElement>();
        var secret = created.GetProperty("secret").GetString()!;
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        Assert.Equal(70, secret.Length);
        Assert.Equal($"/v1/admin/webhooks/{created.GetProperty("id").GetInt64()}", create.Headers.Location!.OriginalString);

        using var list = await service.Http.SendAsync(ServiceApp.Admin(HttpMethod.Get, "/v1/admin/webhooks"));
        var text = await list.Content.ReadAsStringAsync();
        Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        Assert.Contains("\"secretMasked\":\"****" + secret[^4..] + "\"", text, StringComparison.Ordinal);

        using var delete = await service.Http.SendAsync(ServiceApp.Admin(HttpMethod.Delete, $"/v1/admin/webhooks/{created.GetProperty("id").GetInt64()}"));
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        using var again = await service.Http.SendAsync(ServiceApp.Admin(HttpMethod.Delete, $"/v1/admin/webhooks/{created.GetProperty("id").GetInt64()}"));
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        using var empty = await service.Http.SendAsync(ServiceApp.Admin(HttpMethod.Get, "/v1/admin/webhooks"));
        Assert.Empty((await empty.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task FailingReceiver_IsRetriedWithExponentialBackoff_UntilDelivered_OrGivenUp()
    {
        // One receiver fails twice then answers; the other always fails and is given up after MaxAttempts.
        await using var flaky = new WebhookReceiver(Secret, n => n <= 2 ? 503 : 200);
        await using var broken = new WebhookReceiver(Secret, _ => 500);
        await using var service = await ServiceApp.StartAsync(postgres: false, "--Webhooks:RetryBaseDelay=00:00:01", "--Webhooks:MaxAttempts=3");
        foreach (var url in new[] { flaky.Url, broken.Url })
        {
            using var create = await service.Http.SendAsync(ServiceApp.Admin(HttpMethod.Post, "/v1/admin/webhooks", $$"""{"url":"{{url}}","secret":"{{Secret}}"}"""));
            Assert.Equal(HttpStatusCode.Created, create.StatusCode);
        }

        await service.RecordAsync(Account, "warning", 1.05m);
        List<JsonElement> rows;
        try
        {
            rows = await WaitForDeliveriesAsync(service, d => d.GetProperty("status").GetString() != "pending", count: 2, seconds: 60);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}: flaky {flaky.Received.Count}, broken {broken.Received.Count}; log: {service.Log}", e);
        }

        var byUrl = rows.ToDictionary(r => r.GetProperty("subscriptionId").GetInt64());
        var delivered = rows.Single(r => r.GetProperty("status").GetString() == "delivered");
        var failed = rows.Single(r => r.GetProperty("status").GetString() == "failed");
        Assert.Equal((3, 200), (delivered.GetProperty("attempts").GetInt32(), delivered.GetProperty("lastStatusCode").GetInt32()));
        Assert.Equal((3, 500), (failed.GetProperty("attempts").GetInt32(), failed.GetProperty("lastStatusCode").GetInt32()));
        Assert.Contains("HTTP 500", failed.GetProperty("lastError").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, byUrl.Count);

        foreach (var receiver in new[] { flaky, broken })
        {
            var hooks = receiver.Received.ToArray();
            Assert.Equal(3, hooks.Length);
            Assert.All(hooks, h => Assert.True(h.SignatureValid));
            Assert.Single(hooks.Select(h => h.EventId).Distinct());
            Assert.Single(hooks.Select(h => h.Text).Distinct());
            Assert.Equal(["1", "2", "3"], hooks.Select(h => h.Attempt));

            // Backoff: the second attempt waits at least the base delay, the third at least twice it (never earlier;
            // Hangfire runs a scheduled job at or after its time).
            Assert.True(hooks[1].ReceivedAt - hooks[0].ReceivedAt >= TimeSpan.FromSeconds(0.95), $"{hooks[1].ReceivedAt - hooks[0].ReceivedAt}");
            Assert.True(hooks[2].ReceivedAt - hooks[1].ReceivedAt >= TimeSpan.FromSeconds(1.95), $"{hooks[2].ReceivedAt - hooks[1].ReceivedAt}");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Restart_BetweenStateChangeAndDelivery_StillDelivers(bool postgres)
    {
        // The first attempt is held open by the receiver until the service stops under it.
        await using var receiver = new WebhookReceiver(Secret, n => n == 1 ? 0 : 200);
        await using var service = await ServiceApp.StartAsync(postgres);
        using (var create = await service.Http.SendAsync(ServiceApp.Admin(HttpMethod.Post, "/v1/admin/webhooks", $$"""{"url":"{{receiver.Url}}","secret":"{{Secret}}"}""")))
        {
            Assert.Equal(HttpStatusCode.Created, create.StatusCode);
        }

        await service.RecordAsync(Account, "liquidatable", 0.7m);
        await WaitAsync(() => Task.FromResult(receiver.Received.Count == 1), "the first attempt to reach the receiver");
        await service.StopAsync();

        // While the service is down, a second change is committed with no job ever enqueued for it (as if the
        // process died right after the commit).
        var other = EvmAddress.Parse("0x00000000000000000000000000000000000b0b00");
        var store = WebhookStoreFactory.Create(new StorageOptions { Provider = service.Provider, ConnectionString = service.Storage }, TimeProvider.System);
        try
        {
            var change = await store.RecordAccountStateAsync(
                new AccountObservation(new AccountStateRecord(other, "warning", 1.02m, "committed before a crash", "31337:9:0x09", DateTimeOffset.UtcNow), []),
                Guid.NewGuid(),
                CancellationToken.None);
            Assert.Single(change.DeliveryIds);
        }
        finally
        {
            if (store is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
        }

        await service.RestartAsync();
        var rows = await WaitForDeliveriesAsync(service, d => d.GetProperty("status").GetString() == "delivered", count: 2);
        Assert.Equal(2, rows.Count);

        var hooks = receiver.Received.ToArray();
        Assert.All(hooks, h => Assert.True(h.SignatureValid));
        var first = hooks.Where(h => h.Text.Contains(Account.Value, StringComparison.Ordinal)).ToArray();
        Assert.True(first.Length >= 2, "the interrupted delivery is sent again after the restart");
        Assert.Single(first.Select(h => h.EventId).Distinct());
        Assert.Contains(hooks, h => h.Text.Contains(other.Value, StringComparison.Ordinal) && h.Text.Contains("committed before a crash", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Update_ChangesOnlyWhatIsSent_SecretStaysMasked_BadInputIs400NamingTheField()
    {
        await using var service = await ServiceApp.StartAsync(postgres: false);
        using var create = await service.Http.SendAsync(ServiceApp.Admin(
            HttpMethod.Post, "/v1/admin/webhooks", """{"url":"https://hooks.example/a","states":["warning"],"description":"ops"}"""));
        var id = (await create.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();

        using var patch = await service.Http.SendAsync(ServiceApp.Admin(
            HttpMethod.Patch, $"/v1/admin/webhooks/{id}", """{"url":"https://hooks.example/b","secret":"a-new-secret-0123456789","enabled":false}"""));
        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        var text = await patch.Content.ReadAsStringAsync();
        Assert.DoesNotContain("a-new-secret-0123456789", text, StringComparison.Ordinal);
        var updated = JsonDocument.Parse(text).RootElement;
        Assert.Equal("https://hooks.example/b", updated.GetProperty("url").GetString());
        Assert.False(updated.GetProperty("enabled").GetBoolean());
        Assert.Equal("ops", updated.GetProperty("description").GetString());
        Assert.Equal(["warning"], updated.GetProperty("states").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("****6789", updated.GetProperty("secretMasked").GetString());

        using var list = await service.Http.SendAsync(ServiceApp.Admin(HttpMethod.Get, "/v1/admin/webhooks"));
        var listed = Assert.Single((await list.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray());
        Assert.Equal("https://hooks.example/b", listed.GetProperty("url").GetString());

        foreach (var (url, json, status, field) in new[]
                 {
                     ($"/v1/admin/webhooks/{id}", "{}", HttpStatusCode.BadRequest, "body"),
                     ($"/v1/admin/webhooks/{id}", """{"url":""}""", HttpStatusCode.BadRequest, "url"),
                     ($"/v1/admin/webhooks/{id}", """{"url":"ftp://hooks.example/x"}""", HttpStatusCode.BadRequest, "url"),
                     ($"/v1/admin/webhooks/{id}", """{"secret":"short"}""", HttpStatusCode.BadRequest, "secret"),
                     ($"/v1/admin/webhooks/{id}", """{"states":["warning","broke"]}""", HttpStatusCode.BadRequest, "states[1]"),
                     ("/v1/admin/webhooks/abc", """{"enabled":true}""", HttpStatusCode.BadRequest, "id"),
                     ($"/v1/admin/webhooks/{id + 100}", """{"enabled":true}""", HttpStatusCode.NotFound, "id"),
                 })
        {
            using var bad = await service.Http.SendAsync(ServiceApp.Admin(HttpMethod.Patch, url, json));
            Assert.Equal(status, bad.StatusCode);
            Assert.Equal(field, (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("field").GetString());
        }

        // Nothing a refused change carried was applied.
        using var after = await service.Http.SendAsync(ServiceApp.Admin(HttpMethod.Get, "/v1/admin/webhooks"));
        var kept = Assert.Single((await after.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray());
        Assert.Equal(["warning"], kept.GetProperty("states").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("https://hooks.example/b", kept.GetProperty("url").GetString());
    }

    [Theory]
    [InlineData("""{"url":"ftp://hooks.example/x"}""", "url")]
    [InlineData("""{"url":"not a url"}""", "url")]
    [InlineData("""{"states":["warning"]}""", "url")]
    [InlineData("""{"url":"https://user:pw@hooks.example/x"}""", "url")]
    [InlineData("""{"url":"https://hooks.example/x","secret":"short"}""", "secret")]
    [InlineData("""{"url":"https://hooks.example/x","states":["warning","broke"]}""", "states[1]")]
    public async Task Create_BadInput_Is400NamingTheField(string json, string field)
    {
        await using var service = await ServiceApp.StartAsync(postgres: false);
        using var response = await service.Http.SendAsync(ServiceApp.Admin(HttpMethod.Post, "/v1/admin/webhooks", json));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(field, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("field").GetString());
    }

    [Fact]
    public async Task AdminAndReads_KeyRules_AndBadParameters()
    {
        await using var service = await ServiceApp.StartAsync(postgres: false, "--Api:ReadsOpen=false");
        var http = service.Http;

        // Admin: no key or a wrong key is refused.
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/v1/admin/webhooks")).StatusCode);
        using (var wrong = new HttpRequestMessage(HttpMethod.Get, "/v1/admin/webhooks"))
        {
            wrong.Headers.Add("X-Api-Key", "not-the-key");
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(wrong)).StatusCode);
        }

        // Reads closed by config: a read needs the key too; /healthz stays open.
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/v1/chains")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync($"/v1/accounts/{Account.Value}/health/history")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(ServiceApp.Admin(HttpMethod.Get, "/v1/chains"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);
        var openApi = await http.GetStringAsync("/openapi/v1.json");
        Assert.Contains("/v1/admin/webhooks/{id}/deliveries", openApi, StringComparison.Ordinal);
        Assert.Contains("/v1/accounts/{address}/health/history", openApi, StringComparison.Ordinal);

        foreach (var (url, field) in new[]
                 {
                     ("/v1/admin/webhooks/abc", "id"), ("/v1/admin/webhooks/999", "id"),
                 })
        {
            using var delete = await http.SendAsync(ServiceApp.Admin(HttpMethod.Delete, url));
            Assert.True(delete.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound, url);
            Assert.Equal(field, (await delete.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("field").GetString());
        }

        foreach (var (url, field) in new[]
                 {
                     ("/v1/admin/webhooks/deliveries?limit=0", "limit"),
                     ("/v1/admin/webhooks/x/deliveries", "id"),
                     ($"/v1/accounts/{Account.Value}/health/history?from=yesterday", "from"),
                     ($"/v1/accounts/{Account.Value}/health/history?to=soon", "to"),
                     ($"/v1/accounts/{Account.Value}/health/history?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
                     ($"/v1/accounts/{Account.Value}/health/history?limit=0", "limit"),
                     ("/v1/accounts/0x12/health/history", "address"),
                 })
        {
            using var get = await http.SendAsync(ServiceApp.Admin(HttpMethod.Get, url));
            Assert.Equal(HttpStatusCode.BadRequest, get.StatusCode);
            Assert.Equal(field, (await get.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("field").GetString());
        }
    }

    [Fact]
    public async Task HealthHistory_SamplesStateChangesAndLargeMoves_NotSmallOnes()
    {
        await using var service = await ServiceApp.StartAsync(postgres: false, "--HealthHistory:MinInterval=00:00:00", "--HealthHistory:MinRelativeChange=0.05");
        await service.RecordAsync(Account, "healthy", 2.0m);
        await service.RecordAsync(Account, "healthy", 1.99m);
        await service.RecordAsync(Account, "healthy", 1.5m);
        await service.RecordAsync(Account, "warning", 1.05m);
        await service.RecordAsync(Account, "warning", 1.04m);

        // Which observations are samples is decided in the recompute; they are written in batches just after.
        var url = $"/v1/accounts/{Account.Value}/health/history";
        await WaitAsync(async () => (await service.Http.GetFromJsonAsync<JsonElement>(url)).GetProperty("samples").GetArrayLength() >= 3, "the samples to be written");
        var history = await service.Http.GetFromJsonAsync<JsonElement>(url);
        var samples = history.GetProperty("samples").EnumerateArray().ToArray();
        Assert.Equal([2.0m, 1.5m, 1.05m], samples.Select(s => s.GetProperty("health").GetDecimal()));
        Assert.Equal(["healthy", "healthy", "warning"], samples.Select(s => s.GetProperty("state").GetString()));
        var limited = await service.Http.GetFromJsonAsync<JsonElement>($"/v1/accounts/{Account.Value}/health/history?limit=1");
        Assert.Equal(1.05m, Assert.Single(limited.GetProperty("samples").EnumerateArray().ToArray()).GetProperty("health").GetDecimal());
    }

    [Fact]
    public async Task HangfireDashboard_FromLoopback_IsOpen()
    {
        await using var service = await ServiceApp.StartAsync(postgres: false);
        using var response = await service.Http.GetAsync("/hangfire");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("Hangfire", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Through a proxy the connection is loopback but the client is not: the key is needed.
        using var proxied = new HttpRequestMessage(HttpMethod.Get, "/hangfire");
        proxied.Headers.Add("X-Forwarded-For", "203.0.113.7");
        using var refused = await service.Http.SendAsync(proxied);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.StartsWith("Basic", refused.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    private static async Task<List<JsonElement>> WaitForDeliveriesAsync(ServiceApp service, Func<JsonElement, bool> done, int count = 1, int seconds = 30)
    {
        List<JsonElement> rows = [];
        await WaitAsync(
            async () =>
            {
                using var response = await service.Http.SendAsync(ServiceApp.Admin(HttpMethod.Get, "/v1/admin/webhooks/deliveries"));
                rows = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray().ToList();
                return rows.Count == count && rows.All(done);
            },
            $"{count} deliveries to finish",
            seconds);
        return rows;
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, string what, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"waited {seconds} s for {what}");
            }

            await Task.Delay(100);
        }
    }
}

/// <summary>The pure rules: backoff, the dashboard's decision for a non-loopback client, the health sampler, the signature.</summary>
public sealed class WebhookRuleTests
{
    private const string Key = "dashboard-key-123";

    [Fact]
    public void Backoff_DoublesFromTheBase_UpToTheCap()
    {
        var options = new WebhookOptions { RetryBaseDelay = TimeSpan.FromSeconds(10), RetryMaxDelay = TimeSpan.FromMinutes(1) };
        Assert.Equal(
            [10, 20, 40, 60, 60],
            Enumerable.Range(1, 5).Select(a => WebhookDeliveryJob.Backoff(a, options).TotalSeconds));
        Assert.Equal(TimeSpan.FromMinutes(1), WebhookDeliveryJob.Backoff(1000, options));
    }

    [Theory]
    [InlineData("203.0.113.7", false, null, null, Key, false)]
    [InlineData("203.0.113.7", false, Key, null, Key, true)]
    [InlineData("203.0.113.7", false, "wrong", null, Key, false)]
    [InlineData("203.0.113.7", false, null, "Basic b3BzOmRhc2hib2FyZC1rZXktMTIz", Key, true)]
    [InlineData("203.0.113.7", false, null, "Basic b3BzOndyb25n", Key, false)]
    [InlineData("203.0.113.7", false, null, "Basic !!!", Key, false)]
    [InlineData("203.0.113.7", false, Key, null, null, false)]
    [InlineData("10.0.0.5", false, null, null, Key, false)]
    [InlineData("2001:db8::1", false, null, null, Key, false)]
    [InlineData("127.0.0.1", false, null, null, null, true)]
    [InlineData("::1", false, null, null, null, true)]
    [InlineData("::ffff:127.0.0.1", false, null, null, null, true)]
    [InlineData("127.0.0.1", true, null, null, Key, false)]
    [InlineData("127.0.0.1", true, Key, null, Key, true)]
    public void DashboardAuthorization_Decides(string remote, bool forwarded, string? header, string? authorization, string? expected, bool allowed)
    {
        Assert.Equal(allowed, ChainMargin.Host.Api.DashboardAuthorization.Allows(IPAddress.Parse(remote), forwarded, header, authorization, expected));
    }

    [Fact]
    public void DashboardAuthorization_BasicCredentialsInTheTheory_AreTheKey()
    {
        Assert.Equal("ops:" + Key, System.Text.Encoding.UTF8.GetString(Convert.FromBase64String("b3BzOmRhc2hib2FyZC1rZXktMTIz")));
    }

    [Fact]
    public void HealthSampler_RelativeStepAndInterval()
    {
        var options = new HealthHistoryOptions { MinRelativeChange = 0.05m, MinInterval = TimeSpan.FromSeconds(10) };
        var a = EvmAddress.Parse("0x0000000000000000000000000000000000000001");
        var t = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var last = new HealthSample(a, t, 2m, "healthy");
        Assert.True(HealthSampler.ShouldSample(null, last, false, options));
        Assert.False(HealthSampler.ShouldSample(last, last with { At = t.AddSeconds(30), Health = 1.95m }, false, options));
        Assert.True(HealthSampler.ShouldSample(last, last with { At = t.AddSeconds(30), Health = 1.9m }, false, options));
        Assert.False(HealthSampler.ShouldSample(last, last with { At = t.AddSeconds(5), Health = 1.0m }, false, options));
        Assert.True(HealthSampler.ShouldSample(last, last with { At = t.AddSeconds(1), Health = 0.9m, State = "liquidatable" }, true, options));
        Assert.True(HealthSampler.ShouldSample(last, last with { At = t.AddSeconds(30), Health = null }, false, options));
        Assert.False(HealthSampler.ShouldSample(last with { Health = null }, last with { At = t.AddSeconds(30), Health = null }, false, options));
    }

    [Fact]
    public void Signature_IsHmacSha256OfTheBody_AsAReceiverComputesIt()
    {
        var body = System.Text.Encoding.UTF8.GetBytes("{\"id\":\"x\"}");
        var header = WebhookSignature.Sign(body, "secret-of-16-chars");
        Assert.True(WebhookReceiver.Verify(body, "secret-of-16-chars", header));
        Assert.True(WebhookSignature.Verify(body, "secret-of-16-chars", header));
        Assert.False(WebhookSignature.Verify(body, "secret-of-16-charz", header));
        Assert.False(WebhookSignature.Verify(System.Text.Encoding.UTF8.GetBytes("{\"id\":\"y\"}"), "secret-of-16-chars", header));

        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        Assert.Equal(
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            WebhookSignature.Sign(System.Text.Encoding.ASCII.GetBytes("what do ya want for nothing?"), "Jefe"));
    }
}
