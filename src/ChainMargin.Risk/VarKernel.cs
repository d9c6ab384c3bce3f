using System.Numerics;
using System.Runtime.InteropServices;

namespace ChainMargin.Risk;

/// <summary>Numbers of one statistical method (historical or Monte Carlo) for one account.</summary>
internal struct VarNumbers
{
    public double Equity;
    public double Maintenance;
    public double Initial;
    public MarginStatus Status;
    public int MissingAsset;
    public int ScenarioIndex;
    public double ScenarioLoss;
}

/// <summary>
/// VaR and ES from shared factor scenarios. An account's exposures are delta (USD per unit log-return) and gamma
/// (options) per underlying, so its P&amp;L over all scenarios is exposures x scenarios: a few vectorised passes over
/// the factor-major scenario arrays. VaR at confidence c is the k-th largest loss with k = ceil(N (1 - c)); ES the mean
/// of the k largest, hence ES &gt;= VaR always.
/// </summary>
internal static class VarKernel
{
    /// <summary>
    /// <paramref name="measures"/> receives (VaR, ES) per configured confidence. <paramref name="legRequirement"/>, when
    /// not empty, receives each leg's component of the maintenance measure (they sum to it).
    /// </summary>
    public static VarNumbers Run(
        ReadOnlySpan<Leg> legs, AssetState[] assets, SeriesState[] series, FactorScenarios? scenarios, RiskConfig config,
        MarginStatus accountStatus, Span<double> measures, Span<double> legRequirement)
    {
        var result = new VarNumbers { MissingAsset = -1, ScenarioIndex = -1 };
        if (accountStatus == MarginStatus.Unpriced)
        {
            result.Status = MarginStatus.Unpriced;
            return result;
        }

        var scratch = KernelScratch.Current;
        scratch.Ensure(legs.Length, 1, 1);
        var groups = 0;
        for (var i = 0; i < legs.Length; i++)
        {
            ref readonly var leg = ref legs[i];
            var asset = assets[leg.Asset];
            var g = Group(scratch, ref groups, leg.Asset);
            switch (leg.Kind)
            {
                case LegKind.Collateral:
                case LegKind.Debt:
                    var value = leg.Qty * asset.Mark(leg.Qty) * leg.Weight;
                    result.Equity += value;
                    if (!asset.Stable)
                    {
                        scratch.GroupNet[g] += value;
                    }

                    break;
                case LegKind.Perp:
                    var mark = asset.Mark(leg.Qty);
                    result.Equity += leg.Qty * (mark - leg.Entry);
                    scratch.GroupNet[g] += leg.Qty * mark;
                    break;
                default:
                    // Options stay at the low spot here (value and Greeks) even when the chains disagree: the
                    // statistical methods are not yet two-sided for options, unlike the margin kernel's methods.
                    var s = series[leg.Series];
                    result.Equity += leg.Qty * s.Value;
                    scratch.GroupNet[g] += leg.Qty * s.Delta * asset.Spot;
                    scratch.GroupLinear[g] += leg.Qty * s.Gamma * asset.Spot * asset.Spot;
                    break;
            }
        }

        if (scenarios is null)
        {
            result.Status = MarginStatus.NotComputed;
            return result;
        }

        Span<int> groupFactor = groups <= 64 ? stackalloc int[groups] : new int[groups];
        var active = 0;
        for (var g = 0; g < groups; g++)
        {
            var asset = assets[scratch.GroupAsset[g]];
            groupFactor[g] = asset.Factor;
            if (scratch.GroupNet[g] == 0 && scratch.GroupLinear[g] == 0)
            {
                continue;
            }

            if (asset.Factor < 0)
            {
                result.Status = MarginStatus.NotComputed;
                result.MissingAsset = scratch.GroupAsset[g];
                return result;
            }

            active++;
        }

        var count = scenarios.Count;
        if (count == 0)
        {
            result.Status = MarginStatus.NotComputed;
            return result;
        }

        if (scratch.Pnl.Length < count * 2)
        {
            scratch.Pnl = new double[count * 2];
        }

        var losses = scratch.Pnl.AsSpan(0, count);
        losses.Clear();

        // Blocks of scenarios small enough that the block's losses stay in L1 while every underlying is added in.
        const int block = 1024;
        for (var from = 0; from < count; from += block)
        {
            var length = Math.Min(block, count - from);
            var part = losses.Slice(from, length);
            for (var g = 0; g < groups; g++)
            {
                var delta = scratch.GroupNet[g];
                var gamma = scratch.GroupLinear[g];
                if ((delta == 0 && gamma == 0) || groupFactor[g] < 0)
                {
                    continue;
                }

                AddLoss(part, scenarios.Returns[groupFactor[g]].AsSpan(from, length), delta, 0.5 * gamma);
            }
        }

        var v = config.Var;
        var confidences = v.Confidences;
        var take = TailCount(count, v.MaintenanceConfidence);
        foreach (var c in confidences)
        {
            take = Math.Max(take, TailCount(count, c));
        }

        // Selection works in place; the explanation needs the losses in scenario order, so it gets a copy first.
        var original = legRequirement.IsEmpty ? null : losses.ToArray();
        var top = TopLargest(losses, take, scratch.Pnl.AsSpan(count, count));

        // Tail counts, largest first: each partition narrows the previous one, so every k costs O(k), not a sort.
        Span<int> ks = stackalloc int[confidences.Count + 1];
        for (var i = 0; i < confidences.Count; i++)
        {
            ks[i] = TailCount(count, confidences[i]);
        }

        var km = TailCount(count, v.MaintenanceConfidence);
        ks[^1] = km;
        Span<double> tailVar = stackalloc double[ks.Length];
        Span<double> tailEs = stackalloc double[ks.Length];
        Span<int> order = stackalloc int[ks.Length];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        var keys = ks.ToArray();
        var orderArray = order.ToArray();
        Array.Sort(keys, orderArray);
        for (var j = orderArray.Length - 1; j >= 0; j--)
        {
            var k = keys[j];
            SelectLargest(top, k);
            top = top[..k];
            var (min, mean) = MinMean(top);

            // ES is the mean of values that are all >= VaR; the max only absorbs rounding in the last bit.
            tailVar[orderArray[j]] = min;
            tailEs[orderArray[j]] = Math.Max(mean, min);
        }

        for (var i = 0; i < confidences.Count && (2 * i) + 1 < measures.Length; i++)
        {
            measures[2 * i] = tailVar[i];
            measures[(2 * i) + 1] = tailEs[i];
        }

        var maintenanceMeasure = v.MaintenanceMeasure == "VaR" ? tailVar[^1] : tailEs[^1];
        result.Maintenance = Math.Max(0, maintenanceMeasure);
        result.Initial = result.Maintenance * v.InitialMultiplier;
        result.ScenarioLoss = tailVar[^1];
        result.ScenarioIndex = original is null ? -1 : Array.IndexOf(original, tailVar[^1]);
        result.Status = result.Maintenance > 1e-9 ? accountStatus : (MarginStatus)Math.Max((int)accountStatus, (int)MarginStatus.NoRequirement);

        if (!legRequirement.IsEmpty && result.Maintenance > 0)
        {
            Components(legs, assets, series, scenarios, original!, km, v.MaintenanceMeasure == "VaR", result.Maintenance, legRequirement);
        }

        return result;
    }

    public static int TailCount(int scenarios, double confidence) =>
        Math.Clamp((int)Math.Ceiling(Math.Round(scenarios * (1 - confidence), 9)), 1, scenarios);

    /// <summary>loss[s] -= delta r[s] + halfGamma r[s]^2, vectorised.</summary>
    private static void AddLoss(Span<double> losses, ReadOnlySpan<double> returns, double delta, double halfGamma)
    {
        var i = 0;
        if (halfGamma == 0)
        {
            AddLinearLoss(losses, returns, delta);
            return;
        }

        if (Vector.IsHardwareAccelerated)
        {
            var w = Vector<double>.Count;
            var d = new Vector<double>(delta);
            var h = new Vector<double>(halfGamma);
            ref var rr = ref MemoryMarshal.GetReference(returns);
            ref var ll = ref MemoryMarshal.GetReference(losses);
            var n = Math.Min(losses.Length, returns.Length);
            for (; i <= n - w; i += w)
            {
                var r = Vector.LoadUnsafe(ref rr, (nuint)i);
                var l = Vector.LoadUnsafe(ref ll, (nuint)i);
                (l - (r * (d + (h * r)))).StoreUnsafe(ref ll, (nuint)i);
            }
        }

        for (; i < losses.Length; i++)
        {
            var r = returns[i];
            losses[i] -= r * (delta + (halfGamma * r));
        }
    }

    private static void AddLinearLoss(Span<double> losses, ReadOnlySpan<double> returns, double delta)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var w = Vector<double>.Count;
            var d = new Vector<double>(delta);
            ref var rr = ref MemoryMarshal.GetReference(returns);
            ref var ll = ref MemoryMarshal.GetReference(losses);
            var n = Math.Min(losses.Length, returns.Length);
            for (; i <= n - w; i += w)
            {
                var r = Vector.LoadUnsafe(ref rr, (nuint)i);
                var l = Vector.LoadUnsafe(ref ll, (nuint)i);
                (l - (r * d)).StoreUnsafe(ref ll, (nuint)i);
            }
        }

        for (; i < losses.Length; i++)
        {
            losses[i] -= returns[i] * delta;
        }
    }

    private static (double Min, double Mean) MinMean(ReadOnlySpan<double> values)
    {
        var sum = 0.0;
        var min = double.PositiveInfinity;
        foreach (var value in values)
        {
            sum += value;
            min = Math.Min(min, value);
        }

        return (min, sum / values.Length);
    }

    /// <summary>
    /// The k largest values, in no order. A sample of every 32nd value gives a threshold that about 1.5 k values
    /// pass; one well-predicted filtering pass collects them and only those are partitioned. If the sample misleads (fewer
    /// than k pass, or far too many), an exact quickselect does the work. The result is exact either way.
    /// </summary>
    internal static Span<double> TopLargest(Span<double> values, int k, Span<double> buffer)
    {
        var n = values.Length;
        if (n >= 2048 && k * 8 <= n)
        {
            const int stride = 32;
            var m = n / stride;
            Span<double> sample = m <= 1024 ? stackalloc double[m] : new double[m];
            for (var i = 0; i < m; i++)
            {
                sample[i] = values[i * stride];
            }

            sample.Sort();
            var rank = Math.Min(m - 1, ((k * 3 / 2) + stride - 1) / stride + 2);
            var threshold = sample[m - 1 - rank];
            var count = 0;
            var limit = Math.Min(buffer.Length, k * 4);
            for (var i = 0; i < n; i++)
            {
                if (values[i] >= threshold)
                {
                    if (count == limit)
                    {
                        count = -1;
                        break;
                    }

                    buffer[count++] = values[i];
                }
            }

            if (count >= k)
            {
                var passed = buffer[..count];
                SelectLargest(passed, k);
                return passed[..k];
            }
        }

        SelectLargest(values, k);
        return values[..k];
    }

    /// <summary>Quickselect: afterwards values[..k] hold the k largest values (in no order). Expected O(n).</summary>
    internal static void SelectLargest(Span<double> values, int k)
    {
        var lo = 0;
        var hi = values.Length - 1;
        var target = k - 1;
        while (lo < hi)
        {
            var mid = lo + ((hi - lo) / 2);
            var pivot = Median(values[lo], values[mid], values[hi]);
            var i = lo;
            var j = hi;
            while (i <= j)
            {
                while (values[i] > pivot)
                {
                    i++;
                }

                while (values[j] < pivot)
                {
                    j--;
                }

                if (i <= j)
                {
                    (values[i], values[j]) = (values[j], values[i]);
                    i++;
                    j--;
                }
            }

            if (target <= j)
            {
                hi = j;
            }
            else if (target >= i)
            {
                lo = i;
            }
            else
            {
                return;
            }
        }
    }

    private static double Median(double a, double b, double c) =>
        Math.Max(Math.Min(a, b), Math.Min(Math.Max(a, b), c));

    /// <summary>
    /// Component VaR/ES: each leg's average loss over the tail scenarios (ES: the k worst; VaR: a window of ranks around
    /// k, rescaled to the VaR), so the components add up to the measure.
    /// </summary>
    private static void Components(
        ReadOnlySpan<Leg> legs, AssetState[] assets, SeriesState[] series, FactorScenarios scenarios, double[] losses, int k, bool valueAtRisk,
        double measure, Span<double> legRequirement)
    {
        var order = Enumerable.Range(0, losses.Length).ToArray();
        var keys = losses.Select(l => -l).ToArray();
        Array.Sort(keys, order);
        int from, to;
        if (valueAtRisk)
        {
            var window = Math.Max(1, losses.Length / 400);
            from = Math.Max(0, k - 1 - window);
            to = Math.Min(losses.Length, k + window);
        }
        else
        {
            from = 0;
            to = k;
        }

        var total = 0.0;
        for (var i = 0; i < legs.Length; i++)
        {
            ref readonly var leg = ref legs[i];
            var asset = assets[leg.Asset];
            if (asset.Factor < 0)
            {
                legRequirement[i] = 0;
                continue;
            }

            var r = scenarios.Returns[asset.Factor];
            double delta, halfGamma = 0;
            switch (leg.Kind)
            {
                case LegKind.Collateral:
                case LegKind.Debt:
                    delta = asset.Stable ? 0 : leg.Qty * asset.Mark(leg.Qty) * leg.Weight;
                    break;
                case LegKind.Perp:
                    delta = leg.Qty * asset.Mark(leg.Qty);
                    break;
                default:
                    var s = series[leg.Series];
                    delta = leg.Qty * s.Delta * asset.Spot;
                    halfGamma = 0.5 * leg.Qty * s.Gamma * asset.Spot * asset.Spot;
                    break;
            }

            var sum = 0.0;
            for (var j = from; j < to; j++)
            {
                var x = r[order[j]];
                sum -= x * (delta + (halfGamma * x));
            }

            legRequirement[i] = sum / (to - from);
            total += legRequirement[i];
        }

        if (valueAtRisk && Math.Abs(total) > 1e-12)
        {
            for (var i = 0; i < legs.Length; i++)
            {
                legRequirement[i] *= measure / total;
            }
        }
    }

    private static int Group(KernelScratch scratch, ref int groups, int asset)
    {
        for (var g = 0; g < groups; g++)
        {
            if (scratch.GroupAsset[g] == asset)
            {
                return g;
            }
        }

        scratch.GroupAsset[groups] = asset;
        scratch.GroupNet[groups] = 0;
        scratch.GroupLinear[groups] = 0;
        return groups++;
    }
}
