using System.Numerics;
using ChainMargin.Core;
using Nethereum.ABI.EIP712;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Signer;
using Nethereum.Signer.EIP712;

namespace ChainMargin.Contracts.Accounts;

/// <summary>
/// "Linked belongs to Primary's account", as both addresses sign it (EIP-712 struct AccountLink). The nonce is single
/// use per signer; the deadline is unix seconds.
/// </summary>
[Struct("AccountLink")]
public sealed class AccountLinkMessage
{
    [Parameter("address", "primary", 1)]
    public string Primary { get; set; } = "";

    [Parameter("address", "linked", 2)]
    public string Linked { get; set; } = "";

    [Parameter("uint256", "nonce", 3)]
    public BigInteger Nonce { get; set; }

    [Parameter("uint256", "deadline", 4)]
    public BigInteger Deadline { get; set; }
}

/// <summary>"Linked no longer belongs to Primary's account", signed by either of the two (EIP-712 struct AccountUnlink).</summary>
[Struct("AccountUnlink")]
public sealed class AccountUnlinkMessage
{
    [Parameter("address", "primary", 1)]
    public string Primary { get; set; } = "";

    [Parameter("address", "linked", 2)]
    public string Linked { get; set; } = "";

    [Parameter("uint256", "nonce", 3)]
    public BigInteger Nonce { get; set; }

    [Parameter("uint256", "deadline", 4)]
    public BigInteger Deadline { get; set; }
}

/// <summary>
/// Signs and recovers account-link messages on the domain {name "ChainMargin", version "1", chainId}: no verifying
/// contract, because the link is verified by the service, not on chain; the chain id keeps a signature made for one
/// network from being replayed on another.
/// </summary>
public static class AccountLinkTypedData
{
    public const string DomainName = "ChainMargin";
    public const string DomainVersion = "1";

    public static string Sign(AccountLinkMessage message, ulong chainId, string privateKey) =>
        Eip712TypedDataSigner.Current.SignTypedDataV4(message, TypedData<AccountLinkMessage>(chainId, "AccountLink"), new EthECKey(privateKey));

    public static string Sign(AccountUnlinkMessage message, ulong chainId, string privateKey) =>
        Eip712TypedDataSigner.Current.SignTypedDataV4(message, TypedData<AccountUnlinkMessage>(chainId, "AccountUnlink"), new EthECKey(privateKey));

    /// <summary>The address that signed the message; null when the signature is malformed or recovers to no address.</summary>
    public static EvmAddress? Recover(AccountLinkMessage message, ulong chainId, string signature) =>
        Recover(message, TypedData<AccountLinkMessage>(chainId, "AccountLink"), signature);

    public static EvmAddress? Recover(AccountUnlinkMessage message, ulong chainId, string signature) =>
        Recover(message, TypedData<AccountUnlinkMessage>(chainId, "AccountUnlink"), signature);

    private static EvmAddress? Recover<T>(T message, TypedData<DomainWithNameVersionAndChainId> typedData, string signature)
    {
        if (string.IsNullOrWhiteSpace(signature))
        {
            return null;
        }

        try
        {
            var address = Eip712TypedDataSigner.Current.RecoverFromSignatureV4(message, typedData, signature);
            return EvmAddress.TryParse(address, out var parsed) ? parsed : null;
        }
#pragma warning disable CA1031 // any malformed signature (bad hex, length, v or curve point) is "not signed by anyone"
        catch (Exception)
#pragma warning restore CA1031
        {
            return null;
        }
    }

    // A fresh TypedData per call: signing sets its message, and these helpers may run on several threads.
    private static TypedData<DomainWithNameVersionAndChainId> TypedData<T>(ulong chainId, string primaryType) => new()
    {
        Domain = new DomainWithNameVersionAndChainId { Name = DomainName, Version = DomainVersion, ChainId = chainId },
        Types = MemberDescriptionFactory.GetTypesMemberDescription(typeof(DomainWithNameVersionAndChainId), typeof(T)),
        PrimaryType = primaryType,
    };
}
