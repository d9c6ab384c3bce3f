using System.Numerics;
using ChainMargin.Core;
using Nethereum.ABI.EIP712;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Signer;
using Nethereum.Signer.EIP712;
using Nethereum.Util;

namespace ChainMargin.Contracts.Reference;

/// <summary>An attestation with the risk signer's 65-byte signature (r, s, v with v = 27 or 28).</summary>
public sealed record SignedAttestation(HealthAttestation Attestation, byte[] Signature)
{
    public string SignatureHex => Signature.ToHex(prefix: true);
}

/// <summary>
/// Builds and signs EIP-712 HealthAttestations for one Liquidator (domain "ChainMargin Liquidator", version "1",
/// the chain id and the Liquidator's address), as the contract verifies them.
/// </summary>
public sealed class AttestationSigner
{
    public const string DomainName = "ChainMargin Liquidator";
    public const string DomainVersion = "1";

    /// <summary>1.0 as a wad: health at or above it is not liquidatable.</summary>
    public static readonly BigInteger Wad = BigInteger.Pow(10, 18);

    private readonly EthECKey _key;
    private readonly Domain _domain;

    public AttestationSigner(string privateKey, ulong chainId, string liquidator)
    {
        _key = new EthECKey(privateKey);
        _domain = new Domain
        {
            Name = DomainName,
            Version = DomainVersion,
            ChainId = chainId,
            VerifyingContract = EvmAddress.Parse(liquidator).Value,
        };
    }

    /// <summary>The address the signatures recover to (lower case).</summary>
    public string SignerAddress => _key.GetPublicAddress().ToLowerInvariant();

    /// <summary>An attestation that <paramref name="account"/> has <paramref name="healthWad"/> at <paramref name="blocks"/>.</summary>
    public static HealthAttestation Create(EvmAddress account, BigInteger healthWad, BlockVector blocks, long deadlineUnixSeconds, BigInteger nonce) =>
        new()
        {
            Account = account.Value,
            Health = healthWad,
            BlockVectorHash = BlockVectorHash.Compute(blocks),
            Deadline = deadlineUnixSeconds,
            Nonce = nonce,
        };

    public SignedAttestation Sign(HealthAttestation attestation)
    {
        ArgumentNullException.ThrowIfNull(attestation);
        var signature = Eip712TypedDataSigner.Current.SignTypedDataV4(attestation, TypedData(), _key);
        return new SignedAttestation(attestation, signature.HexToByteArray());
    }

    /// <summary>The EIP-712 digest (keccak256 of 0x1901 ‖ domain separator ‖ struct hash) that is signed.</summary>
    public byte[] Digest(HealthAttestation attestation)
    {
        ArgumentNullException.ThrowIfNull(attestation);
        var encoded = Eip712TypedDataSigner.Current.EncodeTypedData(attestation, TypedData());
        return Sha3Keccack.Current.CalculateHash(encoded);
    }

    // A fresh TypedData per call: SetMessage mutates it, and a signer may be shared across threads.
    private TypedData<Domain> TypedData() => new()
    {
        Domain = _domain,
        Types = MemberDescriptionFactory.GetTypesMemberDescription(typeof(Domain), typeof(HealthAttestation)),
        PrimaryType = "HealthAttestation",
    };
}
