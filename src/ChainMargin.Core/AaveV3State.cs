using System.Numerics;

namespace ChainMargin.Core;

/// <summary>A venue's derived state committed with a chain batch (see <see cref="ChainBatch.VenueStates"/>).</summary>
public abstract record VenueStateChange(ChainId Chain);

/// <summary>
/// A listed Aave V3 reserve as of <see cref="Block"/>: its tokens, its configuration bitmap, indices and rates (rays)
/// with their last update (unix seconds), and the AaveOracle price in the base currency (null with a reason when the
/// oracle has none). A new row is written at every block where any of it changed.
/// </summary>
public sealed record AaveV3ReserveRow(
    EvmAddress Asset,
    int ReserveId,
    EvmAddress AToken,
    EvmAddress StableDebtToken,
    EvmAddress VariableDebtToken,
    bool Dropped,
    BigInteger Configuration,
    BigInteger LiquidityIndex,
    BigInteger LiquidityRate,
    BigInteger VariableBorrowIndex,
    BigInteger VariableBorrowRate,
    long LastUpdateTimestamp,
    BigInteger? Price,
    string? PriceReason,
    BlockRef Block);

/// <summary>An e-mode category as of <see cref="Block"/> (basis points), with its price source's price when it has one.</summary>
public sealed record AaveV3EModeRow(
    int CategoryId, int Ltv, int LiquidationThreshold, int LiquidationBonus, EvmAddress PriceSource, BigInteger? Price, string? PriceReason, BlockRef Block);

/// <summary>A user's configuration bitmap (as Pool.getUserConfiguration returns it) and e-mode category as of <see cref="Block"/>.</summary>
public sealed record AaveV3UserRow(EvmAddress User, BigInteger Configuration, int EModeCategory, BlockRef Block);

/// <summary>A user's scaled balances in one reserve (by reserve id) and stable debt principal, rate (ray) and timestamp.</summary>
public sealed record AaveV3BalanceRow(
    EvmAddress User,
    int ReserveId,
    BigInteger ScaledATokenBalance,
    BigInteger ScaledVariableDebt,
    BigInteger StablePrincipal,
    BigInteger StableRate,
    long StableLastUpdated,
    BlockRef Block);

/// <summary>New versions of Aave V3 state rows on one chain, each at the block it became true.</summary>
public sealed record AaveV3StateChange(
    ChainId Chain,
    IReadOnlyList<AaveV3ReserveRow> Reserves,
    IReadOnlyList<AaveV3EModeRow> EModes,
    IReadOnlyList<AaveV3UserRow> Users,
    IReadOnlyList<AaveV3BalanceRow> Balances)
    : VenueStateChange(Chain)
{
    public bool IsEmpty => Reserves.Count == 0 && EModes.Count == 0 && Users.Count == 0 && Balances.Count == 0;
}

/// <summary>
/// The Aave V3 state of a chain as the store holds it, read in one snapshot with the chain's checkpoint: the latest
/// version of every row. <see cref="CheckpointTimestamp"/> is the checkpoint block's timestamp (interest accrues to it).
/// </summary>
public sealed record AaveV3StoredState(
    ChainId Chain,
    BlockRef? Checkpoint,
    long? CheckpointTimestamp,
    IReadOnlyList<AaveV3ReserveRow> Reserves,
    IReadOnlyList<AaveV3EModeRow> EModes,
    IReadOnlyList<AaveV3UserRow> Users,
    IReadOnlyList<AaveV3BalanceRow> Balances)
{
    public static AaveV3StoredState Empty(ChainId chain) => new(chain, null, null, [], [], [], []);

    /// <summary>
    /// This state with newer row versions laid over it (as <see cref="IAaveV3StateStore.LoadChangesAsync"/> returns
    /// them): a row of <paramref name="changes"/> replaces this state's row of the same key, and the checkpoint is the
    /// changes'. Rows are ordered as a full load orders them.
    /// </summary>
    public AaveV3StoredState Apply(AaveV3StoredState changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        static List<T> Merge<T, TKey>(IReadOnlyList<T> rows, IReadOnlyList<T> newer, Func<T, TKey> key)
            where TKey : notnull
        {
            var merged = rows.ToDictionary(key);
            foreach (var row in newer)
            {
                merged[key(row)] = row;
            }

            return [.. merged.Values];
        }

        return new AaveV3StoredState(
            Chain,
            changes.Checkpoint,
            changes.CheckpointTimestamp,
            [.. Merge(Reserves, changes.Reserves, r => r.Asset).OrderBy(r => r.ReserveId).ThenBy(r => r.Asset)],
            [.. Merge(EModes, changes.EModes, e => e.CategoryId).OrderBy(e => e.CategoryId)],
            [.. Merge(Users, changes.Users, u => u.User).OrderBy(u => u.User)],
            [.. Merge(Balances, changes.Balances, b => (b.User, b.ReserveId)).OrderBy(b => b.User).ThenBy(b => b.ReserveId)]);
    }
}

/// <summary>Reads the persisted Aave V3 state (writes go through <see cref="IChainStore.CommitAsync"/> with the checkpoint).</summary>
public interface IAaveV3StateStore
{
    Task<AaveV3StoredState> LoadAsync(ChainId chain, CancellationToken cancellationToken);

    /// <summary>
    /// In one snapshot like <see cref="LoadAsync"/>: the checkpoint and the rows whose latest version is newer than
    /// <paramref name="since"/>, a block an earlier load returned as its checkpoint, so that
    /// <c>earlier.Apply(changes)</c> equals a full load. Null when <paramref name="since"/> is no longer the store's
    /// block at its height (a rollback went below it) or the store no longer keeps that block: load it all then.
    /// </summary>
    Task<AaveV3StoredState?> LoadChangesAsync(ChainId chain, BlockRef since, CancellationToken cancellationToken);
}
