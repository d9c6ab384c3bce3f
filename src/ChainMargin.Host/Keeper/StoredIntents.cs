using ChainMargin.Liquidation.Keeper;
using ChainMargin.Storage.Intents;
using KeeperIntentChange = ChainMargin.Liquidation.Keeper.IntentChange;
using KeeperIntentKey = ChainMargin.Liquidation.Keeper.IntentKey;
using StoreIntentChange = ChainMargin.Storage.Intents.IntentChange;
using StoreIntentKey = ChainMargin.Storage.Intents.IntentKey;

namespace ChainMargin.Host.Keeper;

/// <summary>
/// The keeper's intent port over the SQL intent table (Liquidation does not reference Storage; only the Host knows
/// which store is in use).
/// </summary>
public sealed class StoredIntents : ILiquidationIntentStore
{
    private readonly SqlIntentStore _store;

    public StoredIntents(SqlIntentStore store) => _store = store;

    public async Task<LiquidationIntent?> TryClaimAsync(KeeperIntentKey key, string owner, CancellationToken cancellationToken) =>
        Map(await _store.TryClaimAsync(Map(key), owner, cancellationToken).ConfigureAwait(false));

    public async Task<LiquidationIntent?> GetAsync(KeeperIntentKey key, CancellationToken cancellationToken) =>
        Map(await _store.GetAsync(Map(key), cancellationToken).ConfigureAwait(false));

    public async Task<IReadOnlyList<LiquidationIntent>> OpenIntentsAsync(ulong? chainId, string? account, CancellationToken cancellationToken) =>
        (await _store.OpenIntentsAsync(chainId is null ? null : checked((long)chainId.Value), account, cancellationToken).ConfigureAwait(false))
        .Select(r => Map(r)!).ToArray();

    public Task<bool> TransitionAsync(long id, string expected, string target, KeeperIntentChange change, string? expectedHash, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        var stored = new StoreIntentChange
        {
            Reason = change.Reason,
            HealthWad = change.HealthWad,
            AttestationNonce = change.AttestationNonce,
            Keeper = change.Keeper,
            TxNonce = change.TxNonce,
            MaxFeeWei = change.MaxFeeWei,
            PriorityFeeWei = change.PriorityFeeWei,
            RawTx = change.RawTx,
            TxHash = change.TxHash,
            ReplacedHash = change.ReplacedHash,
            MinedBlock = change.MinedBlock,
        };
        return _store.TransitionAsync(id, expected, target, stored, cancellationToken, expectedHash);
    }

    private static StoreIntentKey Map(KeeperIntentKey key) => new(checked((long)key.ChainId), key.Protocol, key.Account, key.TriggerBlock);

    private static LiquidationIntent? Map(IntentRow? row) => row is null
        ? null
        : new LiquidationIntent(
            row.Id,
            new KeeperIntentKey((ulong)row.Key.ChainId, row.Key.Protocol, row.Key.Account, row.Key.TriggerBlock),
            row.State,
            row.Reason,
            row.Owner,
            row.HealthWad,
            row.AttestationNonce,
            row.Keeper,
            row.TxNonce,
            row.MaxFeeWei,
            row.PriorityFeeWei,
            row.RawTx,
            row.TxHash,
            row.ReplacedHashes,
            row.MinedBlock);
}
