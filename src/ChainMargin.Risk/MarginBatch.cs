using ChainMargin.Core;

namespace ChainMargin.Risk;

/// <summary>
/// A sweep: many accounts compiled against one <see cref="RiskMarket"/>, computed in parallel by the same kernels as
/// <see cref="MarginEngine.Compute(MarginParameters)"/> but without explanations. Results are kept as arrays per method
/// (structure of arrays) and read per account with <see cref="Get"/>. When a block touches some accounts,
/// <see cref="Update"/> them and <see cref="Recompute"/> only those. A new price update means a new market and a new batch.
/// </summary>
public sealed class MarginBatch
{
    private static readonly int[] KernelToMethod = [0, 1, 2, 5, 6];
    private readonly CompiledAccount[] _accounts;
    private readonly double[][] _equity;
    private readonly double[][] _maintenance;
    private readonly double[][] _initial;
    private readonly double[][] _health;
    private readonly MarginStatus[][] _status;

    private MarginBatch(RiskMarket market, CompiledAccount[] accounts)
    {
        Market = market;
        _accounts = accounts;
        var methods = MarginMethods.All.Count;
        _equity = Alloc<double>(methods, accounts.Length);
        _maintenance = Alloc<double>(methods, accounts.Length);
        _initial = Alloc<double>(methods, accounts.Length);
        _health = Alloc<double>(methods, accounts.Length);
        _status = Alloc<MarginStatus>(methods, accounts.Length);
        for (var m = 0; m < methods; m++)
        {
            Array.Fill(_status[m], MarginStatus.NotComputed);
        }
    }

    public RiskMarket Market { get; }

    public int Count => _accounts.Length;

    /// <summary>Compiles every portfolio (in parallel) against the market. Nothing is computed yet.</summary>
    public static MarginBatch Create(IReadOnlyList<Portfolio> portfolios, RiskMarket market, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(portfolios);
        ArgumentNullException.ThrowIfNull(market);
        var accounts = new CompiledAccount[portfolios.Count];
        Parallel.For(0, portfolios.Count, Options(maxDegreeOfParallelism), i => accounts[i] = CompiledAccount.Compile(portfolios[i], market));
        return new MarginBatch(market, accounts);
    }

    /// <summary>
    /// The same accounts against the next price update: legs are remapped to the new market's assets and series (and
    /// re-sorted, so sums run in the same order as a fresh compile) without walking the portfolios again. The new
    /// market must use the same <see cref="RiskConfig"/> instance (weights and credit lines are carried over).
    /// Nothing is computed yet.
    /// </summary>
    public MarginBatch Reprice(RiskMarket market, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(market);
        if (!ReferenceEquals(market.Config, Market.Config))
        {
            throw new ArgumentException("a batch can only be repriced against a market prepared with the same RiskConfig; create a new batch", nameof(market));
        }

        var oldAssets = Market.Assets;
        var assetMap = new int[oldAssets.Length];
        for (var a = 0; a < oldAssets.Length; a++)
        {
            assetMap[a] = market.AssetIndexOf(oldAssets[a].Id);
        }

        var oldSeries = Market.Series;
        var seriesMap = new int[oldSeries.Length];
        for (var s = 0; s < oldSeries.Length; s++)
        {
            var old = oldSeries[s];
            seriesMap[s] = market.SeriesIndexOf(assetMap[old.Asset], old.Strike, Market.SeriesExpiry(s), old.IsCall);
        }

        var stale = market.Snapshot.StaleChains;
        var accounts = new CompiledAccount[_accounts.Length];
        Parallel.For(0, _accounts.Length, Options(maxDegreeOfParallelism), i =>
        {
            var account = _accounts[i];
            var legs = (Leg[])account.Legs.Clone();
            for (var j = 0; j < legs.Length; j++)
            {
                legs[j].Asset = assetMap[legs[j].Asset];
                if (legs[j].Series >= 0)
                {
                    legs[j].Series = seriesMap[legs[j].Series];
                }
            }

            CompiledAccount.SortLegs(legs);
            var flags = new bool[account.Chains.Length];
            for (var c = 0; c < flags.Length && stale.Count > 0; c++)
            {
                flags[c] = stale.ContainsKey(account.Chains[c]);
            }

            accounts[i] = new CompiledAccount
            {
                Portfolio = account.Portfolio, Chains = account.Chains, Stale = flags, Legs = legs, CreditLimit = account.CreditLimit, Notes = account.Notes,
            };
        });
        return new MarginBatch(market, accounts);
    }

    public EvmAddress AccountAt(int index) => _accounts[index].Portfolio.Account;

    /// <summary>Replaces one account's portfolio (a block changed it); call <see cref="Recompute"/> afterwards.</summary>
    public void Update(int index, Portfolio portfolio) => _accounts[index] = CompiledAccount.Compile(portfolio, Market);

    /// <summary>Every non-statistical method for every account.</summary>
    public void ComputeAll(int maxDegreeOfParallelism = -1) =>
        RunRanges(_accounts.Length, maxDegreeOfParallelism, (from, to) =>
        {
            Span<MethodNumbers> output = stackalloc MethodNumbers[K.Count];
            for (var i = from; i < to; i++)
            {
                ComputeOne(i, output);
            }
        });

    /// <summary>The accounts a block touched: recompiled by <see cref="Update"/> or not, recomputed now.</summary>
    public void Recompute(IReadOnlyList<int> indices, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(indices);
        RunRanges(indices.Count, maxDegreeOfParallelism, (from, to) =>
        {
            Span<MethodNumbers> output = stackalloc MethodNumbers[K.Count];
            for (var i = from; i < to; i++)
            {
                ComputeOne(indices[i], output);
            }
        });
    }

    /// <summary>
    /// VaR/ES of every account (or of <paramref name="indices"/>) against the shared scenarios: historical or Monte
    /// Carlo. Each account's P&amp;L is its exposures x the scenario matrix; nothing per account is allocated.
    /// </summary>
    public void ComputeVar(bool monteCarlo, IReadOnlyList<int>? indices = null, int maxDegreeOfParallelism = -1)
    {
        var scenarios = monteCarlo ? Market.Factors?.MonteCarlo : Market.Factors?.Historical;
        var method = monteCarlo ? 4 : 3;
        var count = indices?.Count ?? _accounts.Length;
        RunRanges(count, maxDegreeOfParallelism, (from, to) =>
        {
            var assets = Market.Assets;
            var series = Market.Series;
            Span<double> measures = stackalloc double[Market.Config.Var.Confidences.Count * 2];
            for (var j = from; j < to; j++)
            {
                var i = indices?[j] ?? j;
                var account = _accounts[i];
                var status = MarginKernel.AccountStatus(account.Legs, account.Stale, assets, series);
                var numbers = VarKernel.Run(account.Legs, assets, series, scenarios, Market.Config, status, measures, default);
                _equity[method][i] = numbers.Equity;
                _maintenance[method][i] = numbers.Maintenance;
                _initial[method][i] = numbers.Initial;
                _health[method][i] = numbers.Maintenance > 1e-9 ? numbers.Equity / numbers.Maintenance : 0;
                _status[method][i] = numbers.Status;
            }
        });
    }

    /// <summary>One account's numbers per method, as reported decimals (null where unpriced or not defined).</summary>
    public AccountMargin Get(int index)
    {
        var methods = new List<MethodSummary>(MarginMethods.All.Count);
        for (var m = 0; m < MarginMethods.All.Count; m++)
        {
            var status = _status[m][index];
            var known = status is not (MarginStatus.Unpriced or MarginStatus.NotComputed);
            if (known && !(Reportable(_equity[m][index]) && Reportable(_maintenance[m][index]) && Reportable(_initial[m][index]) && Reportable(_health[m][index])))
            {
                // An overflow (absurd size or price) is reported like a missing price, never as NaN or infinity.
                known = false;
                status = MarginStatus.Unpriced;
            }

            methods.Add(new MethodSummary(
                MarginMethods.All[m], status,
                known ? Units.ToReported(_equity[m][index]) : null,
                known ? Units.ToReported(_maintenance[m][index]) : null,
                known ? Units.ToReported(_initial[m][index]) : null,
                known && status != MarginStatus.NoRequirement && _maintenance[m][index] > 1e-9 ? Units.ToReported(_health[m][index]) : null));
        }

        return new AccountMargin(_accounts[index].Portfolio.Account, Market.Config.HeadlineMethod, methods, _accounts[index].Portfolio.Blocks);
    }

    /// <summary>The raw health of one method for one account (0 where not defined); for sorting and flagging in bulk.</summary>
    public double HealthOf(string method, int index)
    {
        var m = IndexOf(method);
        return _health[m][index];
    }

    public MarginStatus StatusOf(string method, int index) => _status[IndexOf(method)][index];

    private static bool Reportable(double value) => double.IsFinite(value) && Math.Abs(value) <= 1e24;

    private static int IndexOf(string method)
    {
        for (var m = 0; m < MarginMethods.All.Count; m++)
        {
            if (MarginMethods.All[m] == method)
            {
                return m;
            }
        }

        throw new KeyNotFoundException($"no margin method '{method}'");
    }

    private void ComputeOne(int i, Span<MethodNumbers> output)
    {
        var account = _accounts[i];
        MarginKernel.Run(account.Legs, account.Stale, account.CreditLimit, Market.Assets, Market.Series, Market, output, default, default);
        for (var k = 0; k < K.Count; k++)
        {
            var m = KernelToMethod[k];
            _equity[m][i] = output[k].Equity;
            _maintenance[m][i] = output[k].Maintenance;
            _initial[m][i] = output[k].Initial;
            _health[m][i] = output[k].HealthValue;
            _status[m][i] = output[k].Status;
        }
    }

    /// <summary>Splits [0, count) into contiguous ranges, one task per range: less scheduling than one item per account.</summary>
    private static void RunRanges(int count, int maxDegreeOfParallelism, Action<int, int> body)
    {
        if (count == 0)
        {
            return;
        }

        var workers = maxDegreeOfParallelism > 0 ? maxDegreeOfParallelism : Environment.ProcessorCount;
        var chunk = Math.Max(64, count / (workers * 8));
        var ranges = (count + chunk - 1) / chunk;
        Parallel.For(0, ranges, Options(maxDegreeOfParallelism), r => body(r * chunk, Math.Min(count, (r + 1) * chunk)));
    }

    private static ParallelOptions Options(int maxDegreeOfParallelism) => new() { MaxDegreeOfParallelism = maxDegreeOfParallelism };

    private static T[][] Alloc<T>(int methods, int accounts)
    {
        var result = new T[methods][];
        for (var m = 0; m < methods; m++)
        {
            result[m] = new T[accounts];
        }

        return result;
    }
}

/// <summary>One account's numbers from a sweep, per method (no explanations: compute the account alone for those).</summary>
public sealed record AccountMargin(EvmAddress Account, string HeadlineMethod, IReadOnlyList<MethodSummary> Methods, BlockVector Blocks)
{
    public MethodSummary Headline => Methods.First(m => m.Method == HeadlineMethod);
}

public sealed record MethodSummary(string Method, MarginStatus Status, decimal? Equity, decimal? Maintenance, decimal? Initial, decimal? Health)
{
    public string StatusName => Status.Name();
}
