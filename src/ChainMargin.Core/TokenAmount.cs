using System.Globalization;
using System.Numerics;

namespace ChainMargin.Core;

/// <summary>A raw on-chain amount with the decimals of its token. Never converted on the way in.</summary>
public readonly record struct TokenAmount
{
    public TokenAmount(BigInteger raw, int decimals)
    {
        if (decimals is < 0 or > 77)
        {
            throw new ArgumentOutOfRangeException(nameof(decimals), decimals, "token decimals must be between 0 and 77");
        }

        Raw = raw;
        Decimals = decimals;
    }

    public BigInteger Raw { get; }

    public int Decimals { get; }

    public static TokenAmount Zero(int decimals) => new(BigInteger.Zero, decimals);

    public TokenAmount Add(TokenAmount other)
    {
        EnsureSameDecimals(other);
        return new TokenAmount(Raw + other.Raw, Decimals);
    }

    public static TokenAmount operator +(TokenAmount left, TokenAmount right) => left.Add(right);

    /// <summary>The amount in whole units as a double; only for risk kernels.</summary>
    public double ToDouble() => Units.ToDouble(Raw, Decimals);

    public override string ToString() => Units.Format(Raw, Decimals);

    private void EnsureSameDecimals(TokenAmount other)
    {
        if (other.Decimals != Decimals)
        {
            throw new InvalidOperationException($"cannot add amounts with {Decimals} and {other.Decimals} decimals");
        }
    }
}

/// <summary>The one place where fixed-point integers become doubles or decimals.</summary>
public static class Units
{
    private static readonly BigInteger[] Powers = Enumerable.Range(0, 78).Select(i => BigInteger.Pow(10, i)).ToArray();

    public static BigInteger Pow10(int exponent) => Powers[exponent];

    public static double ToDouble(BigInteger raw, int decimals)
    {
        if (decimals == 0)
        {
            return (double)raw;
        }

        var whole = BigInteger.DivRem(raw, Powers[decimals], out var fraction);
        return (double)whole + ((double)fraction / (double)Powers[decimals]);
    }

    /// <summary>Rounds a double from a risk kernel into a reported decimal; NaN and infinities are refused.</summary>
    public static decimal ToReported(double value, int digits = 6)
    {
        if (!double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "a reported value must be finite");
        }

        if (Math.Abs(value) > 7.9e27)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "a reported value must fit a decimal");
        }

        return Math.Round((decimal)value, digits, MidpointRounding.ToEven);
    }

    public static string Format(BigInteger raw, int decimals)
    {
        if (decimals == 0)
        {
            return raw.ToString(CultureInfo.InvariantCulture);
        }

        var negative = raw.Sign < 0;
        var whole = BigInteger.DivRem(BigInteger.Abs(raw), Powers[decimals], out var fraction);
        var text = whole.ToString(CultureInfo.InvariantCulture) + "." +
                   fraction.ToString(CultureInfo.InvariantCulture).PadLeft(decimals, '0');
        return negative ? "-" + text : text;
    }
}
