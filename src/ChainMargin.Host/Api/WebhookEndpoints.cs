using System.Globalization;
using ChainMargin.Core;
using ChainMargin.Host.Webhooks;
using ChainMargin.Liquidation.Flagging;

namespace ChainMargin.Host.Api;

/// <summary>
/// Webhook settings under /v1/admin/webhooks (API key required, like every admin endpoint) and the health history
/// of an account under /v1 (a read: open or closed with the other reads by Api:ReadsOpen).
/// </summary>
public static class WebhookEndpoints
{
    private static readonly string[] KnownStates =
        [AccountStates.Healthy, AccountStates.Warning, AccountStates.Liquidatable, AccountStates.Liquidating, AccountStates.Resolved];

    public static WebApplication MapWebhookApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var admin = app.MapGroup("/v1/admin/webhooks").AddEndpointFilter(Endpoints.ApiKeyFilter);

        admin.MapPost("", async (CreateWebhookRequest? request, IWebhookStore store, CancellationToken ct) =>
        {
            if (request is null)
            {
                return Endpoints.Problem(400, "missing body", "send {\"url\": \"https://...\", \"states\": [\"liquidatable\"]}", "body");
            }

            if (string.IsNullOrWhiteSpace(request.Url))
            {
                return Endpoints.Problem(400, "missing url", "url is required: the http(s) address the events are POSTed to", "url");
            }

            if (Check(request.Url, request.Secret, request.States, request.Description, out var url) is { } problem)
            {
                return problem;
            }

            var states = request.States ?? [];
            var generated = request.Secret is null;
            var secret = request.Secret ?? WebhookSignature.NewSecret();
            var created = await store.AddSubscriptionAsync(
                new NewWebhookSubscription(url!, secret, states.Distinct(StringComparer.Ordinal).ToArray(), request.Enabled ?? true, request.Description),
                ct).ConfigureAwait(false);

            // The only response that ever holds the secret, and only when it was generated here: the caller must keep it.
            var body = WebhookResponse.From(created) with { Secret = generated ? secret : null };
            return Results.Created($"/v1/admin/webhooks/{created.Id.ToString(CultureInfo.InvariantCulture)}", body);
        }).WithName("CreateWebhook");

        admin.MapGet("", async (IWebhookStore store, CancellationToken ct) =>
        {
            var all = await store.GetSubscriptionsAsync(ct).ConfigureAwait(false);
            return Results.Ok(new { items = all.Select(WebhookResponse.From) });
        }).WithName("ListWebhooks");

        admin.MapDelete("/{id}", async (string id, IWebhookStore store, CancellationToken ct) =>
        {
            if (!long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number < 1)
            {
                return Endpoints.Problem(400, "malformed id", $"'{id}' is not a webhook id (a positive integer)", "id");
            }

            return await store.DeleteSubscriptionAsync(number, ct).ConfigureAwait(false)
                ? Results.NoContent()
                : Endpoints.Problem(404, "unknown webhook", $"there is no webhook {number}", "id");
        }).WithName("DeleteWebhook");

        admin.MapPatch("/{id}", async (string id, UpdateWebhookRequest? request, IWebhookStore store, CancellationToken ct) =>
        {
            if (!long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number < 1)
            {
                return Endpoints.Problem(400, "malformed id", $"'{id}' is not a webhook id (a positive integer)", "id");
            }

            if (request is null || (request.Url, request.Secret, request.States, request.Enabled, request.Description) == (null, null, null, null, null))
            {
                return Endpoints.Problem(400, "nothing to change", "send one or more of url, secret, states, enabled, description", "body");
            }

            if (request.Url is not null && string.IsNullOrWhiteSpace(request.Url))
            {
                return Endpoints.Problem(400, "bad url", "url cannot be empty: leave it out to keep the current one", "url");
            }

            if (Check(request.Url, request.Secret, request.States, request.Description, out var url) is { } problem)
            {
                return problem;
            }

            var change = new WebhookSubscriptionChange(
                url, request.Secret, request.States?.Distinct(StringComparer.Ordinal).ToArray(), request.Enabled, request.Description);
            var updated = await store.UpdateSubscriptionAsync(number, change, ct).ConfigureAwait(false);
            return updated is null
                ? Endpoints.Problem(404, "unknown webhook", $"there is no webhook {number}", "id")
                : Results.Ok(WebhookResponse.From(updated));
        }).WithName("UpdateWebhook");

        admin.MapGet("/deliveries", (IWebhookStore store, int? limit, CancellationToken ct) => DeliveriesAsync(store, null, limit, ct))
            .WithName("ListWebhookDeliveries");

        admin.MapGet("/{id}/deliveries", async (string id, IWebhookStore store, int? limit, CancellationToken ct) =>
        {
            if (!long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number < 1)
            {
                return Endpoints.Problem(400, "malformed id", $"'{id}' is not a webhook id (a positive integer)", "id");
            }

            var exists = (await store.GetSubscriptionsAsync(ct).ConfigureAwait(false)).Any(s => s.Id == number);
            return exists
                ? await DeliveriesAsync(store, number, limit, ct).ConfigureAwait(false)
                : Endpoints.Problem(404, "unknown webhook", $"there is no webhook {number}", "id");
        }).WithName("ListWebhookDeliveriesOfOne");

        var reads = app.MapGroup("/v1").AddEndpointFilter(Endpoints.ReadAccessFilter);
        reads.MapGet("/accounts/{address}/health/history", async (string address, string? from, string? to, int? limit, IHealthSampleStore samples, CancellationToken ct) =>
        {
            if (!EvmAddress.TryParse(address, out var account))
            {
                return Endpoints.Problem(400, "malformed address", $"'{address}' is not an EVM address (0x followed by 40 hex digits)", "address");
            }

            DateTimeOffset? since = null, until = null;
            if (from is not null)
            {
                if (!DateTimeOffset.TryParse(from, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var f))
                {
                    return Endpoints.Problem(400, "bad time", $"from '{from}' is not an ISO 8601 time", "from");
                }

                since = f;
            }

            if (to is not null)
            {
                if (!DateTimeOffset.TryParse(to, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
                {
                    return Endpoints.Problem(400, "bad time", $"to '{to}' is not an ISO 8601 time", "to");
                }

                until = t;
            }

            if (since > until)
            {
                return Endpoints.Problem(400, "bad range", "from is after to", "from");
            }

            var size = limit ?? 500;
            if (size is < 1 or > 5000)
            {
                return Endpoints.Problem(400, "bad limit", $"limit {size} must be between 1 and 5000", "limit");
            }

            var rows = await samples.GetSamplesAsync(account, since, until, size, ct).ConfigureAwait(false);
            return Results.Ok(new { account = account.Value, samples = rows.Select(s => new { at = s.At, health = s.Health, state = s.State }) });
        }).WithName("GetAccountHealthHistory");

        return app;
    }

    /// <summary>
    /// Checks the fields a create or a change carries (each may be absent here); returns the problem naming the first
    /// bad one, else null with the parsed URL (null when none was given).
    /// </summary>
    private static IResult? Check(string? urlText, string? secret, string[]? states, string? description, out Uri? url)
    {
        url = null;
        if (urlText is not null)
        {
            if (!Uri.TryCreate(urlText.Trim(), UriKind.Absolute, out var parsed) || (parsed.Scheme != Uri.UriSchemeHttp && parsed.Scheme != Uri.UriSchemeHttps) ||
                string.IsNullOrEmpty(parsed.Host))
            {
                return Endpoints.Problem(400, "bad url", $"'{urlText}' is not an absolute http or https URL", "url");
            }

            if (!string.IsNullOrEmpty(parsed.UserInfo))
            {
                return Endpoints.Problem(400, "bad url", "the url must not carry credentials; receivers authenticate the signature instead", "url");
            }

            url = parsed;
        }

        if (secret is not null && (secret.Length < 16 || secret.Length > 256 || secret.Any(char.IsWhiteSpace)))
        {
            return Endpoints.Problem(400, "bad secret", "a secret has 16 to 256 characters and no spaces (on create, leave it out and one is generated)", "secret");
        }

        states ??= [];
        for (var i = 0; i < states.Length; i++)
        {
            if (!KnownStates.Contains(states[i], StringComparer.Ordinal))
            {
                return Endpoints.Problem(400, "unknown state", $"state '{states[i]}' is not one of {string.Join(", ", KnownStates)}", $"states[{i}]");
            }
        }

        return description is { Length: > 200 }
            ? Endpoints.Problem(400, "description too long", "a description has at most 200 characters", "description")
            : null;
    }

    private static async Task<IResult> DeliveriesAsync(IWebhookStore store, long? subscription, int? limit, CancellationToken ct)
    {
        var size = limit ?? 50;
        if (size is < 1 or > 500)
        {
            return Endpoints.Problem(400, "bad limit", $"limit {size} must be between 1 and 500", "limit");
        }

        var rows = await store.GetRecentDeliveriesAsync(subscription, size, ct).ConfigureAwait(false);
        return Results.Ok(new { items = rows });
    }
}

/// <summary>A webhook subscription to create. Without a secret one is generated and returned once.</summary>
public sealed record CreateWebhookRequest(string? Url, string? Secret, string[]? States, bool? Enabled, string? Description)
{
    public override string ToString() => $"create webhook -> {Url}";
}

/// <summary>A change to a webhook: members left out stay as they are; an empty description clears it.</summary>
public sealed record UpdateWebhookRequest(string? Url, string? Secret, string[]? States, bool? Enabled, string? Description)
{
    public override string ToString() => $"update webhook -> {Url ?? "(same url)"}";
}

/// <summary>A subscription as the API shows it: the secret masked (the full secret only in the create response, when generated).</summary>
public sealed record WebhookResponse(long Id, string Url, IReadOnlyList<string> States, bool Enabled, string? Description, DateTimeOffset CreatedAt, string SecretMasked)
{
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? Secret { get; init; }

    public static WebhookResponse From(WebhookSubscription subscription)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        return new WebhookResponse(
            subscription.Id, subscription.Url.AbsoluteUri, subscription.States, subscription.Enabled, subscription.Description, subscription.CreatedAt,
            subscription.MaskedSecret);
    }

    public override string ToString() => $"webhook {Id} -> {Url}";
}
