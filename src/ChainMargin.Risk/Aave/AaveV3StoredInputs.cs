using ChainMargin.Core;

namespace ChainMargin.Risk.Aave;

/// <summary>
/// The calculator's input from the persisted Aave V3 state: the latest version of every reserve, category and user,
/// priced and indexed as they were at the checkpoint, with interest accrued to <c>timestamp</c> (the checkpoint
/// block's by default, so the numbers are getUserAccountData's at the checkpoint).
/// </summary>
public static class AaveV3StoredInputs
{
    public static AaveV3MarketInput Market(AaveV3StoredState state, long? timestamp = null)
    {
        ArgumentNullException.ThrowIfNull(state);
        var live = state.Reserves.Where(r => !r.Dropped).ToList();
        var reserves = new AaveV3ReserveInput?[live.Count == 0 ? 0 : live.Max(r => r.ReserveId) + 1];
        foreach (var r in live)
        {
            reserves[r.ReserveId] = new AaveV3ReserveInput(
                r.ReserveId, r.Asset, new AaveV3ReserveConfiguration(r.Configuration), r.LiquidityIndex, r.LiquidityRate, r.VariableBorrowIndex,
                r.VariableBorrowRate, r.LastUpdateTimestamp, r.Price, r.PriceReason);
        }

        var eModes = state.EModes.ToDictionary(
            e => e.CategoryId,
            e => new AaveV3EModeCategoryInput(e.CategoryId, e.Ltv, e.LiquidationThreshold, e.LiquidationBonus, e.PriceSource, e.Price, ""));
        var at = timestamp ?? state.CheckpointTimestamp
            ?? throw new InvalidOperationException($"chain {state.Chain}: the checkpoint block's timestamp is not stored; pass the timestamp to accrue interest to");
        return new AaveV3MarketInput(at, reserves, eModes);
    }

    public static IReadOnlyList<AaveV3UserInput> Users(AaveV3StoredState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var balances = state.Balances.ToLookup(b => b.User);
        return state.Users.Select(u => new AaveV3UserInput(
            u.User,
            new AaveV3UserConfiguration(u.Configuration),
            u.EModeCategory,
            balances[u.User].OrderBy(b => b.ReserveId).Select(b => new AaveV3UserReserveInput(
                b.ReserveId, b.ScaledATokenBalance, b.ScaledVariableDebt, b.StablePrincipal, b.StableRate, b.StableLastUpdated)).ToList())).ToList();
    }
}
