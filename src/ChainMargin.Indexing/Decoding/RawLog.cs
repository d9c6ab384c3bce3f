using System.Globalization;
using System.Text.Json;

namespace ChainMargin.Indexing.Decoding;

/// <summary>A log as eth_getLogs returns it, with hex fields left as text until a decoder needs them.</summary>
public sealed record RawLog(string Address, string[] Topics, string Data, long BlockNumber, string BlockHash, int LogIndex, bool Removed)
{
    /// <summary>Reads one log object of an eth_getLogs result; throws <see cref="FormatException"/> naming the bad field.</summary>
    public static RawLog From(JsonElement log)
    {
        if (log.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException($"a log is {log.ValueKind}, not an object");
        }

        if (!log.TryGetProperty("topics", out var topics) || topics.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException("log field 'topics' is missing or not an array");
        }

        var topicArray = new string[topics.GetArrayLength()];
        var i = 0;
        foreach (var topic in topics.EnumerateArray())
        {
            topicArray[i++] = topic.ValueKind == JsonValueKind.String ? topic.GetString()! : throw new FormatException("a log topic is not a string");
        }

        return new RawLog(
            Text(log, "address"),
            topicArray,
            Text(log, "data"),
            Hex.ToLong(Text(log, "blockNumber")),
            Text(log, "blockHash"),
            (int)Hex.ToLong(Text(log, "logIndex")),
            log.TryGetProperty("removed", out var removed) && removed.ValueKind == JsonValueKind.True);
    }

    private static string Text(JsonElement log, string name) =>
        log.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new FormatException($"log field '{name}' is missing or not a string");
}

/// <summary>Hex helpers for quantities and ABI words.</summary>
public static class Hex
{
    public static long ToLong(string quantity)
    {
        ArgumentNullException.ThrowIfNull(quantity);
        if (!quantity.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ||
            !long.TryParse(quantity.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
        {
            throw new FormatException($"'{quantity}' is not a hex quantity");
        }

        return value;
    }

    public static string FromLong(long value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);
}
