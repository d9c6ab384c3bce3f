using ChainMargin.Core;

namespace ChainMargin.Risk;

internal enum LegKind : byte
{
    Collateral,
    Debt,
    Perp,
    Option,
}

/// <summary>
/// One position reduced to doubles for the kernels: quantity in units of its canonical asset (signed: debts and shorts
/// negative), the weight that applies to its value, the perp entry price, the option series. Source is its index in
/// its list of the portfolio (collateral, debts, perps or options), for explanations.
/// </summary>
internal struct Leg
{
    public LegKind Kind;
    public int Asset;
    public int Chain;
    public int Series;
    public int Source;
    public double Qty;
    public double Weight;
    public double Entry;
}

/// <summary>A portfolio compiled against a market: its legs, its chains (ascending), which of them are stale.</summary>
internal sealed class CompiledAccount
{
    public required Portfolio Portfolio { get; init; }

    public required ChainId[] Chains { get; init; }

    public required bool[] Stale { get; init; }

    public required Leg[] Legs { get; init; }

    public required double CreditLimit { get; init; }

    /// <summary>What the compiler had to decide (an asset without risk parameters counts zero), said out loud.</summary>
    public required List<string> Notes { get; init; }

    public static CompiledAccount Compile(Portfolio portfolio, RiskMarket market)
    {
        ArgumentNullException.ThrowIfNull(portfolio);
        var chains = portfolio.Chains.ToArray();
        var stale = chains.Select(c => market.Snapshot.StaleChains.ContainsKey(c)).ToArray();
        var legs = new Leg[portfolio.Collateral.Count + portfolio.Debts.Count + portfolio.Perps.Count + portfolio.Options.Count];
        var notes = new List<string>();
        var n = 0;

        for (var i = 0; i < portfolio.Collateral.Count; i++)
        {
            var c = portfolio.Collateral[i];
            var (asset, haircut, configured) = market.Canonical(c.Asset);
            var index = market.AssetIndexOf(asset);
            var weight = market.Assets[index].Weight * (1 - haircut);
            if (!configured)
            {
                notes.Add($"no risk parameters for {c.Asset}: its collateral on chain {c.Chain} counts 0");
            }

            legs[n++] = new Leg { Kind = LegKind.Collateral, Asset = index, Chain = ChainOrdinal(chains, c.Chain), Series = -1, Source = i, Qty = c.Amount.ToDouble(), Weight = weight };
        }

        for (var i = 0; i < portfolio.Debts.Count; i++)
        {
            var d = portfolio.Debts[i];
            var (asset, _, _) = market.Canonical(d.Asset);

            // A liability counts in full whatever its collateral weight: weight 1, quantity negative.
            legs[n++] = new Leg { Kind = LegKind.Debt, Asset = market.AssetIndexOf(asset), Chain = ChainOrdinal(chains, d.Chain), Series = -1, Source = i, Qty = -d.Amount.ToDouble(), Weight = 1 };
        }

        for (var i = 0; i < portfolio.Perps.Count; i++)
        {
            var p = portfolio.Perps[i];
            var (asset, _, _) = market.Canonical(p.Underlying);
            legs[n++] = new Leg { Kind = LegKind.Perp, Asset = market.AssetIndexOf(asset), Chain = ChainOrdinal(chains, p.Chain), Series = -1, Source = i, Qty = p.Size.ToDouble(), Weight = 1, Entry = p.EntryPrice.ToDouble() };
        }

        for (var i = 0; i < portfolio.Options.Count; i++)
        {
            var o = portfolio.Options[i];
            var (asset, _, _) = market.Canonical(o.Underlying);
            var index = market.AssetIndexOf(asset);
            var series = market.SeriesIndexOf(index, o.Strike.ToDouble(), o.Expiry, o.IsCall);
            legs[n++] = new Leg { Kind = LegKind.Option, Asset = index, Chain = ChainOrdinal(chains, o.Chain), Series = series, Source = i, Qty = o.Size.ToDouble(), Weight = 1 };
        }

        // Sorting by (chain, asset, kind, source) makes every sum run in the same order whatever the order of the
        // portfolio's lists, so the result does not depend on how positions or chains were listed.
        Array.Sort(legs, static (a, b) =>
        {
            var c = a.Chain.CompareTo(b.Chain);
            c = c != 0 ? c : a.Asset.CompareTo(b.Asset);
            c = c != 0 ? c : a.Kind.CompareTo(b.Kind);
            c = c != 0 ? c : a.Series.CompareTo(b.Series);
            c = c != 0 ? c : a.Qty.CompareTo(b.Qty);
            c = c != 0 ? c : a.Entry.CompareTo(b.Entry);
            return c != 0 ? c : a.Weight.CompareTo(b.Weight);
        });

        return new CompiledAccount
        {
            Portfolio = portfolio, Chains = chains, Stale = stale, Legs = legs, CreditLimit = market.CreditLimit(portfolio.Account), Notes = notes,
        };
    }

    private static int ChainOrdinal(ChainId[] chains, ChainId chain) => Array.IndexOf(chains, chain);
}
