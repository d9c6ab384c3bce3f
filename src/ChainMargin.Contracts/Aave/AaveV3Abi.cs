using System.Numerics;
using ChainMargin.Core;

namespace ChainMargin.Contracts.Aave;

/// <summary>
/// Hand decoding of the Aave return values and log words we read often: straight from the hex, no reflection.
/// Layouts are those of Aave V3.0.2's DataTypes.
/// </summary>
public static class AaveV3Abi
{
    /// <summary>The i-th 32-byte word of ABI-encoded hex (with or without 0x) as an unsigned integer.</summary>
    public static BigInteger Word(string hex, int index)
    {
        ArgumentNullException.ThrowIfNull(hex);
        var offset = hex.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? 2 : 0;
        var start = offset + (index * 64);
        if (hex.Length < start + 64)
        {
            throw new FormatException($"ABI data has no word {index} (length {hex.Length})");
        }

        return ParseWord(hex.AsSpan(start, 64));
    }

    public static BigInteger ParseWord(ReadOnlySpan<char> word)
    {
        Span<byte> bytes = stackalloc byte[32];
        if (word.Length != 64 || Convert.FromHexString(word, bytes, out _, out _) != System.Buffers.OperationStatus.Done)
        {
            throw new FormatException("an ABI word is 64 hex digits");
        }

        return new BigInteger(bytes, isUnsigned: true, isBigEndian: true);
    }

    public static EvmAddress AddressWord(string hex, int index)
    {
        var offset = hex.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? 2 : 0;
        return EvmAddress.FromWord(hex.AsSpan(offset + (index * 64), 64));
    }

    public static int WordCount(string hex)
    {
        ArgumentNullException.ThrowIfNull(hex);
        var offset = hex.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? 2 : 0;
        return (hex.Length - offset) / 64;
    }

    /// <summary>Pool.getReserveData's result: DataTypes.ReserveData, a static tuple of 15 words.</summary>
    public static AaveV3ReserveData DecodeReserveData(string hex) => new(
        Word(hex, 0), Word(hex, 1), Word(hex, 2), Word(hex, 3), Word(hex, 4), Word(hex, 5),
        (long)Word(hex, 6), (int)Word(hex, 7), AddressWord(hex, 8), AddressWord(hex, 9), AddressWord(hex, 10),
        AddressWord(hex, 11), Word(hex, 12), Word(hex, 13), Word(hex, 14));

    /// <summary>Pool.getEModeCategoryData's result: a dynamic tuple (offset word, then ltv, threshold, bonus, price source, label).</summary>
    public static AaveV3EModeCategoryData DecodeEModeCategory(int id, string hex)
    {
        var start = (int)(Word(hex, 0) / 32);
        return new AaveV3EModeCategoryData(
            id, (int)Word(hex, start), (int)Word(hex, start + 1), (int)Word(hex, start + 2), AddressWord(hex, start + 3));
    }

    /// <summary>A returned dynamic array of words (uint256[] or address[]).</summary>
    public static IReadOnlyList<BigInteger> DecodeWordArray(string hex)
    {
        var start = (int)(Word(hex, 0) / 32);
        var count = (int)Word(hex, start);
        var result = new BigInteger[count];
        for (var i = 0; i < count; i++)
        {
            result[i] = Word(hex, start + 1 + i);
        }

        return result;
    }

    /// <summary>
    /// Multicall3.aggregate3's result, (bool success, bytes returnData)[], as (success, 0x-hex of the return data).
    /// Offsets inside a dynamic array are relative to the word after its length; inside a tuple, to the tuple's start.
    /// </summary>
    public static IReadOnlyList<(bool Success, string ReturnData)> DecodeMulticall3Results(string hex)
    {
        var arrayStart = (int)(Word(hex, 0) / 32);
        var count = (int)Word(hex, arrayStart);
        var contentStart = arrayStart + 1;
        var offset = hex.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? 2 : 0;
        var results = new (bool, string)[count];
        for (var i = 0; i < count; i++)
        {
            var tupleStart = contentStart + (int)(Word(hex, contentStart + i) / 32);
            var success = !Word(hex, tupleStart).IsZero;
            var bytesStart = tupleStart + (int)(Word(hex, tupleStart + 1) / 32);
            var length = (int)Word(hex, bytesStart);
            var dataStart = offset + ((bytesStart + 1) * 64);
            results[i] = (success, string.Concat("0x", hex.AsSpan(dataStart, length * 2)));
        }

        return results;
    }

    public static IReadOnlyList<EvmAddress> DecodeAddressArray(string hex)
    {
        var start = (int)(Word(hex, 0) / 32);
        var count = (int)Word(hex, start);
        var result = new EvmAddress[count];
        for (var i = 0; i < count; i++)
        {
            result[i] = AddressWord(hex, start + 1 + i);
        }

        return result;
    }
}

/// <summary>DataTypes.ReserveData as Pool.getReserveData returns it. Indices and rates are rays.</summary>
public sealed record AaveV3ReserveData(
    BigInteger Configuration,
    BigInteger LiquidityIndex,
    BigInteger CurrentLiquidityRate,
    BigInteger VariableBorrowIndex,
    BigInteger CurrentVariableBorrowRate,
    BigInteger CurrentStableBorrowRate,
    long LastUpdateTimestamp,
    int Id,
    EvmAddress AToken,
    EvmAddress StableDebtToken,
    EvmAddress VariableDebtToken,
    EvmAddress InterestRateStrategy,
    BigInteger AccruedToTreasury,
    BigInteger Unbacked,
    BigInteger IsolationModeTotalDebt);

/// <summary>DataTypes.EModeCategory without its label.</summary>
public sealed record AaveV3EModeCategoryData(int Id, int Ltv, int LiquidationThreshold, int LiquidationBonus, EvmAddress PriceSource);
