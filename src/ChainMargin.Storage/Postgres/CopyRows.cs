using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace ChainMargin.Storage.Postgres;

/// <summary>
/// Rows in PostgreSQL's binary COPY format, encoded straight into a pooled buffer and sent through Npgsql's raw copy
/// stream. Npgsql's per-value importer resolves a type handler for every value; for the few column types the fact
/// tables use, writing the format ourselves cost a fraction of that (the indexing benchmark's commits were mostly
/// the client encoding rows). The format: a signature and two zero words, then per row a field count and per field a
/// byte length (-1 for null) and the value in network byte order, then -1. Every value must match its column's type
/// exactly, since binary COPY carries no type information: bigint, integer, text, bytea, boolean and numeric are written
/// here, and one-dimensional arrays of them (<see cref="StartArray"/>: a header, then each element as a field).
/// </summary>
internal sealed class CopyRows : IDisposable
{
    private static readonly byte[] Signature = [(byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', (byte)'\n', 0xFF, (byte)'\r', (byte)'\n', 0];

    /// <summary>10^16: a BigInteger is split into chunks of 16 decimal digits, four numeric base-10000 digits each.</summary>
    private static readonly BigInteger Chunk = BigInteger.Pow(10, 16);

    private readonly short _fields;
    private byte[] _buffer;
    private int _length;

    public CopyRows(int fields, int rowsHint)
    {
        _fields = checked((short)fields);
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Clamp(rowsHint, 16, 1 << 16) * 128);
        Signature.CopyTo(_buffer, 0);
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(11), 0);
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(15), 0);
        _length = 19;
    }

    public ReadOnlyMemory<byte> Encoded => _buffer.AsMemory(0, _length);

    /// <summary>Bytes encoded and not yet taken.</summary>
    public int Pending => _length;

    /// <summary>Forgets what was encoded (after it was sent); the rows that follow continue the same COPY.</summary>
    public void Clear() => _length = 0;

    public void StartRow()
    {
        Ensure(2);
        BinaryPrimitives.WriteInt16BigEndian(_buffer.AsSpan(_length), _fields);
        _length += 2;
    }

    /// <summary>Ends the data: the trailer COPY expects after the last row.</summary>
    public void Finish()
    {
        Ensure(2);
        BinaryPrimitives.WriteInt16BigEndian(_buffer.AsSpan(_length), -1);
        _length += 2;
    }

    /// <summary>Element type ids of the arrays written here (pg_type oids).</summary>
    public const int Int32Oid = 23;
    public const int Int64Oid = 20;
    public const int ByteaOid = 17;
    public const int TextOid = 25;
    public const int NumericOid = 1700;

    /// <summary>
    /// Starts a one-dimensional array field of <paramref name="count"/> elements of the given type; write each element
    /// with the value methods (an element has a field's layout: its length, or -1 for null, then its bytes), then call
    /// <see cref="EndArray"/> with the returned position. The header: dimensions (1), a has-nulls flag, the element
    /// type, then the dimension's length and lower bound (1).
    /// </summary>
    public int StartArray(int elementOid, int count, bool hasNulls)
    {
        Ensure(24);
        var start = _length;
        var span = _buffer.AsSpan(_length);
        BinaryPrimitives.WriteInt32BigEndian(span[4..], 1);
        BinaryPrimitives.WriteInt32BigEndian(span[8..], hasNulls ? 1 : 0);
        BinaryPrimitives.WriteInt32BigEndian(span[12..], elementOid);
        BinaryPrimitives.WriteInt32BigEndian(span[16..], count);
        BinaryPrimitives.WriteInt32BigEndian(span[20..], 1);
        _length += 24;
        return start;
    }

    /// <summary>Ends the array started at <paramref name="start"/>: writes its byte length in front of it.</summary>
    public void EndArray(int start) => BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(start), _length - start - 4);

    public void Null()
    {
        Ensure(4);
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_length), -1);
        _length += 4;
    }

    public void Int64(long value)
    {
        Ensure(12);
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_length), 8);
        BinaryPrimitives.WriteInt64BigEndian(_buffer.AsSpan(_length + 4), value);
        _length += 12;
    }

    public void Int32(int value)
    {
        Ensure(8);
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_length), 4);
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_length + 4), value);
        _length += 8;
    }

    public void Bool(bool value)
    {
        Ensure(5);
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_length), 1);
        _buffer[_length + 4] = value ? (byte)1 : (byte)0;
        _length += 5;
    }

    public void Text(string value)
    {
        var max = Encoding.UTF8.GetMaxByteCount(value.Length);
        Ensure(4 + max);
        var written = Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_length + 4));
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_length), written);
        _length += 4 + written;
    }

    /// <summary>
    /// A 0x-prefixed hex string (a hash, an address) as bytea: its bytes, half as many as its digits. Anything else is a
    /// <see cref="FormatException"/> naming the value.
    /// </summary>
    public void HexBytes(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var prefixed = value.Length >= 2 && value[0] == '0' && (value[1] | 0x20) == 'x' && value.Length % 2 == 0;
        var bytes = prefixed ? (value.Length - 2) / 2 : 0;
        Ensure(4 + bytes);
        var written = 0;
        if (!prefixed || System.Convert.FromHexString(value.AsSpan(2), _buffer.AsSpan(_length + 4, bytes), out _, out written) != OperationStatus.Done)
        {
            throw new FormatException($"'{value}' is not 0x-prefixed hex of whole bytes");
        }

        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_length), written);
        _length += 4 + written;
    }

    /// <summary>
    /// An integer as numeric: digit count, weight (the first digit's power of 10000), sign (0 or 0x4000), display scale
    /// 0, then the base-10000 digits, most significant first. The caller has checked the value fits its column.
    /// </summary>
    public void Numeric(BigInteger value)
    {
        Span<short> digits = stackalloc short[24]; // 2^256 has 78 decimal digits: at most 20 base-10000 digits
        var count = 0;
        var magnitude = BigInteger.Abs(value);
        if (magnitude <= ulong.MaxValue)
        {
            count = Digits((ulong)magnitude, digits, count, fixedWidth: false);
        }
        else
        {
            // Least significant chunk first, each exactly four digits except the most significant.
            var chunks = new List<ulong>(5);
            while (!magnitude.IsZero)
            {
                magnitude = BigInteger.DivRem(magnitude, Chunk, out var remainder);
                chunks.Add((ulong)remainder);
            }

            for (var i = 0; i < chunks.Count; i++)
            {
                count = Digits(chunks[i], digits, count, fixedWidth: i < chunks.Count - 1);
            }
        }

        // Digits were collected least significant first; trailing zero digits need not be sent (the weight keeps the
        // value), which is also how PostgreSQL stores them.
        var low = 0;
        while (low < count && digits[low] == 0)
        {
            low++;
        }

        var sent = count - low;
        Ensure(4 + 8 + (2 * sent));
        var span = _buffer.AsSpan(_length);
        BinaryPrimitives.WriteInt32BigEndian(span, 8 + (2 * sent));
        BinaryPrimitives.WriteInt16BigEndian(span[4..], (short)sent);
        BinaryPrimitives.WriteInt16BigEndian(span[6..], (short)(sent == 0 ? 0 : count - 1));
        BinaryPrimitives.WriteInt16BigEndian(span[8..], value.Sign < 0 ? (short)0x4000 : (short)0);
        BinaryPrimitives.WriteInt16BigEndian(span[10..], 0);
        for (var i = 0; i < sent; i++)
        {
            BinaryPrimitives.WriteInt16BigEndian(span[(12 + (2 * i))..], digits[count - 1 - i]);
        }

        _length += 12 + (2 * sent);
    }

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Appends the base-10000 digits of a value, least significant first; a chunk below the top is exactly four.</summary>
    private static int Digits(ulong value, Span<short> digits, int count, bool fixedWidth)
    {
        var produced = 0;
        while (value != 0 || (fixedWidth && produced < 4))
        {
            (value, var digit) = Math.DivRem(value, 10_000UL);
            digits[count++] = (short)digit;
            produced++;
        }

        return count;
    }

    private void Ensure(int bytes)
    {
        if (_length + bytes <= _buffer.Length)
        {
            return;
        }

        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + bytes));
        _buffer.AsSpan(0, _length).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = larger;
    }
}
