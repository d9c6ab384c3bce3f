using ChainMargin.Core;

namespace ChainMargin.Risk;

/// <summary>
/// Raw amounts into the kernels' doubles on the sweep's hot path. <see cref="Units.ToDouble"/> divides BigIntegers
/// (two allocations per amount); here the raw integer is converted once (correctly rounded) and divided by an exact
/// power of ten, which agrees with it to a couple of ulps (tested) at a tenth of the cost. Outside 0..22 decimals it
/// falls back to <see cref="Units.ToDouble"/>.
/// </summary>
internal static class KernelUnits
{
    private static readonly double[] Powers = [.. Enumerable.Range(0, 23).Select(i => double.Parse("1e" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture))];

    public static double ToDouble(TokenAmount amount) =>
        amount.Decimals < Powers.Length ? (double)amount.Raw / Powers[amount.Decimals] : amount.ToDouble();
}
