using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ChainMargin.Contracts.Devnet;

namespace ChainMargin.Testing;

public enum FaultKind
{
    /// <summary>HTTP 200 with a JSON-RPC error object (Code, Message).</summary>
    RpcError,

    /// <summary>The same error object, with an HTTP 4xx status (Status), as some providers answer range caps.</summary>
    HttpRpcError,

    /// <summary>429 with Retry-After: RetryAfterSeconds.</summary>
    TooManyRequests,

    /// <summary>502 with an HTML body, as a load balancer answers.</summary>
    BadGateway,

    /// <summary>Holds the request for Delay, then forwards it (the client should have given up by then).</summary>
    Stall,

    /// <summary>Forwards, then answers only the first half of the node's JSON.</summary>
    Truncate,

    /// <summary>Forwards untouched, after running the fault's Before action (e.g. a reorg in the middle of a step).</summary>
    Forward,

    /// <summary>Forwards, then answers the node's JSON as changed by the fault's Rewrite (a malformed but parseable answer).</summary>
    Rewrite,
}

/// <summary>
/// A fault; a 429 carries Retry-After as seconds, or as an HTTP date when <paramref name="RetryAt"/> is set.
/// <paramref name="Before"/> runs before the request is answered or forwarded.
/// </summary>
public sealed record Fault(
    FaultKind Kind, long Code = 0, string Message = "", int Status = 400, int RetryAfterSeconds = 1, TimeSpan Delay = default,
    DateTimeOffset? RetryAt = null, Func<Task>? Before = null, Func<JsonNode, JsonNode>? Rewrite = null);

/// <summary>
/// One request as the proxy saw it: its order, the (first) method, the eth_getLogs range if it is one, and how many
/// calls it carries (a JSON-RPC batch carries several).
/// </summary>
public sealed record ProxyCall(long Sequence, string Method, long? FromBlock, long? ToBlock, TimeSpan At, int Calls = 1);

/// <summary>
/// A JSON-RPC proxy on 127.0.0.1 in front of one node that injects faults chosen per request by <see cref="Plan"/>,
/// counts what it saw and did, and can stop forwarding altogether (<see cref="Blackhole"/>: every request hangs).
/// </summary>
public sealed class FaultProxy : IAsyncDisposable, IDisposable
{
    private static readonly HttpClient Upstream = new() { Timeout = TimeSpan.FromSeconds(30) };
    private readonly HttpListener _listener = new();
    private readonly Uri _upstream;
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Task _loop;
    private long _sequence;

    public FaultProxy(string upstreamUrl)
    {
        _upstream = new Uri(upstreamUrl);
        var port = AnvilNode.FreePort();
        Url = string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}/");
        _listener.Prefixes.Add(Url);
        _listener.Start();
        _loop = Task.Run(AcceptLoopAsync);
    }

    public string Url { get; }

    /// <summary>Decides the fault for a request (null: forward it untouched). Called concurrently.</summary>
    public Func<ProxyCall, Fault?> Plan { get; set; } = _ => null;

    /// <summary>While set, requests are held and never answered (a node that stopped responding).</summary>
    public bool Blackhole { get; set; }

    public ConcurrentQueue<ProxyCall> Calls { get; } = new();

    public ConcurrentQueue<(ProxyCall Call, Fault Fault)> Injected { get; } = new();

    public int InjectedCount(FaultKind kind) => Injected.Count(i => i.Fault.Kind == kind);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        _listener.Close();
        try
        {
            await _loop;
        }
        catch (Exception e) when (e is ObjectDisposedException or HttpListenerException or OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is ObjectDisposedException or HttpListenerException or InvalidOperationException)
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
            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            var call = Describe(body);
            Calls.Enqueue(call);
            if (Blackhole)
            {
                await Task.Delay(Timeout.Infinite, _stop.Token);
                return;
            }

            var fault = Plan(call);
            if (fault is not null)
            {
                Injected.Enqueue((call, fault));
                if (fault.Before is { } before)
                {
                    await before();
                }
            }

            switch (fault?.Kind)
            {
                case FaultKind.RpcError:
                case FaultKind.HttpRpcError:
                    await WriteAsync(context, fault.Kind == FaultKind.RpcError ? 200 : fault.Status, ErrorBody(body, fault));
                    return;
                case FaultKind.TooManyRequests:
                    context.Response.Headers["Retry-After"] = fault.RetryAt is { } at
                        ? at.ToString("r", CultureInfo.InvariantCulture)
                        : fault.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
                    await WriteAsync(context, 429, """{"jsonrpc":"2.0","id":null,"error":{"code":-32005,"message":"rate limited"}}""");
                    return;
                case FaultKind.BadGateway:
                    await WriteAsync(context, 502, "<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html");
                    return;
                case FaultKind.Stall:
                    await Task.Delay(fault.Delay, _stop.Token);
                    break;
            }

            var forwarded = await ForwardAsync(body);
            if (fault?.Kind == FaultKind.Truncate)
            {
                forwarded = forwarded[..(forwarded.Length / 2)];
            }
            else if (fault?.Kind == FaultKind.Rewrite && fault.Rewrite is { } rewrite)
            {
                forwarded = rewrite(JsonNode.Parse(forwarded)!).ToJsonString();
            }

            await WriteAsync(context, 200, forwarded);
        }
        catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or OperationCanceledException or IOException or InvalidOperationException)
        {
            // The client gave up (timeout) or the proxy is stopping.
        }
        finally
        {
            try
            {
                context.Response.Close();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
            }
        }
    }

    private async Task<string> ForwardAsync(string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await Upstream.PostAsync(_upstream, content, _stop.Token);
        return await response.Content.ReadAsStringAsync(_stop.Token);
    }

    private static async Task WriteAsync(HttpListenerContext context, int status, string body, string contentType = "application/json")
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        context.Response.ContentLength64 = bytes.Length;
        await context.Response.OutputStream.WriteAsync(bytes);
    }

    private static string ErrorBody(string requestBody, Fault fault)
    {
        var request = JsonNode.Parse(requestBody);
        var first = request is JsonArray array ? array[0] : request;
        var error = new JsonObject
        {
            ["jsonrpc"] = "2.0",
            ["id"] = first?["id"]?.DeepClone(),
            ["error"] = new JsonObject { ["code"] = fault.Code, ["message"] = fault.Message },
        };
        return error.ToJsonString();
    }

    private ProxyCall Describe(string body)
    {
        var sequence = Interlocked.Increment(ref _sequence);
        var at = _clock.Elapsed;
        try
        {
            var request = JsonNode.Parse(body);
            var first = request is JsonArray array ? array[0] : request;
            var method = first?["method"]?.GetValue<string>() ?? "?";
            var calls = request is JsonArray batch ? batch.Count : 1;
            if (method == "eth_getLogs" && first?["params"]?[0] is JsonObject filter)
            {
                return new ProxyCall(sequence, method, Quantity(filter["fromBlock"]), Quantity(filter["toBlock"]), at, calls);
            }

            return new ProxyCall(sequence, method, null, null, at, calls);
        }
        catch (System.Text.Json.JsonException)
        {
            return new ProxyCall(sequence, "?", null, null, at);
        }
    }

    private static long? Quantity(JsonNode? node) =>
        node?.GetValue<string>() is { } text && text.StartsWith("0x", StringComparison.Ordinal)
            ? long.Parse(text.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)
            : null;
}
