using System.Globalization;
using System.Net.Http.Headers;
using ChainMargin.Core;
using Microsoft.Extensions.Options;

namespace ChainMargin.Host.Webhooks;

/// <summary>The outcome of one POST: the HTTP status when there was a response, else what went wrong.</summary>
public sealed record SendResult(int? StatusCode, string? Error)
{
    public bool Delivered => StatusCode is >= 200 and < 300;
}

/// <summary>
/// POSTs one signed delivery. Redirects are not followed (a receiver that moved answers 3xx, which is a failure to fix
/// in the subscription, not a hop to take with a signed body). Errors are reduced to a status or an exception message:
/// the secret is only ever an HMAC key here, never part of a message.
/// </summary>
public sealed class WebhookSender : IDisposable
{
    private readonly HttpClient _http;
    private readonly TimeProvider _time;

    public WebhookSender(IOptions<WebhookOptions> options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _time = time;
        _http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        })
        {
            Timeout = options.Value.Timeout,
        };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("ChainMargin-Webhooks", "1"));
    }

    public async Task<SendResult> SendAsync(ClaimedDelivery claimed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(claimed);
        var delivery = claimed.Delivery;
        var body = WebhookPayload.Serialize(delivery);
        using var request = new HttpRequestMessage(HttpMethod.Post, claimed.Subscription.Url);
        request.Content = new ByteArrayContent(body);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.Add(WebhookSignature.Header, WebhookSignature.Sign(body, claimed.Subscription.Secret));
        request.Headers.Add(WebhookSignature.EventIdHeader, delivery.EventId.ToString("D"));
        request.Headers.Add(WebhookSignature.TimestampHeader, _time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        request.Headers.Add(WebhookSignature.DeliveryHeader, delivery.Id.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add(WebhookSignature.AttemptHeader, delivery.Attempts.ToString(CultureInfo.InvariantCulture));
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            var code = (int)response.StatusCode;
            return new SendResult(code, response.IsSuccessStatusCode ? null : $"HTTP {code} {response.ReasonPhrase}".TrimEnd());
        }
        catch (HttpRequestException e)
        {
            return new SendResult(null, e.Message);
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new SendResult(null, $"no answer within {_http.Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
        }
    }

    public void Dispose() => _http.Dispose();
}
