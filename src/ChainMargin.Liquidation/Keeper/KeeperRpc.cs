using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ChainMargin.Liquidation.Keeper;

/// <summary>A JSON-RPC error returned by the node: its code, message and revert data (if any).</summary>
public sealed class RpcErrorException : Exception
{
    public RpcErrorException(string method, long code, string rpcMessage, string? data)
        : base($"{method}: {rpcMessage} ({code})")
    {
        Method = method;
        Code = code;
        RpcMessage = rpcMessage;
        Data2 = data;
    }

    public RpcErrorException()
    {
        Method = "";
        RpcMessage = "";
    }

    public RpcErrorException(string message)
        : base(message)
    {
        Method = "";
        RpcMessage = message;
    }

    public RpcErrorException(string message, Exception innerException)
        : base(message, innerException)
    {
        Method = "";
        RpcMessage = message;
    }

    public string Method { get; }

    public long Code { get; }

    public string RpcMessage { get; }

    /// <summary>The error's data field (revert data for eth_call), when the node gave one.</summary>
    public string? Data2 { get; }

    /// <summary>The revert reason: Error(string) decoded from the data, else the node's message.</summary>
    public string RevertReason => KeeperRpc.DecodeRevert(Data2) ?? RpcMessage;
}

/// <summary>A transaction receipt, as much of it as the keeper needs.</summary>
public sealed record KeeperReceipt(string TransactionHash, long BlockNumber, bool Succeeded, BigInteger GasUsed);

/// <summary>
/// The few JSON-RPC calls the keeper makes, over plain HTTP (no batching, no retries: every call's failure is a
/// decision the keeper makes, such as resyncing a nonce or failing an intent with the revert reason).
/// </summary>
public sealed class KeeperRpc : IDisposable
{
    private readonly HttpClient _http;
    private readonly Uri _url;
    private long _id;

    public KeeperRpc(string url)
    {
        _url = new Uri(url);
        _http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
    }

    public void Dispose() => _http.Dispose();

    public async Task<JsonNode?> CallAsync(string method, JsonArray parameters, CancellationToken cancellationToken)
    {
        var request = new JsonObject
        {
            ["jsonrpc"] = "2.0",
            ["id"] = Interlocked.Increment(ref _id),
            ["method"] = method,
            ["params"] = parameters,
        };
        using var content = new StringContent(request.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(_url, content, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false))
            ?? throw new RpcErrorException($"{method}: empty response");
        if (body["error"] is JsonObject error)
        {
            var data = error["data"] switch
            {
                JsonValue v when v.TryGetValue<string>(out var s) => s,
                JsonObject o when o["data"] is JsonValue inner && inner.TryGetValue<string>(out var s2) => s2,
                _ => null,
            };
            throw new RpcErrorException(method, error["code"]?.GetValue<long>() ?? 0, error["message"]?.GetValue<string>() ?? "", data);
        }

        return body["result"];
    }

    public async Task<(BigInteger BaseFee, long Number, long Timestamp)> LatestBlockAsync(CancellationToken cancellationToken)
    {
        var block = await CallAsync("eth_getBlockByNumber", new JsonArray("latest", false), cancellationToken).ConfigureAwait(false)
            ?? throw new RpcErrorException("eth_getBlockByNumber: no latest block");
        var baseFee = block["baseFeePerGas"] is JsonValue fee ? Quantity(fee.GetValue<string>()) : BigInteger.Zero;
        return (baseFee, (long)Quantity(block["number"]!.GetValue<string>()), (long)Quantity(block["timestamp"]!.GetValue<string>()));
    }

    /// <summary>eth_call at latest; throws <see cref="RpcErrorException"/> with the revert reason when it reverts.</summary>
    public Task<JsonNode?> EthCallAsync(string from, string to, string data, CancellationToken cancellationToken) =>
        CallAsync("eth_call", new JsonArray(new JsonObject { ["from"] = from, ["to"] = to, ["data"] = data }, "latest"), cancellationToken);

    public async Task<BigInteger> EstimateGasAsync(string from, string to, string data, CancellationToken cancellationToken) =>
        Quantity((await CallAsync("eth_estimateGas", new JsonArray(new JsonObject { ["from"] = from, ["to"] = to, ["data"] = data }), cancellationToken).ConfigureAwait(false))!.GetValue<string>());

    public async Task<BigInteger> PendingNonceAsync(string address, CancellationToken cancellationToken) =>
        Quantity((await CallAsync("eth_getTransactionCount", new JsonArray(address, "pending"), cancellationToken).ConfigureAwait(false))!.GetValue<string>());

    public async Task<BigInteger> LatestNonceAsync(string address, CancellationToken cancellationToken) =>
        Quantity((await CallAsync("eth_getTransactionCount", new JsonArray(address, "latest"), cancellationToken).ConfigureAwait(false))!.GetValue<string>());

    public async Task<string> SendRawAsync(string raw, CancellationToken cancellationToken) =>
        (await CallAsync("eth_sendRawTransaction", new JsonArray(raw), cancellationToken).ConfigureAwait(false))!.GetValue<string>();

    /// <summary>True when the node knows the transaction (pending or mined).</summary>
    public async Task<bool> KnowsTransactionAsync(string hash, CancellationToken cancellationToken) =>
        await CallAsync("eth_getTransactionByHash", new JsonArray(hash), cancellationToken).ConfigureAwait(false) is JsonObject;

    public async Task<KeeperReceipt?> ReceiptAsync(string hash, CancellationToken cancellationToken)
    {
        if (await CallAsync("eth_getTransactionReceipt", new JsonArray(hash), cancellationToken).ConfigureAwait(false) is not JsonObject receipt ||
            receipt["blockNumber"] is not JsonValue number)
        {
            return null;
        }

        return new KeeperReceipt(
            hash,
            (long)Quantity(number.GetValue<string>()),
            Quantity(receipt["status"]!.GetValue<string>()) == BigInteger.One,
            Quantity(receipt["gasUsed"]!.GetValue<string>()));
    }

    public async Task<string> CallViewAsync(string to, string data, CancellationToken cancellationToken) =>
        (await CallAsync("eth_call", new JsonArray(new JsonObject { ["to"] = to, ["data"] = data }, "latest"), cancellationToken).ConfigureAwait(false))!.GetValue<string>();

    public static BigInteger Quantity(string hex) =>
        hex is "0x" or "0x0" ? BigInteger.Zero : BigInteger.Parse("0" + hex[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    public static string Hex(BigInteger value) => "0x" + (value.IsZero ? "0" : value.ToString("x", CultureInfo.InvariantCulture).TrimStart('0'));

    /// <summary>Decodes Error(string) revert data (selector 0x08c379a0); null when the data is something else.</summary>
    public static string? DecodeRevert(string? data)
    {
        if (data is null || !data.StartsWith("0x08c379a0", StringComparison.OrdinalIgnoreCase) || data.Length < 10 + 128)
        {
            return null;
        }

        var body = Convert.FromHexString(data.AsSpan(10));
        var length = (int)new BigInteger(body.AsSpan(32, 32), isUnsigned: true, isBigEndian: true);
        return length <= body.Length - 64 ? Encoding.UTF8.GetString(body, 64, length) : null;
    }

    internal static JsonSerializerOptions Json { get; } = new();
}
