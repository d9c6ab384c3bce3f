namespace ChainMargin.Risk.Tests;

public class BlackScholesTests
{
    // Hull, Options, Futures and Other Derivatives (8th ed.), Example 15.6: S=42, K=40, r=10%, sigma=20%, T=0.5
    // gives c = 4.76 and p = 0.81.
    [Fact]
    public void Price_HullExample15_6_MatchesTextbook()
    {
        Assert.Equal(4.76, BlackScholes.Price(true, 42, 40, 0.5, 0.2, 0.1), 2);
        Assert.Equal(0.81, BlackScholes.Price(false, 42, 40, 0.5, 0.2, 0.1), 2);
    }

    // Haug, The Complete Guide to Option Pricing Formulas (2nd ed.), 1.1.1: S=60, X=65, T=0.25, r=8%, sigma=30%
    // gives a call of 2.1334.
    [Fact]
    public void Price_HaugGeneralizedExample_MatchesTextbook()
    {
        Assert.Equal(2.1334, BlackScholes.Price(true, 60, 65, 0.25, 0.3, 0.08), 4);
    }

    // Haug (2nd ed.), Black-76 example: F=19, X=19, T=0.75, r=10%, sigma=28% gives call = put = 1.7011.
    [Fact]
    public void Black76_HaugFuturesExample_MatchesTextbook()
    {
        var discount = Math.Exp(-0.1 * 0.75);
        Assert.Equal(1.7011, BlackScholes.Black76(true, 19, 19, 0.75, 0.28, discount), 4);
        Assert.Equal(1.7011, BlackScholes.Black76(false, 19, 19, 0.75, 0.28, discount), 4);
    }

    [Theory]
    [InlineData(100, 100, 1.0, 0.2, 0.05)]
    [InlineData(3000, 3500, 0.1, 0.8, 0.0)]
    [InlineData(60000, 40000, 2.0, 0.6, 0.03)]
    [InlineData(1, 2, 0.01, 1.5, -0.01)]
    public void Price_PutCallParity_Holds(double spot, double strike, double years, double vol, double rate)
    {
        var call = BlackScholes.Price(true, spot, strike, years, vol, rate);
        var put = BlackScholes.Price(false, spot, strike, years, vol, rate);
        Assert.Equal(spot - (strike * Math.Exp(-rate * years)), call - put, 9 - (int)Math.Log10(spot));
    }

    [Theory]
    [InlineData(true, 42, 40, 0.5, 0.2, 0.1)]
    [InlineData(false, 42, 40, 0.5, 0.2, 0.1)]
    [InlineData(true, 3000, 3300, 0.08, 0.8, 0.0)]
    [InlineData(false, 3000, 2500, 0.3, 0.7, 0.02)]
    public void Greeks_AgainstFiniteDifferences_Agree(bool isCall, double s, double k, double t, double v, double r)
    {
        var g = BlackScholes.Greeks(isCall, s, k, t, v, r);
        double P(double spot = double.NaN, double years = double.NaN, double vol = double.NaN, double rate = double.NaN) =>
            BlackScholes.Price(isCall, double.IsNaN(spot) ? s : spot, k, double.IsNaN(years) ? t : years, double.IsNaN(vol) ? v : vol, double.IsNaN(rate) ? r : rate);

        var hs = s * 1e-4;
        Assert.Equal((P(spot: s + hs) - P(spot: s - hs)) / (2 * hs), g.Delta, 6);
        Assert.Equal((P(spot: s + hs) - (2 * g.Value) + P(spot: s - hs)) / (hs * hs), g.Gamma, 4);
        var hv = 1e-5;
        Assert.Equal((P(vol: v + hv) - P(vol: v - hv)) / (2 * hv) / s, g.Vega / s, 6);

        // Theta is the change per year of calendar time: minus the derivative in time to expiry.
        var ht = 1e-6;
        Assert.Equal(-(P(years: t + ht) - P(years: t - ht)) / (2 * ht) / s, g.Theta / s, 5);
        var hr = 1e-6;
        Assert.Equal((P(rate: r + hr) - P(rate: r - hr)) / (2 * hr) / s, g.Rho / s, 5);
    }

    [Fact]
    public void PriceGrid_EveryPoint_EqualsScalarPrice()
    {
        double[] spots = [2550, 2800, 3000, 3200, 3450];
        double[] vols = [0.56, 0.8, 1.04];
        var values = new double[spots.Length * vols.Length];
        foreach (var isCall in new[] { true, false })
        {
            BlackScholes.PriceGrid(isCall, spots, vols, 3100, 0.2, 0.03, values);
            for (var v = 0; v < vols.Length; v++)
            {
                for (var s = 0; s < spots.Length; s++)
                {
                    Assert.Equal(BlackScholes.Price(isCall, spots[s], 3100, 0.2, vols[v], 0.03), values[(v * spots.Length) + s], 9);
                }
            }
        }
    }

    [Fact]
    public void Price_AtExpiry_IsIntrinsic()
    {
        Assert.Equal(200, BlackScholes.Price(true, 3200, 3000, 0, 0.8, 0.05), 12);
        Assert.Equal(0, BlackScholes.Price(false, 3200, 3000, 0, 0.8, 0.05), 12);
        Assert.Equal(-1, BlackScholes.Greeks(false, 2800, 3000, 0, 0.8, 0).Delta);
    }
}
