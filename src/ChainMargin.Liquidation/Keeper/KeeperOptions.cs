using System.ComponentModel.DataAnnotations;

namespace ChainMargin.Liquidation.Keeper;

/// <summary>
/// The keeper's settings (config section "Keeper"). Keys are never here: the risk signer's key comes from env
/// CHAINMARGIN_RISK_SIGNER_KEY, each chain's keeper key from CHAINMARGIN_KEEPER_KEY_&lt;chainId&gt; or an encrypted
/// keystore file (KeystoreDirectory/keeper-&lt;chainId&gt;.json, password from env CHAINMARGIN_KEEPER_KEYSTORE_PASSWORD).
/// </summary>
public sealed class KeeperOptions
{
    public const string SectionName = "Keeper";

    /// <summary>Off by default: the service flags accounts; liquidating them is opted into.</summary>
    public bool Enabled { get; set; }

    /// <summary>On by default: records what it would send (the signed transaction included) and sends nothing.</summary>
    public bool DryRun { get; set; } = true;

    /// <summary>Hard cap on the EIP-1559 max fee per chain id, in gwei. A chain without an entry uses DefaultMaxFeeGwei.</summary>
    public Dictionary<string, decimal> MaxFeeGwei { get; set; } = [];

    [Range(0, 100_000)]
    public decimal DefaultMaxFeeGwei { get; set; } = 100m;

    /// <summary>Tip offered to the block builder, in gwei.</summary>
    [Range(0, 10_000)]
    public decimal PriorityFeeGwei { get; set; } = 1m;

    /// <summary>Bonus in USD minus gas in USD must be at least this for a liquidation to be sent.</summary>
    [Range(0, 1_000_000_000)]
    public decimal MinProfitUsd { get; set; }

    /// <summary>How long a signed attestation is valid (its deadline is now plus this).</summary>
    [Range(1, 86_400)]
    public int AttestationLifetimeSeconds { get; set; } = 120;

    /// <summary>A sent transaction without a receipt after this long is replaced with fees at least 10% higher.</summary>
    [Range(1, 3_600)]
    public int ReplaceAfterSeconds { get; set; } = 30;

    /// <summary>How often receipts are polled, in milliseconds.</summary>
    [Range(10, 60_000)]
    public int ReceiptPollMilliseconds { get; set; } = 250;

    /// <summary>Give up following a transaction after this long (the intent stays sent; a restart resumes it).</summary>
    [Range(1, 86_400)]
    public int FollowTimeoutSeconds { get; set; } = 600;

    /// <summary>Folder of encrypted keystore files (keeper-&lt;chainId&gt;.json); none when null.</summary>
    public string? KeystoreDirectory { get; set; }

    public decimal MaxFeeGweiFor(ulong chainId) =>
        MaxFeeGwei.TryGetValue(chainId.ToString(System.Globalization.CultureInfo.InvariantCulture), out var cap) ? cap : DefaultMaxFeeGwei;
}
