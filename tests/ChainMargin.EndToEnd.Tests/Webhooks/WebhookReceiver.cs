using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using ChainMargin.Contracts.Devnet;

namespace ChainMargin.EndToEnd.Tests.Webhooks;

/// <summary>One request as the receiver got it, with the signature checked against the secret it was given.</summary>
public sealed record ReceivedHook(byte[] Body, string? Signature, string? EventId, string? Timestamp, string? Attempt, bool SignatureValid, DateTimeOffset ReceivedAt)
{
    public string Text => Encoding.UTF8.GetString(Body);
}

/// <summary>
/// A real HTTP receiver on 127.0.0.1 (HttpListener). It checks each request's HMAC-SHA256 signature the way a
/// receiver would, computed here independently of the service's code, and answers what <see cref="Answer"/> says for
/// the n-th request (1-based); an answer of 0 holds the request open until <see cref="Release"/>.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly string _secret;
    private readonly Task _loop;
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _count;

    public WebhookReceiver(string secret, Func<int, int> answer)
    {
        _secret = secret;
        Answer = answer;
        Port = AnvilNode.FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}/hook";

    public Func<int, int> Answer { get; }

    public ConcurrentQueue<ReceivedHook> Received { get; } = new();

    public void Release() => _released.TrySetResult();

    public static bool Verify(byte[] body, string secret, string? header)
    {
        var expected = "sha256=" + Convert.ToHexString(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body)).ToLowerInvariant();
        return header is not null && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(header));
    }

    public async ValueTask DisposeAsync()
    {
        Release();
        _listener.Stop();
        _listener.Close();
        try
        {
            await _loop;
        }
        catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
        {
        }
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(() => HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        try
        {
            using var buffer = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(buffer);
            var body = buffer.ToArray();
            var signature = context.Request.Headers["X-ChainMargin-Signature"];
            Received.Enqueue(new ReceivedHook(
                body, signature, context.Request.Headers["X-ChainMargin-Event-Id"], context.Request.Headers["X-ChainMargin-Timestamp"],
                context.Request.Headers["X-ChainMargin-Attempt"], Verify(body, _secret, signature), DateTimeOffset.UtcNow));
            var status = Answer(Interlocked.Increment(ref _count));
            if (status == 0)
            {
                await _released.Task;
                status = 503;
            }

            context.Response.StatusCode = status;
            context.Response.Close();
        }
        catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or IOException or InvalidOperationException)
        {
            // The sender went away (the service stopped mid-request): nothing to answer.
        }
    }
}
