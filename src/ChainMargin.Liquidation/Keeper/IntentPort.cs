namespace ChainMargin.Liquidation.Keeper;

/// <summary>Intent states (see ILiquidationIntentStore): planned -> simulated -> signed -> sent -> mined | dropped; failed, skipped.</summary>
public static class IntentStates
{
    public const string Planned = "planned";
    public const string Simulated = "simulated";
#pragma warning disable CA1720 // "signed" is the state name, not a type
    public const string Signed = "signed";
#pragma warning restore CA1720
    public const string Sent = "sent";
    public const string Mined = "mined";
    public const string Dropped = "dropped";
    public const string Failed = "failed";
    public const string Skipped = "skipped";
}

/// <summary>One liquidation of one account on one chain's protocol, decided at a trigger block.</summary>
public sealed record IntentKey(ulong ChainId, string Protocol, string Account, long TriggerBlock);

/// <summary>An intent as stored. Wei, wad and attestation nonces are decimal text (they exceed 64 bits).</summary>
public sealed record LiquidationIntent(
    long Id,
    IntentKey Key,
    string State,
    string? Reason,
    string Owner,
    string? HealthWad,
    string? AttestationNonce,
    string? Keeper,
    long? TxNonce,
    string? MaxFeeWei,
    string? PriorityFeeWei,
    string? RawTx,
    string? TxHash,
    IReadOnlyList<string> ReplacedHashes,
    long? MinedBlock)
{
    /// <summary>The current hash and every hash it replaced: a receipt for any of them settles the intent.</summary>
    public IReadOnlyList<string> AllHashes => TxHash is null ? ReplacedHashes : [TxHash, .. ReplacedHashes];
}

/// <summary>Columns a transition sets; null leaves a column as it is.</summary>
public sealed record IntentChange
{
    public string? Reason { get; init; }

    public string? HealthWad { get; init; }

    public string? AttestationNonce { get; init; }

    public string? Keeper { get; init; }

    public long? TxNonce { get; init; }

    public string? MaxFeeWei { get; init; }

    public string? PriorityFeeWei { get; init; }

    public string? RawTx { get; init; }

    public string? TxHash { get; init; }

    /// <summary>The hash of the transaction this change replaces, appended to the replaced list.</summary>
    public string? ReplacedHash { get; init; }

    public long? MinedBlock { get; init; }
}

/// <summary>
/// The keeper's storage port. Claims are atomic (one claimant per key, across processes on one database) and every
/// transition is a compare-and-set on the state (and on the hash for a replacement): false means someone else moved it.
/// </summary>
public interface ILiquidationIntentStore
{
    Task<LiquidationIntent?> TryClaimAsync(IntentKey key, string owner, CancellationToken cancellationToken);

    Task<LiquidationIntent?> GetAsync(IntentKey key, CancellationToken cancellationToken);

    Task<IReadOnlyList<LiquidationIntent>> OpenIntentsAsync(ulong? chainId, string? account, CancellationToken cancellationToken);

    Task<bool> TransitionAsync(long id, string expected, string target, IntentChange change, string? expectedHash, CancellationToken cancellationToken);
}
