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
    public required IReadOnlyList<string> Notes { get; init; }

    public static CompiledAccount Compile(Portfolio portfolio, RiskMarket market)
    {
        ArgumentNullException.ThrowIfNull(portfolio);
        var chains = ChainsOf(portfolio);
        var stale = new bool[chains.Length];
        if (market.Snapshot.StaleChains.Count > 0)
        {
            for (var c = 0; c < chains.Length; c++)
            {
                stale[c] = market.Snapshot.StaleChains.ContainsKey(chains[c]);
            }
        }

        var legs = new Leg[portfolio.Collateral.Count + portfolio.Debts.Count + portfolio.Perps.Count + portfolio.Options.Count];
        List<string>? notes = null;
        var assets = market.Assets;
        var n = 0;

        for (var i = 0; i < portfolio.Collateral.Count; i++)
        {
            var c = portfolio.Collateral[i];
            var asset = market.Resolve(c.Asset);
            if (asset.Index >= assets.Length)
            {
                assets = market.Assets;
            }

            if (!asset.Configured)
            {
                (notes ??= []).Add($"no risk parameters for {c.Asset}: its collateral on chain {c.Chain} counts 0");
            }

            var weight = assets[asset.Index].Weight * (1 - asset.Haircut);
            legs[n++] = new Leg { Kind = LegKind.Collateral, Asset = asset.Index, Chain = ChainOrdinal(chains, c.Chain), Series = -1, Source = i, Qty = KernelUnits.ToDouble(c.Amount), Weight = weight };
        }

        for (var i = 0; i < portfolio.Debts.Count; i++)
        {
            var d = portfolio.Debts[i];

            // A liability counts in full whatever its collateral weight: weight 1, quantity negative.
            legs[n++] = new Leg { Kind = LegKind.Debt, Asset = market.Resolve(d.Asset).Index, Chain = ChainOrdinal(chains, d.Chain), Series = -1, Source = i, Qty = -KernelUnits.ToDouble(d.Amount), Weight = 1 };
        }

        for (var i = 0; i < portfolio.Perps.Count; i++)
        {
            var p = portfolio.Perps[i];
            legs[n++] = new Leg
            {
                Kind = LegKind.Perp, Asset = market.Resolve(p.Underlying).Index, Chain = ChainOrdinal(chains, p.Chain), Series = -1, Source = i,
                Qty = KernelUnits.ToDouble(p.Size), Weight = 1, Entry = KernelUnits.ToDouble(p.EntryPrice),
            };
        }

        for (var i = 0; i < portfolio.Options.Count; i++)
        {
            var o = portfolio.Options[i];
            var index = market.Resolve(o.Underlying).Index;
            var series = market.SeriesIndexOf(index, KernelUnits.ToDouble(o.Strike), o.Expiry, o.IsCall);
            legs[n++] = new Leg { Kind = LegKind.Option, Asset = index, Chain = ChainOrdinal(chains, o.Chain), Series = series, Source = i, Qty = KernelUnits.ToDouble(o.Size), Weight = 1 };
        }

        SortLegs(legs);

        return new CompiledAccount
        {
            Portfolio = portfolio, Chains = chains, Stale = stale, Legs = legs, CreditLimit = market.CreditLimit(portfolio.Account), Notes = (IReadOnlyList<string>?)notes ?? Array.Empty<string>(),
        };
    }

    /// <summary>
    /// Sorting by (chain, asset, kind, series, values) makes every sum run in the same order whatever the order of the
    /// portfolio's lists, so the result does not depend on how positions or chains were listed.
    /// </summary>
    internal static void SortLegs(Leg[] legs) =>
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

    /// <summary>The portfolio's chains in ascending order (what Portfolio.Chains gives, without its LINQ allocations).</summary>
    private static ChainId[] ChainsOf(Portfolio portfolio)
    {
        Span<ulong> seen = stackalloc ulong[16];
        var count = 0;
        var overflow = false;

        foreach (var c in portfolio.Collateral)
        {
            Note(c.Chain.Value, seen, ref count, ref overflow);
        }

        foreach (var d in portfolio.Debts)
        {
            Note(d.Chain.Value, seen, ref count, ref overflow);
        }

        foreach (var p in portfolio.Perps)
        {
            Note(p.Chain.Value, seen, ref count, ref overflow);
        }

        foreach (var o in portfolio.Options)
        {
            Note(o.Chain.Value, seen, ref count, ref overflow);
        }

        if (overflow)
        {
            return [.. portfolio.Chains];
        }

        var values = seen[..count];
        values.Sort();
        var result = new ChainId[count];
        for (var i = 0; i < count; i++)
        {
            result[i] = new ChainId(values[i]);
        }

        return result;
    }

    private static void Note(ulong chain, Span<ulong> seen, ref int count, ref bool overflow)
    {
        for (var i = 0; i < count; i++)
        {
            if (seen[i] == chain)
            {
                return;
            }
        }

        if (count == seen.Length)
        {
            overflow = true;
            return;
        }

        seen[count++] = chain;
    }

    private static int ChainOrdinal(ChainId[] chains, ChainId chain)
    {
        for (var i = 0; i < chains.Length; i++)
        {
            if (chains[i].Value == chain.Value)
            {
                return i;
            }
        }

        return -1;
    }
}
