using System.Numerics;
using ChainMargin.Core;

namespace ChainMargin.Risk.Tests;

public class KernelTests
{
    [Fact]
    public void KernelUnits_AgreesWithCoreConversion()
    {
        var random = new Random(5);
        foreach (var decimals in new[] { 0, 6, 8, 18, 22, 30 })
        {
            for (var i = 0; i < 2000; i++)
            {
                var bytes = new byte[1 + random.Next(24)];
                random.NextBytes(bytes);
                var raw = new BigInteger(bytes);
                var amount = new TokenAmount(raw, decimals);
                var core = Units.ToDouble(raw, decimals);
                var fast = KernelUnits.ToDouble(amount);
                Assert.True(Math.Abs(fast - core) <= Math.Abs(core) * 4e-16, $"{raw} / 10^{decimals}: {fast} vs {core}");
            }
        }
    }

    [Theory]
    [InlineData(10_000, 250, 1)]
    [InlineData(10_000, 100, 2)]
    [InlineData(400_000, 10_000, 3)]
    [InlineData(500, 13, 4)]
    [InlineData(5_000, 1, 5)]
    public void TopLargest_EqualsAFullSort(int n, int k, int seed)
    {
        var random = new Random(seed);

        // Heavy ties and a skewed tail are where a sampled threshold could go wrong.
        var values = Enumerable.Range(0, n).Select(_ => random.Next(4) == 0 ? 1.0 : Math.Exp(3 * Fixtures.Gaussian(random))).ToArray();
        var expected = values.OrderDescending().Take(k).ToArray();
        var top = VarKernel.TopLargest(values.ToArray(), k, new double[n]).ToArray().OrderDescending();
        Assert.Equal(expected, top);
    }

    [Fact]
    public void TopLargest_AscendingInput_FallsBackAndStaysExact()
    {
        var values = Enumerable.Range(0, 8192).Select(i => (double)i).ToArray();
        Assert.Equal(Enumerable.Range(0, 200).Select(i => 8191.0 - i), VarKernel.TopLargest(values, 200, new double[8192]).ToArray().OrderDescending());
    }
}
