using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace ChainMargin.Indexing.Decoding;

/// <summary>A log as eth_getLogs returns it, with hex fields left as text until a decoder needs them.</summary>
public sealed record RawLog(string Address, string[] Topics, string Data, long BlockNumber, string BlockHash, int LogIndex, bool Removed)
{
    /// <summary>Reads one log object of an eth_getLogs result; throws <see cref="FormatException"/> naming the bad field.</summary>
    public static RawLog From(JsonElement log) => new RawLogReader().Read(log);
}

/// <summary>
/// Reads the logs of one eth_getLogs answer. Logs of one block share its hash and number, and most come from a few
/// contracts with a few event signatures: a value equal to the previous log's at the same place is reused rather than
/// allocated again, and quantities are parsed from the raw bytes. Not thread-safe: one per answer.
/// </summary>
public sealed class RawLogReader
{
    private readonly string?[] _topics = new string?[4];
    private string? _address;
    private string? _blockHash;

    /// <summary>Reads one log object; throws <see cref="FormatException"/> naming the bad field.</summary>
    public RawLog Read(JsonElement log)
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
            if (topic.ValueKind != JsonValueKind.String)
            {
                throw new FormatException("a log topic is not a string");
            }

            topicArray[i] = i < _topics.Length ? Reuse(topic, ref _topics[i]) : topic.GetString()!;
            i++;
        }

        return new RawLog(
            Reuse(Field(log, "address"), ref _address),
            topicArray,
            Field(log, "data").GetString()!,
            Quantity(Field(log, "blockNumber")),
            Reuse(Field(log, "blockHash"), ref _blockHash),
            (int)Quantity(Field(log, "logIndex")),
            log.TryGetProperty("removed", out var removed) && removed.ValueKind == JsonValueKind.True);
    }

    private static string Reuse(JsonElement value, ref string? last)
    {
        if (last is not null && value.ValueEquals(last))
        {
            return last;
        }

        last = value.GetString()!;
        return last;
    }

    private static JsonElement Field(JsonElement log, string name) =>
        log.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value
            : throw new FormatException($"log field '{name}' is missing or not a string");

    /// <summary>A hex quantity straight from the raw bytes ("0x1f" with its quotes); an unusual spelling goes the slow way.</summary>
    private static long Quantity(JsonElement value)
    {
        var raw = JsonMarshal.GetRawUtf8Value(value);
        if (raw.Length > 4 && raw[1] == (byte)'0' && (raw[2] == (byte)'x' || raw[2] == (byte)'X') &&
            long.TryParse(raw[3..^1], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var parsed))
        {
            return parsed;
        }

        return Hex.ToLong(value.GetString()!);
    }
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
