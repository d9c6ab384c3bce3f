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
    /// Calls one method and reads its result with <paramref name="read"/> straight from the response bytes: a large
    /// result (eth_getLogs) is neither built into a document nor copied out. <paramref name="read"/> starts on the
    /// result's first token and must stop on its last; it reports bad content as FormatException. An answer that is
    /// not a plain object (or carries an error) takes the general path, with its checks and node errors.
    /// </summary>
    public Task<T> CallAsync<T>(string method, object?[] parameters, RpcResultReader<T> read, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(read);
        return SendAsync([new RpcRequest(method, parameters)], (url, bytes, firstId) => ReadSingle(url, bytes, firstId, read), cancellationToken);
    }

    /// <summary>
    /// Sends several calls in one JSON-RPC batch and returns their results in request order. If any call in the
    /// batch fails with a node error, the whole batch throws that error.
    /// </summary>
    public Task<JsonElement[]> BatchAsync(IReadOnlyList<RpcRequest> requests, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var count = requests.Count;
        return SendAsync(
            requests,
            (url, bytes, firstId) => Project(url, bytes, count, firstId, static results => Array.ConvertAll(results, static r => r.Clone())),
            cancellationToken);
    }

    /// <summary><paramref name="parse"/> turns one answer (URL, body, first request id) into the result, or throws.</summary>
    private async Task<T> SendAsync<T>(IReadOnlyList<RpcRequest> requests, Func<Uri, ReadOnlyMemory<byte>, long, T> parse, CancellationToken cancellationToken)
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
                return await SendOnceAsync(url, body, firstId, parse, cancellationToken).ConfigureAwait(false);
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

    private async Task<T> SendOnceAsync<T>(Uri url, byte[] body, long firstId, Func<Uri, ReadOnlyMemory<byte>, long, T> parse, CancellationToken cancellationToken)
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

            return parse(url, bytes, firstId);
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

    /// <summary>
    /// One call's answer read in place: the properties of the answer object are scanned, its result handed to
    /// <paramref name="read"/> where it lies. Anything unusual (not an object, an error member, no result, a result
    /// the reader refuses) goes through <see cref="Project"/>, so node errors and malformed answers are reported as
    /// they are for every other call.
    /// </summary>
    private static T ReadSingle<T>(Uri url, ReadOnlyMemory<byte> bytes, long firstId, RpcResultReader<T> read)
    {
        T General() => Project(url, bytes, 1, firstId, results => ReadElement(results[0], read));

        var reader = new Utf8JsonReader(bytes.Span);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return General();
        }

        var found = false;
        T value = default!;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (!found && reader.ValueTextEquals("result"u8))
            {
                reader.Read();
                try
                {
                    value = read(ref reader);
                }
                catch (FormatException)
                {
                    // An error member later in the answer explains the result better than the reader can.
                    return General();
                }

                if (reader.CurrentDepth != 1)
                {
                    throw new InvalidOperationException("a result reader did not stop on the last token of the result");
                }

                found = true;
            }
            else if (reader.ValueTextEquals("error"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    return General();
                }

                reader.Skip();
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        // The answer must end here, whole: a cut-off body is malformed JSON (retried), even after a complete result.
        if (reader.TokenType != JsonTokenType.EndObject || reader.CurrentDepth != 0 || reader.Read())
        {
            throw new RpcTransientException($"{url} answered an incomplete or trailing JSON object", retryAfter: null);
        }

        return found ? value : General();
    }

    private static T ReadElement<T>(JsonElement element, RpcResultReader<T> read)
    {
        var reader = new Utf8JsonReader(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(element));
        reader.Read();
        return read(ref reader);
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

/// <summary>Reads a call's result from the answer's bytes: starts on the result's first token, stops on its last.</summary>
public delegate T RpcResultReader<out T>(ref Utf8JsonReader reader);

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
