using MathNet.Numerics;

namespace ChainMargin.Risk;

/// <summary>
/// European option values and Greeks. Black-Scholes on spot with a continuous rate r and no carry yield, which is
/// Black-76 on the forward F = S e^{rT}; both forms are offered. Times in years, volatilities annualised.
/// At or after expiry (T &lt;= 0) or with zero volatility the value is the discounted intrinsic value.
/// </summary>
public static class BlackScholes
{
    private const double InvSqrt2 = 0.70710678118654752440;
    private const double InvSqrt2Pi = 0.39894228040143267794;

    /// <summary>Standard normal cumulative distribution, via MathNet's complementary error function (accurate in the tails).</summary>
    public static double NormalCdf(double x) => 0.5 * SpecialFunctions.Erfc(-x * InvSqrt2);

    public static double NormalPdf(double x) => InvSqrt2Pi * Math.Exp(-0.5 * x * x);

    public static double Price(bool isCall, double spot, double strike, double years, double vol, double rate)
    {
        var discount = Math.Exp(-rate * years);
        return Black76(isCall, spot / discount, strike, years, vol, discount);
    }

    /// <summary>Black-76: the discounted value of an option on a forward.</summary>
    public static double Black76(bool isCall, double forward, double strike, double years, double vol, double discount)
    {
        if (years <= 0 || vol <= 0 || strike <= 0)
        {
            return discount * Math.Max(isCall ? forward - strike : strike - forward, 0);
        }

        var sd = vol * Math.Sqrt(years);
        var d1 = (Math.Log(forward / strike) + (0.5 * sd * sd)) / sd;
        var d2 = d1 - sd;
        return isCall
            ? discount * ((forward * NormalCdf(d1)) - (strike * NormalCdf(d2)))
            : discount * ((strike * NormalCdf(-d2)) - (forward * NormalCdf(-d1)));
    }

    public static OptionGreeks Greeks(bool isCall, double spot, double strike, double years, double vol, double rate)
    {
        var value = Price(isCall, spot, strike, years, vol, rate);
        if (years <= 0 || vol <= 0 || strike <= 0)
        {
            var itm = isCall ? spot > strike : spot < strike;
            return new OptionGreeks(value, itm ? (isCall ? 1 : -1) : 0, 0, 0, 0, 0);
        }

        var sqrtT = Math.Sqrt(years);
        var sd = vol * sqrtT;
        var d1 = (Math.Log(spot / strike) + ((rate + (0.5 * vol * vol)) * years)) / sd;
        var d2 = d1 - sd;
        var pdf = NormalPdf(d1);
        var discountedStrike = strike * Math.Exp(-rate * years);
        var gamma = pdf / (spot * sd);
        var vega = spot * pdf * sqrtT;
        var decay = -spot * pdf * vol / (2 * sqrtT);
        return isCall
            ? new OptionGreeks(value, NormalCdf(d1), gamma, vega, decay - (rate * discountedStrike * NormalCdf(d2)), years * discountedStrike * NormalCdf(d2))
            : new OptionGreeks(value, NormalCdf(d1) - 1, gamma, vega, decay + (rate * discountedStrike * NormalCdf(-d2)), -years * discountedStrike * NormalCdf(-d2));
    }

    /// <summary>
    /// Values one series over a grid of spots x volatilities in one pass: values[v * spots.Length + s]. The log of the
    /// strike, the discount and the square root of time are taken once; this is the vectorised path the margin grid uses.
    /// </summary>
    public static void PriceGrid(bool isCall, ReadOnlySpan<double> spots, ReadOnlySpan<double> vols, double strike, double years, double rate, Span<double> values)
    {
        if (values.Length < spots.Length * vols.Length)
        {
            throw new ArgumentException("values must hold spots x vols entries", nameof(values));
        }

        var discount = Math.Exp(-rate * years);
        if (years <= 0 || strike <= 0)
        {
            for (var v = 0; v < vols.Length; v++)
            {
                for (var s = 0; s < spots.Length; s++)
                {
                    values[(v * spots.Length) + s] = discount * Math.Max(isCall ? spots[s] - strike : strike - spots[s], 0);
                }
            }

            return;
        }

        var sqrtT = Math.Sqrt(years);
        var logStrike = Math.Log(strike);
        var logDiscount = Math.Log(discount);
        Span<double> logForward = spots.Length <= 256 ? stackalloc double[spots.Length] : new double[spots.Length];
        for (var s = 0; s < spots.Length; s++)
        {
            logForward[s] = Math.Log(spots[s]) - logDiscount - logStrike;
        }

        for (var v = 0; v < vols.Length; v++)
        {
            var sd = vols[v] * sqrtT;
            var row = values.Slice(v * spots.Length, spots.Length);
            if (sd <= 0)
            {
                for (var s = 0; s < spots.Length; s++)
                {
                    row[s] = Math.Max(isCall ? spots[s] - (discount * strike) : (discount * strike) - spots[s], 0);
                }

                continue;
            }

            var halfVar = 0.5 * sd * sd;
            for (var s = 0; s < spots.Length; s++)
            {
                var d1 = (logForward[s] + halfVar) / sd;
                var d2 = d1 - sd;
                row[s] = isCall
                    ? (spots[s] * NormalCdf(d1)) - (discount * strike * NormalCdf(d2))
                    : (discount * strike * NormalCdf(-d2)) - (spots[s] * NormalCdf(-d1));
            }
        }
    }
}

/// <summary>Value and sensitivities: delta and gamma to spot, vega per 1.00 of vol, theta per year, rho per 1.00 of rate.</summary>
public readonly record struct OptionGreeks(double Value, double Delta, double Gamma, double Vega, double Theta, double Rho);
