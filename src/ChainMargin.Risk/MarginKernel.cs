namespace ChainMargin.Risk;

/// <summary>Indexes of the grid/standard-rule methods in kernel output (the statistical methods run in <see cref="VarKernel"/>).</summary>
internal static class K
{
    public const int Isolated = 0;
    public const int Cross = 1;
    public const int Portfolio = 2;
    public const int Dynamic = 3;
    public const int Credit = 4;
    public const int Count = 5;
}

/// <summary>One method's numbers for one account, in double, before they are reported.</summary>
internal struct MethodNumbers
{
    public double Equity;
    public double Maintenance;
    public double Initial;

    /// <summary>Isolated margin's health is its weakest chain's; the others use Equity / Maintenance.</summary>
    public double HealthValue;
    public bool HasHealth;
    public MarginStatus Status;

    /// <summary>Equity minus maintenance; for isolated margin the weakest chain's. Negative: liquidatable.</summary>
    public double Excess;
    public int ScenarioAsset;
    public int ScenarioIndex;
    public double ScenarioLoss;
}

/// <summary>Per-thread working memory, grown on demand so a sweep allocates nothing per account.</summary>
internal sealed class KernelScratch
{
    [ThreadStatic]
    private static KernelScratch? _current;

    public int[] GroupAsset = new int[16];
    public double[] GroupNet = new double[16];
    public double[] GroupLinear = new double[16];
    public double[] GroupShortOptions = new double[16];
    public double[] GroupLongOptions = new double[16];
    public double[] GroupLongPerps = new double[16];
    public double[] GroupShortPerps = new double[16];
    public double[] GroupWorst = new double[16];
    public bool[] GroupHasGrid = new bool[16];
    public int[] GroupWorstIndex = new int[16];
    public double[] Loss = new double[16 * 64];
    public double[] ChainEquity = new double[8];
    public double[] ChainMaintenance = new double[8];
    public double[] ChainInitial = new double[8];
    public double[] Pnl = [];

    public static KernelScratch Current => _current ??= new KernelScratch();

    public void Ensure(int legs, int chains, int scenarios)
    {
        if (GroupAsset.Length < legs)
        {
            var size = Math.Max(legs, GroupAsset.Length * 2);
            GroupAsset = new int[size];
            GroupNet = new double[size];
            GroupLinear = new double[size];
            GroupShortOptions = new double[size];
            GroupLongOptions = new double[size];
            GroupLongPerps = new double[size];
            GroupShortPerps = new double[size];
            GroupWorst = new double[size];
            GroupHasGrid = new bool[size];
            GroupWorstIndex = new int[size];
        }

        if (Loss.Length < GroupAsset.Length * scenarios)
        {
            Loss = new double[GroupAsset.Length * scenarios];
        }

        if (ChainEquity.Length < chains)
        {
            ChainEquity = new double[chains * 2];
            ChainMaintenance = new double[chains * 2];
            ChainInitial = new double[chains * 2];
        }
    }
}

/// <summary>
/// The margin kernel: standard rules (isolated, cross, dynamic), the portfolio-margin grid and the credit line, for
/// one account's legs, in double. With explanation buffers it also writes each leg's equity and requirement per
/// method; the same code runs for a single account and for a sweep, so the two cannot disagree.
/// </summary>
internal static class MarginKernel
{
    private const double Epsilon = 1e-9;

    public static MarginStatus AccountStatus(ReadOnlySpan<Leg> legs, ReadOnlySpan<bool> stale, AssetState[] assets, SeriesState[] series)
    {
        var status = MarginStatus.Ok;
        foreach (ref readonly var leg in legs)
        {
            var asset = assets[leg.Asset];
            if (!asset.HasPrice || (leg.Kind == LegKind.Option && !series[leg.Series].Priced))
            {
                return MarginStatus.Unpriced;
            }

            if (asset.Status == Core.PriceStatus.Unsafe)
            {
                status = MarginStatus.PriceUnsafe;
            }
            else if (stale[leg.Chain] && status < MarginStatus.Stale)
            {
                status = MarginStatus.Stale;
            }
        }

        return status;
    }

    /// <summary>
    /// Runs every non-statistical method. <paramref name="legEquity"/> and <paramref name="legRequirement"/> are
    /// either empty or K.Count x legs (method-major).
    /// </summary>
    public static void Run(
        ReadOnlySpan<Leg> legs, ReadOnlySpan<bool> stale, double creditLimit, AssetState[] assets, SeriesState[] series, RiskMarket market,
        Span<MethodNumbers> output, Span<double> legEquity, Span<double> legRequirement)
    {
        var scratch = KernelScratch.Current;
        scratch.Ensure(legs.Length, stale.Length, market.ScenarioCount);
        output.Clear();
        var status = AccountStatus(legs, stale, assets, series);
        if (status == MarginStatus.Unpriced)
        {
            for (var m = 0; m < K.Count; m++)
            {
                output[m].Status = MarginStatus.Unpriced;
            }

            return;
        }

        var explain = !legEquity.IsEmpty;
        var n = legs.Length;

        // Isolated: each chain on its own collateral. Legs are sorted by chain, so each chain is one slice.
        var isolated = new MethodNumbers { HealthValue = double.PositiveInfinity, Excess = double.PositiveInfinity };
        var start = 0;
        while (start < n)
        {
            var end = start;
            while (end < n && legs[end].Chain == legs[start].Chain)
            {
                end++;
            }

            var chain = StandardRules(legs[start..end], assets, series, market, false, scratch,
                explain ? legEquity.Slice((K.Isolated * n) + start, end - start) : default,
                explain ? legRequirement.Slice((K.Isolated * n) + start, end - start) : default);
            isolated.Equity += chain.Equity;
            isolated.Maintenance += chain.Maintenance;
            isolated.Initial += chain.Initial;
            isolated.Excess = Math.Min(isolated.Excess, chain.Equity - chain.Maintenance);
            if (chain.Maintenance > Epsilon)
            {
                isolated.HealthValue = Math.Min(isolated.HealthValue, chain.Equity / chain.Maintenance);
                isolated.HasHealth = true;
            }

            start = end;
        }

        if (!isolated.HasHealth)
        {
            isolated.HealthValue = 0;
        }

        if (n == 0)
        {
            isolated.Excess = 0;
        }

        output[K.Isolated] = isolated;
        output[K.Cross] = StandardRules(legs, assets, series, market, false, scratch, Slice(legEquity, K.Cross, n), Slice(legRequirement, K.Cross, n));
        output[K.Dynamic] = StandardRules(legs, assets, series, market, true, scratch, Slice(legEquity, K.Dynamic, n), Slice(legRequirement, K.Dynamic, n));
        output[K.Portfolio] = PortfolioGrid(legs, assets, series, market, scratch, Slice(legEquity, K.Portfolio, n), Slice(legRequirement, K.Portfolio, n));

        // Credit: the portfolio-margin requirement (net risk of the whole portfolio), the line counted in equity.
        var credit = output[K.Portfolio];
        credit.Equity += creditLimit;
        output[K.Credit] = credit;
        if (explain)
        {
            legEquity.Slice(K.Portfolio * n, n).CopyTo(legEquity.Slice(K.Credit * n, n));
            legRequirement.Slice(K.Portfolio * n, n).CopyTo(legRequirement.Slice(K.Credit * n, n));
        }

        for (var m = 0; m < K.Count; m++)
        {
            ref var o = ref output[m];
            if (m != K.Isolated)
            {
                o.HasHealth = o.Maintenance > Epsilon;
                o.HealthValue = o.HasHealth ? o.Equity / o.Maintenance : 0;
                o.Excess = o.Equity - o.Maintenance;
            }

            o.Status = o.HasHealth ? status : (MarginStatus)Math.Max((int)status, (int)MarginStatus.NoRequirement);
        }
    }

    private static Span<double> Slice(Span<double> buffer, int method, int n) => buffer.IsEmpty ? default : buffer.Slice(method * n, n);

    /// <summary>
    /// Standard rules: collateral x price x weight, debts and perp P&amp;L in full, long options at a haircut. Perps are
    /// margined on the net size per underlying (one canonical asset whatever the chain) with size tiers; short options by
    /// the SPAN-style minimum plus mark; debts by a fraction. Dynamic scales every fraction by the asset's vol scale.
    /// An option leg takes the spot and value of the side of a disagreeing price worse for its holder.
    /// </summary>
    private static MethodNumbers StandardRules(
        ReadOnlySpan<Leg> legs, AssetState[] assets, SeriesState[] series, RiskMarket market, bool dynamic, KernelScratch scratch,
        Span<double> legEquity, Span<double> legRequirement)
    {
        var config = market.Config;
        var explain = !legEquity.IsEmpty;
        var result = default(MethodNumbers);
        var groups = 0;
        var haircut = config.Options.LongHaircut;
        var mA = config.Options.Maintenance.A;
        var mB = config.Options.Maintenance.B;
        var iA = config.Options.Initial.A;
        var iB = config.Options.Initial.B;
        for (var i = 0; i < legs.Length; i++)
        {
            ref readonly var leg = ref legs[i];
            var asset = assets[leg.Asset];
            var spot = asset.Spot;
            var scale = dynamic ? asset.DynamicScale : 1.0;
            double equity, requirement = 0;
            switch (leg.Kind)
            {
                case LegKind.Collateral:
                    equity = leg.Qty * spot * leg.Weight;
                    break;
                case LegKind.Debt:
                    equity = leg.Qty * asset.SpotHigh;
                    requirement = -equity * config.Debts.MaintenanceFraction * scale;
                    result.Initial += -equity * config.Debts.InitialFraction * scale;
                    break;
                case LegKind.Perp:
                    equity = leg.Qty * (asset.Mark(leg.Qty) - leg.Entry);
                    var g = FindGroup(scratch.GroupAsset, ref groups, leg.Asset, scratch);
                    scratch.GroupNet[g] += leg.Qty;
                    break;
                default:
                    // The side of a disagreeing price that is worse for the holder: its spot and value throughout.
                    var s = series[leg.Series];
                    var high = s.AtHigh(leg.Qty);
                    var optionSpot = high ? asset.SpotHigh : spot;
                    var optionValue = high ? s.ValueHigh : s.Value;
                    var value = leg.Qty * optionValue;
                    equity = value > 0 ? value * (1 - haircut) : value;
                    if (leg.Qty < 0)
                    {
                        var otm = s.IsCall ? Math.Max(0, s.Strike - optionSpot) : Math.Max(0, optionSpot - s.Strike);
                        var units = -leg.Qty;
                        requirement = units * (Math.Max((mA * scale * optionSpot) - otm, mB * scale * optionSpot) + optionValue);
                        result.Initial += units * (Math.Max((iA * scale * optionSpot) - otm, iB * scale * optionSpot) + optionValue);
                    }

                    break;
            }

            result.Equity += equity;
            result.Maintenance += requirement;
            if (explain)
            {
                legEquity[i] = equity;
                legRequirement[i] = requirement;
            }
        }

        for (var g = 0; g < groups; g++)
        {
            var asset = assets[scratch.GroupAsset[g]];
            var net = scratch.GroupNet[g];
            var notional = Math.Abs(net) * asset.Mark(net);
            var (mmf, imf) = Fractions(config.Perps, notional);
            var scale = dynamic ? asset.DynamicScale : 1.0;
            var requirement = notional * mmf * scale;
            result.Maintenance += requirement;
            result.Initial += notional * imf * scale;
            if (explain && net != 0)
            {
                // Each perp carries its signed share of the net requirement: offsetting positions show negative shares.
                for (var i = 0; i < legs.Length; i++)
                {
                    if (legs[i].Kind == LegKind.Perp && legs[i].Asset == scratch.GroupAsset[g])
                    {
                        legRequirement[i] += requirement * legs[i].Qty / net;
                    }
                }
            }
        }

        return result;
    }

    internal static (double Maintenance, double Initial) Fractions(PerpRiskOptions perps, double notional)
    {
        var mmf = perps.MaintenanceFraction;
        var imf = perps.InitialFraction;
        foreach (var tier in perps.Tiers)
        {
            if (notional > tier.NotionalAbove)
            {
                mmf = tier.MaintenanceFraction;
                imf = tier.InitialFraction;
            }
        }

        return (mmf, imf);
    }

    /// <summary>
    /// Portfolio margin: every underlying (collateral and debts in it included) fully revalued over spot x vol shocks;
    /// requirement = sum over underlyings of the worst loss, plus contingencies for uncovered short options and for
    /// perps hedged across venues (basis). Stable assets are not shocked. Options count at full mark value, each leg's
    /// value and grid taken at the side of a disagreeing price worse for its holder (the grid shocks that side's spot).
    /// </summary>
    private static MethodNumbers PortfolioGrid(
        ReadOnlySpan<Leg> legs, AssetState[] assets, SeriesState[] series, RiskMarket market, KernelScratch scratch,
        Span<double> legEquity, Span<double> legRequirement)
    {
        var config = market.Config;
        var explain = !legEquity.IsEmpty;
        var scenarios = market.ScenarioCount;
        var spotSteps = market.SpotShocks.Length;
        var volSteps = market.VolShocks.Length;
        var shocks = market.SpotShocks;
        var result = default(MethodNumbers);
        result.ScenarioAsset = -1;
        var groups = 0;
        for (var i = 0; i < legs.Length; i++)
        {
            ref readonly var leg = ref legs[i];
            var asset = assets[leg.Asset];
            var g = FindGroup(scratch.GroupAsset, ref groups, leg.Asset, scratch);
            double equity;
            switch (leg.Kind)
            {
                case LegKind.Collateral:
                case LegKind.Debt:
                    equity = leg.Qty * asset.Mark(leg.Qty) * leg.Weight;
                    if (!asset.Stable)
                    {
                        scratch.GroupLinear[g] += equity;
                    }

                    break;
                case LegKind.Perp:
                    var mark = asset.Mark(leg.Qty);
                    equity = leg.Qty * (mark - leg.Entry);
                    scratch.GroupLinear[g] += leg.Qty * mark;
                    if (leg.Qty > 0)
                    {
                        scratch.GroupLongPerps[g] += leg.Qty;
                    }
                    else
                    {
                        scratch.GroupShortPerps[g] -= leg.Qty;
                    }

                    break;
                default:
                    var s = series[leg.Series];
                    var q = leg.Qty;
                    var high = s.AtHigh(q);
                    var grid = high ? s.GridHigh : s.Grid;
                    var v0 = high ? s.ValueHigh : s.Value;
                    equity = q * v0;
                    var loss = scratch.Loss.AsSpan(g * scenarios, scenarios);
                    if (!scratch.GroupHasGrid[g])
                    {
                        // Only underlyings with options need the scenario array; linear ones have a closed form below.
                        loss.Clear();
                        scratch.GroupHasGrid[g] = true;
                    }

                    for (var k = 0; k < scenarios; k++)
                    {
                        loss[k] -= q * (grid[k] - v0);
                    }

                    if (q > 0)
                    {
                        scratch.GroupLongOptions[g] += q;
                    }
                    else
                    {
                        scratch.GroupShortOptions[g] -= q;
                    }

                    break;
            }

            result.Equity += equity;
            if (explain)
            {
                legEquity[i] = equity;
                legRequirement[i] = 0;
            }
        }

        var worstOverall = double.NegativeInfinity;
        for (var g = 0; g < groups; g++)
        {
            var asset = assets[scratch.GroupAsset[g]];
            var linear = scratch.GroupLinear[g];
            var worst = double.NegativeInfinity;
            var worstIndex = 0;
            var k = 0;
            var rows = volSteps;
            if (!scratch.GroupHasGrid[g])
            {
                // Linear only: the loss -linear x shock is largest at an end of the (ascending) spot shocks, in the
                // first vol row; the same numbers and the same first-maximum choice as the scan below.
                var down = -(linear * shocks[0]);
                var up = -(linear * shocks[spotSteps - 1]);
                (worst, worstIndex) = up > down ? (up, spotSteps - 1) : (down, 0);
                rows = 0;
            }

            var loss = scratch.Loss.AsSpan(g * scenarios, scenarios);
            for (var j = 0; j < rows; j++)
            {
                for (var i = 0; i < spotSteps; i++, k++)
                {
                    var l = loss[k] - (linear * shocks[i]);
                    if (l > worst)
                    {
                        worst = l;
                        worstIndex = k;
                    }
                }
            }

            scratch.GroupWorst[g] = worst;
            scratch.GroupWorstIndex[g] = worstIndex;
            var scan = Math.Max(0, worst);
            var uncovered = Math.Max(0, scratch.GroupShortOptions[g] - scratch.GroupLongOptions[g]);
            var naked = uncovered * asset.SpotHigh * config.Grid.NakedShortContingency;
            var hedged = Math.Min(scratch.GroupLongPerps[g], scratch.GroupShortPerps[g]);
            var basis = hedged * asset.Spot * config.Grid.BasisContingency;
            result.Maintenance += scan + naked + basis;
            if (scan > 0 && worst > worstOverall)
            {
                worstOverall = worst;
                result.ScenarioAsset = scratch.GroupAsset[g];
                result.ScenarioIndex = worstIndex;
                result.ScenarioLoss = worst;
            }

            if (explain)
            {
                var shock = shocks[worstIndex % spotSteps];
                var shortOptions = scratch.GroupShortOptions[g];
                var perps = scratch.GroupLongPerps[g] + scratch.GroupShortPerps[g];
                for (var i = 0; i < legs.Length; i++)
                {
                    ref readonly var leg = ref legs[i];
                    if (leg.Asset != scratch.GroupAsset[g])
                    {
                        continue;
                    }

                    var share = 0.0;
                    if (scan > 0)
                    {
                        share = leg.Kind switch
                        {
                            LegKind.Option => -leg.Qty * OptionMove(series[leg.Series], leg.Qty, worstIndex),
                            LegKind.Perp => -leg.Qty * asset.Mark(leg.Qty) * shock,
                            _ => asset.Stable ? 0 : -leg.Qty * asset.Mark(leg.Qty) * leg.Weight * shock,
                        };
                    }

                    if (leg.Kind == LegKind.Option && leg.Qty < 0 && shortOptions > 0)
                    {
                        share += naked * -leg.Qty / shortOptions;
                    }
                    else if (leg.Kind == LegKind.Perp && perps > 0)
                    {
                        share += basis * Math.Abs(leg.Qty) / perps;
                    }

                    legRequirement[i] = share;
                }
            }
        }

        result.Initial = result.Maintenance * config.Grid.InitialMultiplier;
        return result;
    }

    /// <summary>The loss of each underlying in each grid scenario (scenario-major per underlying), for tests and reports.</summary>
    internal static double[][] GridLosses(ReadOnlySpan<Leg> legs, AssetState[] assets, SeriesState[] series, RiskMarket market, out int[] groupAssets)
    {
        var scratch = KernelScratch.Current;
        scratch.Ensure(legs.Length, 1, market.ScenarioCount);
        var scenarios = market.ScenarioCount;
        var groups = 0;
        for (var i = 0; i < legs.Length; i++)
        {
            FindGroup(scratch.GroupAsset, ref groups, legs[i].Asset, scratch);
        }

        groupAssets = scratch.GroupAsset[..groups];
        var result = new double[groups][];
        for (var g = 0; g < groups; g++)
        {
            result[g] = new double[scenarios];
            for (var i = 0; i < legs.Length; i++)
            {
                ref readonly var leg = ref legs[i];
                if (leg.Asset != groupAssets[g])
                {
                    continue;
                }

                var asset = assets[leg.Asset];
                for (var k = 0; k < scenarios; k++)
                {
                    var shock = market.SpotShocks[k % market.SpotShocks.Length];
                    result[g][k] -= leg.Kind switch
                    {
                        LegKind.Option => leg.Qty * OptionMove(series[leg.Series], leg.Qty, k),
                        LegKind.Perp => leg.Qty * asset.Mark(leg.Qty) * shock,
                        _ => asset.Stable ? 0 : leg.Qty * asset.Mark(leg.Qty) * leg.Weight * shock,
                    };
                }
            }
        }

        return result;
    }

    /// <summary>A leg's per-unit value change in grid scenario k, on the side of the price it is valued at.</summary>
    private static double OptionMove(SeriesState s, double qty, int k) =>
        s.AtHigh(qty) ? s.GridHigh[k] - s.ValueHigh : s.Grid[k] - s.Value;

    private static int FindGroup(int[] groupAsset, ref int groups, int asset, KernelScratch scratch)
    {
        for (var g = 0; g < groups; g++)
        {
            if (groupAsset[g] == asset)
            {
                return g;
            }
        }

        var index = groups++;
        groupAsset[index] = asset;
        scratch.GroupNet[index] = 0;
        scratch.GroupLinear[index] = 0;
        scratch.GroupShortOptions[index] = 0;
        scratch.GroupLongOptions[index] = 0;
        scratch.GroupLongPerps[index] = 0;
        scratch.GroupShortPerps[index] = 0;
        scratch.GroupHasGrid[index] = false;
        return index;
    }
}
