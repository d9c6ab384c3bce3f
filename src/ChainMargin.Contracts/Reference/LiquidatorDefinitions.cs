using System.Numerics;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Contracts;

namespace ChainMargin.Contracts.Reference;

/// <summary>
/// The risk signer's statement that an account is unhealthy, as the Liquidator's EIP-712 struct and ABI tuple. Health
/// is a wad (1e18 = 1.0); BlockVectorHash is keccak256 of the block vector's canonical text (see BlockVectorHash).
/// </summary>
[Struct("HealthAttestation")]
public sealed class HealthAttestation
{
    [Parameter("address", "account", 1)]
    public string Account { get; set; } = "";

    [Parameter("uint256", "health", 2)]
    public BigInteger Health { get; set; }

    [Parameter("bytes32", "blockVectorHash", 3)]
#pragma warning disable CA1819 // Nethereum binds bytes32 to a settable byte[]
    public byte[] BlockVectorHash { get; set; } = new byte[32];
#pragma warning restore CA1819

    /// <summary>Unix seconds; the attestation is rejected after it.</summary>
    [Parameter("uint256", "deadline", 4)]
    public BigInteger Deadline { get; set; }

    /// <summary>Single use across all accounts.</summary>
    [Parameter("uint256", "nonce", 5)]
    public BigInteger Nonce { get; set; }
}

[Event("Liquidated")]
public sealed class LiquidatedEventDto : IEventDTO
{
    [Parameter("address", "account", 1, true)]
    public string Account { get; set; } = "";

    [Parameter("address", "keeper", 2, true)]
    public string Keeper { get; set; } = "";

    [Parameter("uint256", "nonce", 3, false)]
    public BigInteger Nonce { get; set; }

    [Parameter("uint256", "health", 4, false)]
    public BigInteger Health { get; set; }

    [Parameter("bytes32", "blockVectorHash", 5, false)]
#pragma warning disable CA1819 // Nethereum binds bytes32 to a settable byte[]
    public byte[] BlockVectorHash { get; set; } = [];
#pragma warning restore CA1819
}

[Event("RiskSignerChanged")]
public sealed class RiskSignerChangedEventDto : IEventDTO
{
    [Parameter("address", "previousSigner", 1, true)]
    public string PreviousSigner { get; set; } = "";

    [Parameter("address", "newSigner", 2, true)]
    public string NewSigner { get; set; } = "";
}

/// <summary>
/// Reverts "bad signature" (not the risk signer), "expired" (deadline &lt; block.timestamp), "replayed" (nonce used)
/// or "healthy" (health &gt;= 1e18), checked in that order.
/// </summary>
[Function("liquidate")]
public sealed class LiquidateFunction : FunctionMessage
{
    [Parameter("tuple", "att", 1)]
    public HealthAttestation Attestation { get; set; } = new();

    [Parameter("bytes", "signature", 2)]
#pragma warning disable CA1819 // Nethereum binds bytes to a settable byte[]
    public byte[] Signature { get; set; } = [];
#pragma warning restore CA1819
}

[Function("setRiskSigner")]
public sealed class SetRiskSignerFunction : FunctionMessage
{
    [Parameter("address", "newSigner", 1)]
    public string NewSigner { get; set; } = "";
}

[Function("riskSigner", "address")]
public sealed class RiskSignerFunction : FunctionMessage
{
}

[Function("usedNonces", "bool")]
public sealed class UsedNoncesFunction : FunctionMessage
{
    [Parameter("uint256", "nonce", 1)]
    public BigInteger AttestationNonce { get; set; }
}

[Function("bonusBps", "uint256")]
public sealed class BonusBpsFunction : FunctionMessage
{
}

[Function("insuranceFund", "address")]
public sealed class InsuranceFundFunction : FunctionMessage
{
}

[Function("domainSeparator", "bytes32")]
public sealed class DomainSeparatorFunction : FunctionMessage
{
}

/// <summary>The EIP-712 digest the contract verifies, for cross-checking an off-chain signer.</summary>
[Function("attestationDigest", "bytes32")]
public sealed class AttestationDigestFunction : FunctionMessage
{
    [Parameter("tuple", "att", 1)]
    public HealthAttestation Attestation { get; set; } = new();
}

public sealed class LiquidatorDeployment : ContractDeploymentMessage
{
    public LiquidatorDeployment()
        : base(Artifacts.Liquidator.Bytecode)
    {
    }

    [Parameter("address", "vault_", 1)]
    public string Vault { get; set; } = "";

    [Parameter("address", "perpMarket_", 2)]
    public string PerpMarket { get; set; } = "";

    /// <summary>May be the zero address when the chain has no option market.</summary>
    [Parameter("address", "optionMarket_", 3)]
    public string OptionMarket { get; set; } = "0x0000000000000000000000000000000000000000";

    [Parameter("address", "riskSigner_", 4)]
    public string RiskSigner { get; set; } = "";

    [Parameter("uint256", "bonusBps_", 5)]
    public BigInteger BonusBps { get; set; }

    [Parameter("address", "insuranceFund_", 6)]
    public string InsuranceFund { get; set; } = "";
}
