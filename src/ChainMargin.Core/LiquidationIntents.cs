namespace ChainMargin.Core;

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

    /// <summary>The hash of the transaction this change replaces, appended to the replaced list.</summary>
    public string? ReplacedHash { get; init; }

    public long? MinedBlock { get; init; }
}

/// <summary>
/// The keeper's storage port (implemented in ChainMargin.Storage on PostgreSQL and SQLite). Claims are atomic (one
/// claimant per key, across processes on one database) and every transition is a compare-and-set on the state (and on
/// the hash for a replacement): false means someone else moved it.
/// </summary>
public interface ILiquidationIntentStore
{
    /// <summary>Inserts a planned intent; null when the key exists (someone else, or an earlier run, has it).</summary>
    Task<LiquidationIntent?> TryClaimAsync(IntentKey key, string owner, CancellationToken cancellationToken);

    Task<LiquidationIntent?> GetAsync(IntentKey key, CancellationToken cancellationToken);

    Task<LiquidationIntent?> GetAsync(long id, CancellationToken cancellationToken);

    /// <summary>Open intents (planned .. sent), optionally of one chain and one account, oldest first.</summary>
    Task<IReadOnlyList<LiquidationIntent>> OpenIntentsAsync(ulong? chainId, string? account, CancellationToken cancellationToken);

    /// <summary>Every intent of a chain, newest first.</summary>
    Task<IReadOnlyList<LiquidationIntent>> ListAsync(ulong chainId, CancellationToken cancellationToken);

    /// <summary>
    /// Moves an intent from <paramref name="expected"/> to <paramref name="target"/> and sets the changed columns; false
    /// when the intent is not in the expected state (or, with <paramref name="expectedHash"/>, not at that hash).
    /// </summary>
    Task<bool> TransitionAsync(long id, string expected, string target, IntentChange change, string? expectedHash, CancellationToken cancellationToken);
}
