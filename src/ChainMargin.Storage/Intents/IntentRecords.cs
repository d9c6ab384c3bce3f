namespace ChainMargin.Storage.Intents;

/// <summary>
/// The states of a liquidation intent: planned -> simulated -> signed -> sent -> mined | dropped, or failed / skipped
/// with a reason from any state before sent (and failed after it when the transaction reverted on-chain).
/// </summary>
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

    /// <summary>States from which a transaction may still be (or become) on the chain.</summary>
    public static IReadOnlyList<string> Open { get; } = [Planned, Simulated, Signed, Sent];

    public static bool IsOpen(string state) => Open.Contains(state, StringComparer.Ordinal);
}

/// <summary>The unique key of an intent: one liquidation of one account on one chain's protocol, per trigger block.</summary>
public sealed record IntentKey(long ChainId, string Protocol, string Account, long TriggerBlock);

/// <summary>One intent row. Amounts (wei, wad, nonce) are decimal text, as they exceed 64 bits.</summary>
public sealed record IntentRow(
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
    long? MinedBlock,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
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

    /// <summary>A hash to append to the replaced list (the transaction this change replaces).</summary>
    public string? ReplacedHash { get; init; }

    public long? MinedBlock { get; init; }
}
