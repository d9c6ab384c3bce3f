using System.Security.Cryptography;
using System.Text;

namespace ChainMargin.Host.Webhooks;

/// <summary>
/// The signature receivers check: X-ChainMargin-Signature: sha256=&lt;lowercase hex HMAC-SHA256 of the raw request body,
/// keyed with the subscription's secret (its UTF-8 bytes)&gt;.
/// </summary>
public static class WebhookSignature
{
    public const string Header = "X-ChainMargin-Signature";
    public const string EventIdHeader = "X-ChainMargin-Event-Id";
    public const string TimestampHeader = "X-ChainMargin-Timestamp";
    public const string DeliveryHeader = "X-ChainMargin-Delivery";
    public const string AttemptHeader = "X-ChainMargin-Attempt";
    private const string Prefix = "sha256=";

    public static string Sign(ReadOnlySpan<byte> body, string secret)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        return Prefix + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));
    }

    /// <summary>Whether <paramref name="header"/> is the body's signature under <paramref name="secret"/> (constant time).</summary>
    public static bool Verify(ReadOnlySpan<byte> body, string secret, string? header)
    {
        if (string.IsNullOrEmpty(header) || string.IsNullOrEmpty(secret))
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Sign(body, secret)), Encoding.ASCII.GetBytes(header.Trim()));
    }

    /// <summary>A new random secret for a subscription created without one.</summary>
    public static string NewSecret() => "whsec_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
}
