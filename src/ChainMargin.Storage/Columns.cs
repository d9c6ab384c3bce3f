using System.Globalization;
using System.Numerics;
using ChainMargin.Core;

namespace ChainMargin.Storage;

/// <summary>
/// The one place where domain values become column values and back: big integers (numeric(78,0) in PostgreSQL,
/// decimal text in SQLite), chain ids (bigint), times (microseconds in SQLite).
/// </summary>
internal static class Columns
{
    /// <summary>int256 minimum: the most negative value a signed on-chain quantity can take.</summary>
    public static readonly BigInteger Int256Min = -BigInteger.Pow(2, 255);

    /// <summary>uint256 maximum: the largest unsigned on-chain quantity.</summary>
    public static readonly BigInteger UInt256Max = BigInteger.Pow(2, 256) - 1;

    /// <summary>Refuses values no EVM word can hold, before they reach a column (numeric(78,0) would take up to 10^78).</summary>
    public static BigInteger Checked(BigInteger value, string what)
    {
        if (value < Int256Min || value > UInt256Max)
        {
            throw new ArgumentOutOfRangeException(what, value, $"{what} does not fit an int256 or uint256");
        }

        return value;
    }

    public static string ToText(BigInteger value, string what) =>
        Checked(value, what).ToString(CultureInfo.InvariantCulture);

    public static BigInteger FromText(string text) =>
        BigInteger.Parse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);

    /// <summary>
    /// Chain ids are stored as bigint. EIP-2294 bounds chain ids far below 2^63, so a larger one is a bad input.
    /// </summary>
    public static long ToColumn(ChainId chain) =>
        chain.Value <= long.MaxValue
            ? (long)chain.Value
            : throw new ArgumentOutOfRangeException(nameof(chain), chain.Value, "chain id does not fit a bigint column");

    public static ChainId ToChain(long value) => new(checked((ulong)value));

    public static long ToMicroseconds(DateTimeOffset at) => (at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    public static DateTimeOffset FromMicroseconds(long micros) => DateTimeOffset.UnixEpoch.AddTicks(micros * 10);

    public static string ToText(decimal value) => value.ToString(CultureInfo.InvariantCulture);

    public static decimal DecimalFromText(string text) => decimal.Parse(text, NumberStyles.Number, CultureInfo.InvariantCulture);
}
