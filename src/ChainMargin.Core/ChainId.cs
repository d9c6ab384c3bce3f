using System.Globalization;

namespace ChainMargin.Core;

/// <summary>An EVM chain id (EIP-155). Zero is not a chain.</summary>
public readonly record struct ChainId
{
    public ChainId(ulong value)
    {
        if (value == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(value), "chain id must be positive");
        }

        Value = value;
    }

    public ulong Value { get; }

    public static ChainId Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value == 0)
        {
            throw new FormatException($"'{text}' is not a chain id (a positive integer)");
        }

        return new ChainId(value);
    }

    public override string ToString() => Value.ToString(CultureInfo.InvariantCulture);
}
