using System.Globalization;
using System.Text.Json;
using ChainMargin.Core;

namespace ChainMargin.Host.Webhooks;

/// <summary>
/// The JSON body of a state-change webhook, written field by field from the outbox row so every attempt of a
/// delivery sends the same bytes (and the same signature).
/// </summary>
public static class WebhookPayload
{
    public const string EventType = "account.state_changed";

    public static byte[] Serialize(WebhookDelivery delivery)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("id", delivery.EventId.ToString("D"));
            json.WriteString("type", EventType);
            json.WriteString("account", delivery.Account.Value);
            WriteNullable(json, "from", delivery.FromState);
            json.WriteString("to", delivery.ToState);
            WriteNullable(json, "health", delivery.Health);
            json.WriteStartArray("methods");
            foreach (var method in delivery.Methods)
            {
                json.WriteStartObject();
                json.WriteString("method", method.Method);
                WriteNullable(json, "health", method.Health);
                json.WriteString("status", method.Status);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteString("reason", delivery.Reason);
            json.WriteStartArray("blocks");
            foreach (var block in delivery.BlockVector.Split(';', StringSplitOptions.RemoveEmptyEntries))
            {
                // chainId:number:hash, as BlockRef writes it
                var parts = block.Split(':');
                json.WriteStartObject();
                if (parts.Length == 3 && ulong.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var chain) &&
                    long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var number))
                {
                    json.WriteNumber("chainId", chain);
                    json.WriteNumber("number", number);
                    json.WriteString("hash", parts[2]);
                }
                else
                {
                    json.WriteString("block", block);
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteString("occurredAt", delivery.OccurredAt.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static void WriteNullable(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null)
        {
            json.WriteNull(name);
        }
        else
        {
            json.WriteString(name, value);
        }
    }

    private static void WriteNullable(Utf8JsonWriter json, string name, decimal? value)
    {
        if (value is { } v)
        {
            json.WriteNumber(name, v);
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
