using System.Net;
using System.Security.Cryptography;
using System.Text;
using Hangfire.Dashboard;

namespace ChainMargin.Host.Api;

/// <summary>
/// Who may open the Hangfire dashboard at /hangfire: a request from a loopback address, or one that carries the API
/// key (header X-Api-Key, or HTTP basic authentication with the key as the password, so a browser can log in). A
/// request that came through a proxy (X-Forwarded-For or Forwarded) is not taken as loopback: behind a reverse proxy
/// on the same machine every connection is from loopback.
/// </summary>
public sealed class DashboardAuthorization : IDashboardAuthorizationFilter
{
    public const string Realm = "ChainMargin Hangfire";

    public bool Authorize(DashboardContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var http = context.GetHttpContext();
        var headers = http.Request.Headers;
        var allowed = Allows(
            http.Connection.RemoteIpAddress,
            headers.ContainsKey("X-Forwarded-For") || headers.ContainsKey("Forwarded"),
            headers[Endpoints.ApiKeyHeader].ToString(),
            headers.Authorization.ToString(),
            Environment.GetEnvironmentVariable("CHAINMARGIN_API_KEY"));
        if (!allowed)
        {
            // Hangfire answers 401; the challenge makes a browser ask for the key.
            http.Response.Headers.WWWAuthenticate = $"Basic realm=\"{Realm}\", charset=\"UTF-8\"";
        }

        return allowed;
    }

    /// <summary>The decision, apart from the HTTP plumbing.</summary>
    public static bool Allows(IPAddress? remote, bool forwarded, string? apiKeyHeader, string? authorization, string? expectedKey)
    {
        if (remote is not null && !forwarded)
        {
            var address = remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote;
            if (IPAddress.IsLoopback(address))
            {
                return true;
            }
        }

        if (string.IsNullOrEmpty(expectedKey))
        {
            return false;
        }

        if (!string.IsNullOrEmpty(apiKeyHeader) && KeyEquals(apiKeyHeader, expectedKey))
        {
            return true;
        }

        return BasicPassword(authorization) is { } password && KeyEquals(password, expectedKey);
    }

    private static string? BasicPassword(string? authorization)
    {
        const string scheme = "Basic ";
        if (string.IsNullOrEmpty(authorization) || !authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        try
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authorization[scheme.Length..].Trim()));
            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            return colon < 0 ? null : decoded[(colon + 1)..];
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static bool KeyEquals(string given, string expected) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(expected));
}
