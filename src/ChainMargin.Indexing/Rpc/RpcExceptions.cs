using System.Text.Json;

namespace ChainMargin.Indexing.Rpc;

/// <summary>A fault worth retrying: transport, 429, 5xx, malformed answers.</summary>
public sealed class RpcTransientException : Exception
{
    public RpcTransientException(string message, TimeSpan? retryAfter, Exception? inner = null)
        : base(message, inner) => RetryAfter = retryAfter;

    public RpcTransientException()
    {
    }

    public RpcTransientException(string message)
        : base(message)
    {
    }

    public RpcTransientException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public TimeSpan? RetryAfter { get; }
}

/// <summary>Every attempt on every URL failed; the chain is unavailable for now.</summary>
public sealed class RpcUnavailableException : Exception
{
    public RpcUnavailableException()
    {
    }

    public RpcUnavailableException(string message)
        : base(message)
    {
    }

    public RpcUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The node answered with a JSON-RPC error object (a refusal, a revert, a range or result cap).</summary>
public sealed class RpcNodeException : Exception
{
    public RpcNodeException()
    {
    }

    public RpcNodeException(string message)
        : base(message)
    {
    }

    public RpcNodeException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public RpcNodeException(long code, string message, string? data)
        : base(message)
    {
        Code = code;
        ErrorData = data;
    }

    public long Code { get; }

    /// <summary>The error's data member as raw JSON text (a revert reason, a suggested range), if any.</summary>
    public string? ErrorData { get; }

    internal static RpcNodeException From(JsonElement error, Uri? url)
    {
        var code = error.TryGetProperty("code", out var c) && c.TryGetInt64(out var v) ? v : 0;
        var message = error.TryGetProperty("message", out var m) ? m.ToString() : "unknown error";
        var data = error.TryGetProperty("data", out var d) ? d.GetRawText() : null;
        return new RpcNodeException(code, url is null ? message : $"{message} ({url.Host}:{url.Port})", data);
    }
}
