namespace ChainMargin.Core;

/// <summary>A 20-byte EVM address, held in lower case with its 0x prefix. Parse, don't validate.</summary>
public readonly record struct EvmAddress : IComparable<EvmAddress>
{
    private readonly string? _value;

    private EvmAddress(string lowerHex) => _value = lowerHex;

    public static EvmAddress Zero { get; } = new("0x0000000000000000000000000000000000000000");

    /// <summary>The address as 0x followed by 40 lower-case hex digits.</summary>
    public string Value => _value ?? Zero._value!;

    public static EvmAddress Parse(string? text)
    {
        if (TryParse(text, out var address))
        {
            return address;
        }

        throw new FormatException($"'{text}' is not an EVM address (0x followed by 40 hex digits)");
    }

    public static bool TryParse(string? text, out EvmAddress address)
    {
        address = default;
        if (text is null || text.Length != 42 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X'))
        {
            return false;
        }

        for (var i = 2; i < 42; i++)
        {
            if (!char.IsAsciiHexDigit(text[i]))
            {
                return false;
            }
        }

        address = new EvmAddress("0x" + text[2..].ToLowerInvariant());
        return true;
    }

    /// <summary>The address from the low 20 bytes of a 32-byte ABI word (a topic or data word), given as 64 hex digits.</summary>
    public static EvmAddress FromWord(ReadOnlySpan<char> word64)
    {
        if (word64.Length != 64)
        {
            throw new FormatException("an ABI word has 64 hex digits");
        }

        return Parse(string.Concat("0x", word64[24..]));
    }

    public int CompareTo(EvmAddress other) => string.CompareOrdinal(Value, other.Value);

    public override string ToString() => Value;

    public static bool operator <(EvmAddress left, EvmAddress right) => left.CompareTo(right) < 0;

    public static bool operator <=(EvmAddress left, EvmAddress right) => left.CompareTo(right) <= 0;

    public static bool operator >(EvmAddress left, EvmAddress right) => left.CompareTo(right) > 0;

    public static bool operator >=(EvmAddress left, EvmAddress right) => left.CompareTo(right) >= 0;
}
