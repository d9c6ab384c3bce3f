using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace ChainMargin.Contracts.Devnet;

/// <summary>
/// Raw JSON-RPC batches against a local anvil, for seeding a devnet fast: many eth_sendTransaction calls from keyless
/// senders (anvil runs with --auto-impersonate), each with an explicit nonce and gas so that anvil neither looks them
/// up nor estimates, then one evm_mine. Every answer is checked: the first error answer throws, naming it.
/// </summary>
public sealed class AnvilBatch(Uri rpc, TimeSpan timeout) : IDisposable
{
    private static long _id;
    private readonly HttpClient _http = new() { Timeout = timeout };

    public AnvilBatch(Uri rpc)
        : this(rpc, TimeSpan.FromMinutes(5))
    {
    }

    public Uri Rpc { get; } = rpc;

    /// <summary>One JSON-RPC request object.</summary>
    public static JsonObject Request(string method, params JsonNode?[] parameters) => new()
    {
        ["jsonrpc"] = "2.0",
        ["id"] = Interlocked.Increment(ref _id),
        ["method"] = method,
        ["params"] = new JsonArray(parameters),
    };

    /// <summary>An eth_sendTransaction with the given gas, and nonce (null: anvil takes the sender's next).</summary>
    public static JsonObject SendTransaction(string from, string to, string data, long? nonce, long gas)
    {
        var tx = new JsonObject
        {
            ["from"] = from,
            ["to"] = to,
            ["data"] = data,
            ["gas"] = "0x" + gas.ToString("x", CultureInfo.InvariantCulture),
        };
        if (nonce is { } n)
        {
            tx["nonce"] = "0x" + n.ToString("x", CultureInfo.InvariantCulture);
        }

        return Request("eth_sendTransaction", tx);
    }

    /// <summary>Sends the requests as one batch and returns the answers; throws on the first error answer.</summary>
    public async Task<JsonArray> CallAsync(IEnumerable<JsonObject> requests, CancellationToken cancellationToken = default)
    {
        var batch = new JsonArray([.. requests]);
        using var content = new StringContent(batch.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(Rpc, content, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        var answers = JsonNode.Parse(body) as JsonArray
            ?? throw new InvalidOperationException("anvil answered a batch with a single object: " + body[..Math.Min(300, body.Length)]);
        foreach (var answer in answers)
        {
            if (answer?["error"] is { } error)
            {
                throw new InvalidOperationException("anvil refused a request: " + error.ToJsonString());
            }
        }

        return answers;
    }

    public async Task<long> BlockNumberAsync(CancellationToken cancellationToken = default)
    {
        var answer = await CallAsync([Request("eth_blockNumber")], cancellationToken).ConfigureAwait(false);
        return long.Parse(answer[0]!["result"]!.GetValue<string>().AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
    }

    public void Dispose() => _http.Dispose();
}
