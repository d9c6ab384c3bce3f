using System.Text;
using ChainMargin.Core;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Util;

namespace ChainMargin.Contracts.Reference;

/// <summary>The bytes32 a HealthAttestation carries: keccak256 of the UTF-8 of the block vector's canonical text.</summary>
public static class BlockVectorHash
{
    public static byte[] Compute(BlockVector blockVector)
    {
        ArgumentNullException.ThrowIfNull(blockVector);
        return Sha3Keccack.Current.CalculateHash(Encoding.UTF8.GetBytes(blockVector.Canonical()));
    }

    /// <summary>The hash as 0x-prefixed lower-case hex.</summary>
    public static string ComputeHex(BlockVector blockVector) => Compute(blockVector).ToHex(prefix: true);
}
