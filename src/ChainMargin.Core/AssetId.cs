namespace ChainMargin.Core;

/// <summary>
/// A canonical asset: the same asset on several chains is one asset (USDC on three chains is USDC).
/// Symbols are upper case, letters, digits, '.', '-' and '_'.
/// </summary>
public readonly record struct AssetId
{
    private readonly string? _symbol;

    public AssetId(string symbol)
    {
        ArgumentNullException.ThrowIfNull(symbol);
        if (symbol.Length is 0 or > 32 || !symbol.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_'))
        {
            throw new FormatException($"'{symbol}' is not an asset symbol");
        }

        _symbol = symbol.ToUpperInvariant();
    }

    public string Symbol => _symbol ?? "";

    public override string ToString() => Symbol;
}
