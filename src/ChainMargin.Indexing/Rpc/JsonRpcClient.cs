using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace ChainMargin.Indexing.Rpc;

/// <summary>
/// A JSON-RPC client over several URLs of one chain. It retries transient faults (transport errors, timeouts, 429 with
/// Retry-After, 5xx, truncated or malformed JSON) with exponential backoff and jitter, fails over to the next URL,
/// and never turns an error into an empty result: a call either returns the node's result or throws.
/// Node refusals (a JSON-RPC error object) are not retried here; they are thrown as <see cref="RpcNodeException"/>
/// so the caller can react (the log fetcher shrinks its range).
/// </summary>
public sealed class JsonRpcClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly Uri[] _urls;
    private readonly RpcRetryOptions _retry;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _concurrency;
    private int _current;
    private long _nextId;
    private long _errors;
    private long _requests;

    public JsonRpcClient(IReadOnlyList<string> urls, RpcRetryOptions? retry = null, TimeProvider? time = null, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(urls);
        if (urls.Count == 0)
        {
            throw new ArgumentException("at least one RPC URL is needed", nameof(urls));
        }

        _urls = urls.Select(u => new Uri(u, UriKind.Absolute)).ToArray();
        _retry = retry ?? new RpcRetryOptions();
        _time = time ?? TimeProvider.System;
        _http = handler is null
            ? new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), MaxConnectionsPerServer = 64 })
            : new HttpClient(handler);
        _http.Timeout = Timeout.InfiniteTimeSpan;
        _concurrency = new SemaphoreSlim(_retry.MaxConcurrentRequests);
    }

    /// <summary>Errors seen (each failed attempt counts), for the metrics.</summary>
    public long ErrorCount => Interlocked.Read(ref _errors);

    public long RequestCount => Interlocked.Read(ref _requests);

    public string CurrentUrl => _urls[Volatile.Read(ref _current) % _urls.Length].ToString();

    /// <summary>Calls one method; returns the raw JSON of its result (a detached clone).</summary>
    public async Task<JsonElement> CallAsync(string method, object?[] parameters, CancellationToken cancellationToken)
    {
        var results = await BatchAsync([new RpcRequest(method, parameters)], cancellationToken).ConfigureAwait(false);
        return results[0];
    }

    /// <summary>
    /// Calls one method and reads its result with <paramref name="read"/> while the response is still parsed: a large
    /// result (eth_getLogs) is not copied out first. <paramref name="read"/> reports bad content as FormatException.
    /// </summary>
    public Task<T> CallAsync<T>(string method, object?[] parameters, Func<JsonElement, T> read, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(read);
        return SendAsync([new RpcRequest(method, parameters)], results => read(results[0]), cancellationToken);
    }

    /// <summary>
    /// Sends several calls in one JSON-RPC batch and returns their results in request order. If any call in the
    /// batch fails with a node error, the whole batch throws that error.
    /// </summary>
    public Task<JsonElement[]> BatchAsync(IReadOnlyList<RpcRequest> requests, CancellationToken cancellationToken) =>
        SendAsync(requests, static results => Array.ConvertAll(results, static r => r.Clone()), cancellationToken);

    private async Task<T> SendAsync<T>(IReadOnlyList<RpcRequest> requests, Func<JsonElement[], T> project, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var body = Serialize(requests, out var firstId);
        var attempt = 0;
        var delay = _retry.InitialBackoff;
        while (true)
        {
            attempt++;
            var url = _urls[Volatile.Read(ref _current) % _urls.Length];
            TimeSpan? retryAfter = null;
            Exception failure;
            await _concurrency.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                Interlocked.Increment(ref _requests);
                return await SendOnceAsync(url, body, requests.Count, firstId, project, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcNodeException)
            {
                throw;
            }
            catch (RpcTransientException ex)
            {
                failure = ex;
                retryAfter = ex.RetryAfter;
            }
            catch (HttpRequestException ex)
            {
                failure = ex;
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                failure = new TimeoutException($"RPC {url} timed out after {_retry.RequestTimeout.TotalSeconds:0.#} s", ex);
            }
            catch (JsonException ex)
            {
                failure = new RpcTransientException($"malformed JSON from {url}: {ex.Message}", retryAfter: null, ex);
            }
            finally
            {
                _concurrency.Release();
            }

            Interlocked.Increment(ref _errors);
            if (attempt >= _retry.MaxAttempts)
            {
                throw new RpcUnavailableException(
                    $"{requests[0].Method}: {attempt} attempts failed over {_urls.Length} URL(s); last: {failure.Message}", failure);
            }

            // Fail over: the next attempt goes to the next URL.
            if (_urls.Length > 1)
            {
                Interlocked.Increment(ref _current);
            }

            var wait = retryAfter ?? Jitter(delay);
            if (wait > _retry.MaxBackoff)
            {
                wait = _retry.MaxBackoff;
            }

            await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _retry.MaxBackoff.Ticks));
        }
    }

    public void Dispose()
    {
        _http.Dispose();
        _concurrency.Dispose();
    }

    private static TimeSpan Jitter(TimeSpan delay) =>
        TimeSpan.FromTicks((long)(delay.Ticks * (0.5 + Random.Shared.NextDouble())));

    private byte[] Serialize(IReadOnlyList<RpcRequest> requests, out long firstId)
    {
        firstId = Interlocked.Add(ref _nextId, requests.Count) - requests.Count + 1;
        var buffer = new ArrayBufferWriter<byte>(256 * requests.Count);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            var batch = requests.Count > 1;
            if (batch)
            {
                writer.WriteStartArray();
            }

            for (var i = 0; i < requests.Count; i++)
            {
                writer.WriteStartObject();
                writer.WriteString("jsonrpc", "2.0");
                writer.WriteNumber("id", firstId + i);
                writer.WriteString("method", requests[i].Method);
                writer.WritePropertyName("params");
                JsonSerializer.Serialize(writer, requests[i].Parameters, RpcJson.Options);
                writer.WriteEndObject();
            }

            if (batch)
            {
                writer.WriteEndArray();
            }
        }

        return buffer.WrittenSpan.ToArray();
    }

    private async Task<T> SendOnceAsync<T>(Uri url, byte[] body, int count, long firstId, Func<JsonElement[], T> project, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_retry.RequestTimeout);
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = content };
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.TooManyRequests || (int)response.StatusCode >= 500)
        {
            throw new RpcTransientException(
                string.Create(CultureInfo.InvariantCulture, $"{url} answered {(int)response.StatusCode} {response.ReasonPhrase}"),
                RetryAfterOf(response));
        }

        // The body goes into a pooled buffer: eth_getLogs answers are megabytes, and a fresh array for each (twice,
        // with HttpClient's own buffering) kept the large-object heap and gen2 collections busy.
        var (buffer, length) = await ReadBodyAsync(response, timeout.Token).ConfigureAwait(false);
        try
        {
            var bytes = new ReadOnlyMemory<byte>(buffer, 0, length);
            if (!response.IsSuccessStatusCode)
            {
                var text = Encoding.UTF8.GetString(bytes.Span[..Math.Min(length, 300)]);
                // Providers answer range and result caps with 4xx plus a JSON-RPC error body; surface it as a node error.
                if (TryReadError(bytes, out var nodeError))
                {
                    throw nodeError!;
                }

                throw new RpcTransientException(
                    string.Create(CultureInfo.InvariantCulture, $"{url} answered {(int)response.StatusCode}: {text}"), retryAfter: null);
            }

            return Project(url, bytes, count, firstId, project);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task<(byte[] Buffer, int Length)> ReadBodyAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var expected = response.Content.Headers.ContentLength;
        var buffer = ArrayPool<byte>.Shared.Rent(expected is > 0 and < int.MaxValue / 2 ? (int)expected.Value + 1 : 64 * 1024);
        var length = 0;
        try
        {
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                while (true)
                {
                    if (length == buffer.Length)
                    {
                        var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                        buffer.AsSpan(0, length).CopyTo(larger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = larger;
                    }

                    var read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
                    if (read == 0)
                    {
                        return (buffer, length);
                    }

                    length += read;
                }
            }
        }
        catch (IOException ex)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw new HttpRequestException($"the answer broke off after {length} bytes: {ex.Message}", ex);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    private static T Project<T>(Uri url, ReadOnlyMemory<byte> bytes, int count, long firstId, Func<JsonElement[], T> project)
    {
        using var document = JsonDocument.Parse(bytes);
        var root = document.RootElement;
        var results = new JsonElement[count];
        if (root.ValueKind == JsonValueKind.Object)
        {
            if (count != 1 && !root.TryGetProperty("error", out _))
            {
                throw new RpcTransientException($"{url} answered a batch of {count} with one object", retryAfter: null);
            }

            results[0] = ResultOf(root, url);
            if (count != 1)
            {
                throw new RpcTransientException($"{url} answered a batch of {count} with one object", retryAfter: null);
            }

            return project(results);
        }

        if (root.ValueKind != JsonValueKind.Array || root.GetArrayLength() != count)
        {
            throw new RpcTransientException($"{url} answered a batch of {count} with {root.ValueKind} of the wrong size", retryAfter: null);
        }

        var seen = 0;
        foreach (var item in root.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("id", out var idElement) || !idElement.TryGetInt64(out var id))
            {
                throw new RpcTransientException($"{url} answered a batch item without a numeric id", retryAfter: null);
            }

            var index = id - firstId;
            if (index < 0 || index >= count)
            {
                throw new RpcTransientException($"{url} answered an unknown id {id}", retryAfter: null);
            }

            results[index] = ResultOf(item, url);
            seen++;
        }

        return seen == count ? project(results) : throw new RpcTransientException($"{url} answered {seen} of {count} calls", retryAfter: null);
    }

    private static JsonElement ResultOf(JsonElement item, Uri url)
    {
        if (item.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
        {
            throw RpcNodeException.From(error, url);
        }

        if (!item.TryGetProperty("result", out var result))
        {
            throw new RpcTransientException($"{url} answered without a result", retryAfter: null);
        }

        return result;
    }

    private static bool TryReadError(ReadOnlyMemory<byte> bytes, out RpcNodeException? error)
    {
        error = null;
        try
        {
            using var document = JsonDocument.Parse(bytes);
            if (document.RootElement.ValueKind == JsonValueKind.Object &&
                document.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object)
            {
                error = RpcNodeException.From(e, url: null);
                return true;
            }
        }
        catch (JsonException)
        {
        }

        return false;
    }

    private TimeSpan? RetryAfterOf(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta;
        }

        if (header?.Date is { } date)
        {
            var wait = date - _time.GetUtcNow();
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }

        return null;
    }
}

public sealed record RpcRequest(string Method, object?[] Parameters);

/// <summary>Retry and concurrency bounds of a chain's RPC access.</summary>
public sealed class RpcRetryOptions
{
    public int MaxAttempts { get; set; } = 6;

    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>At most this many requests in flight per chain, so the request rate stays bounded during a fault.</summary>
    public int MaxConcurrentRequests { get; set; } = 8;
}

internal static class RpcJson
{
    public static readonly JsonSerializerOptions Options = new() { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };
}
