using ChainMargin.Core;
using ChainMargin.Indexing.Aave;
using ChainMargin.Risk.Aave;

namespace ChainMargin.Host.Aave;

/// <summary>
/// Maps the indexer's snapshot (Indexing types) to the calculator's input (Risk types). Indexing may not reference
/// Risk and the portfolio stage does not reference Indexing, so the mapping lives with whoever composes both: the host.
/// </summary>
public static class AaveV3Inputs
{
    public static AaveV3MarketInput Market(AaveV3Snapshot snapshot, long? timestamp = null)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var count = snapshot.Reserves.Count == 0 ? 0 : snapshot.Reserves.Max(r => r.Id) + 1;
        var reserves = new AaveV3ReserveInput?[count];
        foreach (var state in snapshot.Market.Reserves)
        {
            var d = state.Data;
            reserves[d.Id] = new AaveV3ReserveInput(
                d.Id, state.Asset, new AaveV3ReserveConfiguration(d.Configuration), d.LiquidityIndex, d.CurrentLiquidityRate,
                d.VariableBorrowIndex, d.CurrentVariableBorrowRate, d.LastUpdateTimestamp, state.Price, state.PriceReason);
        }

        var eModes = snapshot.Market.EModeCategories.ToDictionary(
            e => e.Category.Id,
            e => new AaveV3EModeCategoryInput(
                e.Category.Id, e.Category.Ltv, e.Category.LiquidationThreshold, e.Category.LiquidationBonus, e.Category.PriceSource,
                e.PriceSourcePrice, ""));
        return new AaveV3MarketInput(timestamp ?? snapshot.Market.Timestamp, reserves, eModes);
    }

    public static AaveV3UserInput User(AaveV3TrackedUser user)
    {
        ArgumentNullException.ThrowIfNull(user);
        return new(
            user.User,
            new AaveV3UserConfiguration(user.Configuration),
            user.EModeCategory,
            user.Balances.Select(b => new AaveV3UserReserveInput(
                b.ReserveId, b.ScaledATokenBalance, b.ScaledVariableDebt, b.StablePrincipal, b.StableRate, b.StableLastUpdated)).ToList());
    }

    public static AaveV3UserInput User(AaveV3Snapshot snapshot, EvmAddress user)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        return User(snapshot.Users.Single(u => u.User == user));
    }
}
