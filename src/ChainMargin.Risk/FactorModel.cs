using ChainMargin.Core;
using MathNet.Numerics.Distributions;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.Random;

namespace ChainMargin.Risk;

/// <summary>
/// Risk factors (log-returns of canonical assets) from the indexed price history: the RiskMetrics EWMA covariance,
/// its Cholesky factor, and two scenario sets shared by every account: historical (overlapping horizon returns) and
/// Monte Carlo (correlated normals, antithetic pairs, fixed seed). Scenarios are stored factor-major
/// (<c>Returns[factor][scenario]</c>) so one account's P&amp;L is a few axpy passes over contiguous memory.
/// </summary>
public sealed class FactorModel
{
    private readonly Dictionary<AssetId, int> _index;

    private FactorModel(AssetId[] assets, double[,] covariance, double[] annualisedVol, double[] lastMove, FactorScenarios historical, FactorScenarios monteCarlo, IReadOnlyList<string> excluded)
    {
        Assets = assets;
        _index = assets.Select((a, i) => (a, i)).ToDictionary(x => x.a, x => x.i);
        Covariance = covariance;
        AnnualisedVol = annualisedVol;
        LastMove = lastMove;
        Historical = historical;
        MonteCarlo = monteCarlo;
        Excluded = excluded;
    }

    public IReadOnlyList<AssetId> Assets { get; }

    /// <summary>EWMA covariance of one-interval log-returns.</summary>
    public double[,] Covariance { get; }

    public IReadOnlyList<double> AnnualisedVol { get; }

    /// <summary>Absolute log-return of the last interval, per factor (what the circuit breaker looks at).</summary>
    public IReadOnlyList<double> LastMove { get; }

    public FactorScenarios Historical { get; }

    public FactorScenarios MonteCarlo { get; }

    /// <summary>Assets left out of the model, with why (a non-positive or non-finite price).</summary>
    public IReadOnlyList<string> Excluded { get; }

    public int IndexOf(AssetId asset) => _index.TryGetValue(asset, out var i) ? i : -1;

    public static FactorModel Build(PriceHistory history, VarOptions options)
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(options);
        var excluded = new List<string>();
        var usable = new List<(AssetId Asset, double[] Prices)>();
        var length = -1;
        foreach (var (asset, prices) in history.Prices.OrderBy(p => p.Key.Symbol, StringComparer.Ordinal))
        {
            if (length >= 0 && prices.Length != length)
            {
                throw new ArgumentException($"price history of {asset} has {prices.Length} observations, the others {length}", nameof(history));
            }

            length = prices.Length;
            if (prices.Any(p => !double.IsFinite(p) || p <= 0))
            {
                excluded.Add($"price history of {asset} has a non-positive or non-finite price");
                continue;
            }

            usable.Add((asset, prices));
        }

        var n = usable.Count;
        var t = Math.Max(0, length - 1);
        if (n == 0 || t < 2)
        {
            throw new ArgumentException("price history needs at least one asset with 3 observations", nameof(history));
        }

        var returns = new double[n][];
        for (var i = 0; i < n; i++)
        {
            var prices = usable[i].Prices;
            returns[i] = new double[t];
            for (var k = 0; k < t; k++)
            {
                returns[i][k] = Math.Log(prices[k + 1] / prices[k]);
            }
        }

        var covariance = Ewma(returns, options.Lambda);
        var vols = new double[n];
        var lastMove = new double[n];
        for (var i = 0; i < n; i++)
        {
            vols[i] = Math.Sqrt(covariance[i, i] * 365.0 / options.ReturnIntervalDays);
            lastMove[i] = Math.Abs(returns[i][t - 1]);
        }

        var intervals = Math.Max(1, (int)Math.Round(options.HorizonDays / options.ReturnIntervalDays));
        var historical = HistoricalScenarios(returns, intervals);
        var monteCarlo = MonteCarloScenarios(covariance, options.Scenarios, Math.Sqrt(options.HorizonDays / options.ReturnIntervalDays), options.Seed);
        return new FactorModel([.. usable.Select(u => u.Asset)], covariance, vols, lastMove, historical, monteCarlo, excluded);
    }

    /// <summary>
    /// RiskMetrics EWMA: S_t = lambda S_{t-1} + (1 - lambda) r_t r_t', started from the sample covariance of the first
    /// min(20, T) returns so the first estimates are not one outer product.
    /// </summary>
    public static double[,] Ewma(double[][] returns, double lambda)
    {
        ArgumentNullException.ThrowIfNull(returns);
        var n = returns.Length;
        var t = returns[0].Length;
        var seed = Math.Min(20, t);
        var s = new double[n, n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                var sum = 0.0;
                for (var k = 0; k < seed; k++)
                {
                    sum += returns[i][k] * returns[j][k];
                }

                s[i, j] = s[j, i] = sum / seed;
            }
        }

        for (var k = seed; k < t; k++)
        {
            for (var i = 0; i < n; i++)
            {
                for (var j = 0; j <= i; j++)
                {
                    s[i, j] = s[j, i] = (lambda * s[i, j]) + ((1 - lambda) * returns[i][k] * returns[j][k]);
                }
            }
        }

        return s;
    }

    /// <summary>Lower Cholesky factor (MathNet); a covariance that is only semi-definite gets a tiny ridge first.</summary>
    public static Matrix<double> CholeskyFactor(double[,] covariance)
    {
        ArgumentNullException.ThrowIfNull(covariance);
        var matrix = Matrix<double>.Build.DenseOfArray(covariance);
        var scale = Math.Max(1e-300, Enumerable.Range(0, matrix.RowCount).Max(i => matrix[i, i]));
        for (var ridge = 0.0; ; ridge = ridge == 0 ? scale * 1e-12 : ridge * 100)
        {
            try
            {
                var candidate = ridge == 0 ? matrix : matrix + (Matrix<double>.Build.DenseIdentity(matrix.RowCount) * ridge);
                var factor = candidate.Cholesky().Factor;
                if (factor.Enumerate().All(double.IsFinite))
                {
                    return factor;
                }
            }
            catch (ArgumentException) when (ridge < scale)
            {
                // not positive definite (two identical series, a flat price): retry with a larger ridge
            }
        }
    }

    private static FactorScenarios HistoricalScenarios(double[][] returns, int intervals)
    {
        var n = returns.Length;
        var count = returns[0].Length - intervals + 1;
        if (count < 1)
        {
            return new FactorScenarios("historical", 0, [.. Enumerable.Range(0, n).Select(_ => Array.Empty<double>())]);
        }

        var result = new double[n][];
        for (var i = 0; i < n; i++)
        {
            result[i] = new double[count];
            var window = 0.0;
            for (var k = 0; k < intervals; k++)
            {
                window += returns[i][k];
            }

            result[i][0] = window;
            for (var s = 1; s < count; s++)
            {
                window += returns[i][s + intervals - 1] - returns[i][s - 1];
                result[i][s] = window;
            }
        }

        return new FactorScenarios("historical", count, result);
    }

    private static FactorScenarios MonteCarloScenarios(double[,] covariance, int count, double horizonScale, int seed)
    {
        var n = covariance.GetLength(0);
        var l = CholeskyFactor(covariance).ToArray();
        var half = (count + 1) / 2;
        var rng = new MersenneTwister(seed, threadSafe: false);
        var z = new double[n];
        var result = new double[n][];
        for (var i = 0; i < n; i++)
        {
            result[i] = new double[count];
        }

        for (var s = 0; s < half; s++)
        {
            Normal.Samples(rng, z, 0, 1);
            for (var i = 0; i < n; i++)
            {
                var x = 0.0;
                for (var j = 0; j <= i; j++)
                {
                    x += l[i, j] * z[j];
                }

                x *= horizonScale;
                result[i][s] = x;

                // Antithetic twin: the scenario set is symmetric, so its mean is exactly zero.
                if (half + s < count)
                {
                    result[i][half + s] = -x;
                }
            }
        }

        return new FactorScenarios("monte-carlo", count, result);
    }
}

/// <summary>Scenario log-returns over the horizon, factor-major: Returns[factor][scenario].</summary>
public sealed record FactorScenarios(string Kind, int Count, double[][] Returns);
