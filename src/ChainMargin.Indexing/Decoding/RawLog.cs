using System.Buffers.Binary;
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
/// Reads the logs of one eth_getLogs answer straight from its bytes. Logs of one block share its hash and number, most
/// come from a few contracts, and their topics (signatures, accounts, tokens) recur: an address or block hash whose
/// bytes equal the previous log's, or a topic already seen in this answer, is reused rather than allocated again, and
/// quantities are parsed from the raw bytes. Fields the index
/// does not keep (transaction hash and index, timestamps) are skipped unread. Not thread-safe: one per answer.
/// </summary>
public sealed class RawLogReader
{
    // Indexed topics repeat across an answer's logs (the same accounts and tokens), not only from one log to the next:
    // a small direct-mapped table of the topic strings already made, found by a hash of the raw bytes. A collision
    // only costs a new string, so crafted topics cannot make a lookup slower than a miss.
    private const int TopicSlots = 1024;
    private readonly string?[] _topicTable = new string?[TopicSlots];
    private readonly Reused _address = new();
    private readonly Reused _blockHash = new();
    private readonly string[] _found = new string[4];

    private enum Field
    {
        Other,
        Address,
        Topics,
        Data,
        BlockNumber,
        BlockHash,
        LogIndex,
        Removed,
    }

    /// <summary>Reads one log object; throws <see cref="FormatException"/> naming the bad field.</summary>
    public RawLog Read(JsonElement log)
    {
        if (log.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException($"a log is {log.ValueKind}, not an object");
        }

        var reader = new Utf8JsonReader(JsonMarshal.GetRawUtf8Value(log));
        reader.Read();
        return Read(ref reader);
    }

    /// <summary>
    /// Reads the log object the reader is on (its start) and leaves the reader on the object's end; throws
    /// <see cref="FormatException"/> naming the bad field.
    /// </summary>
    public RawLog Read(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new FormatException($"a log is {KindOf(reader.TokenType)}, not an object");
        }

        string? address = null;
        string[]? topics = null;
        string? data = null;
        string? blockHash = null;
        long? blockNumber = null;
        long? logIndex = null;
        var removed = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = NameOf(ref reader);
            reader.Read();
            switch (field)
            {
                case Field.Address:
                    address = Reuse(ref reader, _address, "address");
                    break;
                case Field.Topics:
                    topics = Topics(ref reader);
                    break;
                case Field.Data:
                    data = Text(ref reader, "data");
                    break;
                case Field.BlockNumber:
                    blockNumber = Quantity(ref reader, "blockNumber");
                    break;
                case Field.BlockHash:
                    blockHash = Reuse(ref reader, _blockHash, "blockHash");
                    break;
                case Field.LogIndex:
                    logIndex = Quantity(ref reader, "logIndex");
                    break;
                case Field.Removed:
                    // Anything but true is not removed; a nested value is stepped over whole.
                    removed = reader.TokenType == JsonTokenType.True;
                    reader.Skip();
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        return new RawLog(
            address ?? throw Missing("address"),
            topics ?? throw new FormatException("log field 'topics' is missing or not an array"),
            data ?? throw Missing("data"),
            blockNumber ?? throw Missing("blockNumber"),
            blockHash ?? throw Missing("blockHash"),
            (int)(logIndex ?? throw Missing("logIndex")),
            removed);
    }

    private static Field NameOf(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("address"u8) ? Field.Address
        : reader.ValueTextEquals("topics"u8) ? Field.Topics
        : reader.ValueTextEquals("data"u8) ? Field.Data
        : reader.ValueTextEquals("blockNumber"u8) ? Field.BlockNumber
        : reader.ValueTextEquals("blockHash"u8) ? Field.BlockHash
        : reader.ValueTextEquals("logIndex"u8) ? Field.LogIndex
        : reader.ValueTextEquals("removed"u8) ? Field.Removed
        : Field.Other;

    private string[] Topics(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new FormatException("log field 'topics' is missing or not an array");
        }

        // Events have at most four topics; a longer list is read all the same.
        var found = _found;
        List<string>? more = null;
        var count = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.String)
            {
                throw new FormatException("a log topic is not a string");
            }

            if (count < found.Length)
            {
                found[count] = Intern(ref reader);
            }
            else
            {
                (more ??= []).Add(reader.GetString()!);
            }

            count++;
        }

        var topics = new string[count];
        for (var i = 0; i < Math.Min(count, found.Length); i++)
        {
            topics[i] = found[i];
        }

        more?.CopyTo(topics, found.Length);
        return topics;
    }

    private string Intern(ref Utf8JsonReader reader)
    {
        var raw = reader.ValueSpan;
        if (reader.ValueIsEscaped || raw.Length < 16)
        {
            return reader.GetString()!;
        }

        var tail = raw[^16..];
        var hash = (BinaryPrimitives.ReadUInt64LittleEndian(tail) * 0x9E3779B97F4A7C15UL) ^ BinaryPrimitives.ReadUInt64LittleEndian(tail[8..]);
        hash *= 0xBF58476D1CE4E5B9UL;
        ref var slot = ref _topicTable[(int)(hash >> 54)];
        if (slot is not null && System.Text.Ascii.Equals(raw, slot))
        {
            return slot;
        }

        slot = reader.GetString()!;
        return slot;
    }

    private static string Reuse(ref Utf8JsonReader reader, Reused last, string name)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            throw Missing(name);
        }

        if (reader.ValueIsEscaped)
        {
            return reader.GetString()!;
        }

        var raw = reader.ValueSpan;
        if (last.Value is not null && raw.SequenceEqual(last.Bytes.AsSpan(0, last.Length)))
        {
            return last.Value;
        }

        last.Value = reader.GetString()!;
        if (last.Bytes.Length < raw.Length)
        {
            last.Bytes = new byte[Math.Max(raw.Length, 72)];
        }

        raw.CopyTo(last.Bytes);
        last.Length = raw.Length;
        return last.Value;
    }

    private static string Text(ref Utf8JsonReader reader, string name) =>
        reader.TokenType == JsonTokenType.String ? reader.GetString()! : throw Missing(name);

    /// <summary>A hex quantity straight from the raw bytes ("0x1f"); an unusual spelling goes the slow way.</summary>
    private static long Quantity(ref Utf8JsonReader reader, string name)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            throw Missing(name);
        }

        var raw = reader.ValueSpan;
        if (!reader.ValueIsEscaped && raw.Length > 2 && raw[0] == (byte)'0' && (raw[1] == (byte)'x' || raw[1] == (byte)'X') &&
            long.TryParse(raw[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var parsed))
        {
            return parsed;
        }

        return Hex.ToLong(reader.GetString()!);
    }

    private static FormatException Missing(string name) => new($"log field '{name}' is missing or not a string");

    private static string KindOf(JsonTokenType token) => token switch
    {
        JsonTokenType.StartArray => nameof(JsonValueKind.Array),
        JsonTokenType.String => nameof(JsonValueKind.String),
        JsonTokenType.Number => nameof(JsonValueKind.Number),
        JsonTokenType.True => nameof(JsonValueKind.True),
        JsonTokenType.False => nameof(JsonValueKind.False),
        JsonTokenType.Null => nameof(JsonValueKind.Null),
        _ => token.ToString(),
    };

    /// <summary>The last string read at one place, with the bytes it was read from.</summary>
    private sealed class Reused
    {
        public string? Value { get; set; }

        public byte[] Bytes { get; set; } = [];

        public int Length { get; set; }
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
