using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using ChainMargin.Core;
using ChainMargin.Risk;

namespace ChainMargin.Bench;

/// <summary>
/// The margin benchmark (a plain harness, not BenchmarkDotNet: the targets are whole sweeps, not kernels):
/// full recompute of N accounts x 10 positions (30% options, 20 underlyings, 21 x 3 grid), incremental recompute of the
/// accounts one block touched, Monte Carlo VaR/ES with shared scenarios, and peak RSS.
/// Usage: margin [--accounts N] [--touched N] [--var-accounts N] [--scenarios N] [--runs N]
/// </summary>
internal static class MarginBench
{
    private const int Underlyings = 20;
    private const int PositionsPerAccount = 10;
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly ChainId[] Chains = [new(1), new(10), new(42161)];

    public static int Run(string[] args)
    {
        var accounts = Option(args, "--accounts", 100_000);
        var touched = Option(args, "--touched", 1_000);
        var varAccounts = Option(args, "--var-accounts", 10_000);
        var scenarios = Option(args, "--scenarios", 10_000);
        var runs = Option(args, "--runs", 3);

        var config = Config(scenarios);
        var snapshot = Snapshot();
        var history = History(500);
        Console.WriteLine(Invariant($"  load average at start: {File.ReadAllText("/proc/loadavg").Trim()}"));
        Console.WriteLine(Invariant($"margin: {Environment.ProcessorCount} cores, {accounts} accounts x {PositionsPerAccount} positions (30% options), {Underlyings} underlyings, grid {config.Grid.SpotSteps} x {config.Grid.VolShocks.Count}"));

        var sw = Stopwatch.StartNew();
        var random = new Random(42);
        var portfolios = new Portfolio[accounts];
        var shared = new SharedParts();
        for (var i = 0; i < accounts; i++)
        {
            portfolios[i] = CreatePortfolio(i, random, shared);
        }

        Console.WriteLine(Invariant($"  generated portfolios in {sw.ElapsedMilliseconds} ms (not timed)"));

        // Full recompute: prepare the market (series grids, factor scenarios), compile every portfolio, run every method.
        var full = new List<double>();
        MarginBatch? batch = null;
        RiskMarket? market = null;
        for (var run = 0; run <= runs; run++)
        {
            GC.Collect();
            var cpu = Cpu();
            sw.Restart();
            market = RiskMarket.Prepare(snapshot, config, history);
            var prepared = sw.Elapsed.TotalMilliseconds;
            batch = MarginBatch.Create(portfolios, market);
            var compiled = sw.Elapsed.TotalMilliseconds;
            var compileCpu = Cpu();
            batch.ComputeAll();
            var total = sw.Elapsed.TotalMilliseconds;
            var kernelCpu = Cpu() - compileCpu;
            Console.WriteLine(Invariant($"  full recompute {(run == 0 ? "(cold, JIT)" : $"run {run}")}: {total:0} ms (prepare {prepared:0}, compile {compiled - prepared:0}, kernels {total - compiled:0}; cpu {Cpu() - cpu:0} ms of which kernels {kernelCpu:0})"));
            if (run > 0)
            {
                full.Add(total);
            }
        }

        Summarise(batch!, accounts);

        // A price update: the same positions against new prices; legs are remapped, the portfolios not walked again.
        var repriceRuns = new List<double>();
        for (var run = 0; run <= runs; run++)
        {
            var moved = Snapshot(1 + (0.01 * (run + 1)));
            GC.Collect();
            var cpu = Cpu();
            sw.Restart();
            var next = RiskMarket.Prepare(moved, config, history);
            var repriced = batch!.Reprice(next);
            repriced.ComputeAll();
            var ms = sw.Elapsed.TotalMilliseconds;
            Console.WriteLine(Invariant($"  price update (prepare + reprice + kernels) {(run == 0 ? "(cold)" : $"run {run}")}: {ms:0} ms (cpu {Cpu() - cpu:0} ms)"));
            if (run > 0)
            {
                repriceRuns.Add(ms);
            }
        }

        // Incremental: a block changed `touched` accounts; recompile and recompute only them.
        var incremental = new List<double>();
        for (var run = 0; run <= runs + 2; run++)
        {
            var indices = Enumerable.Range(0, touched).Select(_ => random.Next(accounts)).Distinct().ToArray();
            var changed = indices.Select(i => CreatePortfolio(i, random, shared)).ToArray();
            var cpu = Cpu();
            sw.Restart();
            for (var j = 0; j < indices.Length; j++)
            {
                batch!.Update(indices[j], changed[j]);
            }

            batch!.Recompute(indices);
            var ms = sw.Elapsed.TotalMilliseconds;
            Console.WriteLine(Invariant($"  incremental {(run == 0 ? "(cold)" : $"run {run}")}: {indices.Length} accounts in {ms:0.00} ms (cpu {Cpu() - cpu:0.0} ms)"));
            if (run > 0)
            {
                incremental.Add(ms);
            }
        }

        // Monte Carlo VaR/ES: the factor model (EWMA, Cholesky, scenarios) once, then every account's P&L over them.
        var varBatch = MarginBatch.Create(portfolios[..Math.Min(varAccounts, accounts)], market!);
        var mc = new List<double>();
        for (var run = 0; run <= runs; run++)
        {
            var cpu = Cpu();
            sw.Restart();
            var factors = FactorModel.Build(history, config.Var);
            var built = sw.Elapsed.TotalMilliseconds;
            varBatch.ComputeVar(monteCarlo: true);
            var ms = sw.Elapsed.TotalMilliseconds;
            Console.WriteLine(Invariant($"  monte carlo VaR/ES {(run == 0 ? "(cold)" : $"run {run}")}: {varBatch.Count} accounts x {factors.MonteCarlo.Count} scenarios in {ms:0} ms (scenarios {built:0}, P&L and tails {ms - built:0}; cpu {Cpu() - cpu:0} ms)"));
            if (run > 0)
            {
                mc.Add(ms);
            }
        }

        var statuses = Enumerable.Range(0, varBatch.Count).Select(i => varBatch.StatusOf(MarginMethods.VarMonteCarlo, i)).GroupBy(s => s).Select(g => Invariant($"{g.Key.Name()}={g.Count()}"));
        Console.WriteLine("  monte carlo statuses: " + string.Join(" ", statuses));

        var peak = PeakRssMb();
        GC.KeepAlive(portfolios);
        Console.WriteLine(Invariant($"  medians of {runs} warm runs: full recompute {Median(full):0} ms, price update {Median(repriceRuns):0} ms, incremental {Median(incremental):0.0} ms, monte carlo {Median(mc):0} ms; peak RSS {peak} MB (whole process, portfolios included)"));
        Console.WriteLine(Invariant($"margin: accounts={accounts} full_recompute_ms={Median(full):0} incremental_ms={Median(incremental):0.0} mc_var_ms={Median(mc):0} peak_rss_mb={peak}"));
        return 0;
    }

    private static void Summarise(MarginBatch batch, int accounts)
    {
        foreach (var method in new[] { MarginMethods.Isolated, MarginMethods.Cross, MarginMethods.Portfolio, MarginMethods.Dynamic })
        {
            var below = 0;
            var statuses = new Dictionary<MarginStatus, int>();
            for (var i = 0; i < accounts; i++)
            {
                var status = batch.StatusOf(method, i);
                statuses[status] = statuses.GetValueOrDefault(status) + 1;
                if (status == MarginStatus.Ok && batch.HealthOf(method, i) < 1)
                {
                    below++;
                }
            }

            Console.WriteLine(Invariant($"  {method}: {string.Join(" ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key.Name()}={s.Value}"))}, health<1: {below}"));
        }
    }

    private static RiskConfig Config(int scenarios)
    {
        var config = RiskConfig.CreateDefault();
        for (var u = 0; u < Underlyings; u++)
        {
            config.Assets[Symbol(u)] = new AssetRiskOptions { CollateralWeight = 0.8, ReferenceVolatility = 0.7, Decimals = 18 };
        }

        config.Var.Scenarios = scenarios;
        return config;
    }

    private static string Symbol(int u) => u switch { 0 => "ETH", 1 => "BTC", _ => Invariant($"TKN{u:00}") };

    private static double Spot(int u) => u switch { 0 => 3000, 1 => 60000, _ => 10 + (u * 7.5) };

    private static MarketSnapshot Snapshot(double move = 1)
    {
        var prices = new Dictionary<AssetId, AssetPrice> { [new AssetId("USDC")] = new(new AssetId("USDC"), 1m, PriceStatus.Safe, null, []) };
        var vols = new Dictionary<AssetId, AssetVolatility>();
        for (var u = 0; u < Underlyings; u++)
        {
            var id = new AssetId(Symbol(u));
            prices[id] = new AssetPrice(id, (decimal)Math.Round(Spot(u) * (u % 2 == 0 ? move : 2 - move), 8), PriceStatus.Safe, null, []);
            vols[id] = new AssetVolatility(id, 0.5 + (0.03 * u), "bench");
        }

        return new MarketSnapshot(Now, prices, vols, new Dictionary<ChainId, string>());
    }

    private static PriceHistory History(int days)
    {
        var random = new Random(7);
        var result = new Dictionary<AssetId, double[]>();
        var common = Enumerable.Range(0, days).Select(_ => Gaussian(random)).ToArray();
        for (var u = 0; u < Underlyings; u++)
        {
            var prices = new double[days];
            prices[0] = Spot(u);
            for (var t = 1; t < days; t++)
            {
                prices[t] = prices[t - 1] * Math.Exp(0.035 * ((0.7 * common[t]) + (0.714 * Gaussian(random))));
            }

            result[new AssetId(Symbol(u))] = prices;
        }

        result[new AssetId("USDC")] = [.. Enumerable.Range(0, days).Select(t => 1 + (0.0005 * Math.Sin(t)))];
        return new PriceHistory(result);
    }

    /// <summary>Strings, blocks and the block vector are shared: a sweep's portfolios come from one store snapshot.</summary>
    private sealed class SharedParts
    {
        public readonly BlockRef[] Blocks = [.. Chains.Select(c => new BlockRef(c, 1_000_000, "0x" + new string('a', 64)))];
        public readonly BlockVector Vector;
        public readonly string[] Markets = [.. Enumerable.Range(0, Underlyings).Select(u => Symbol(u) + "-PERP")];
        public readonly (string Name, int Underlying, double Strike, DateTimeOffset Expiry, bool IsCall)[] Series;

        public SharedParts()
        {
            Vector = new BlockVector(Blocks);
            var series = new List<(string, int, double, DateTimeOffset, bool)>();
            for (var u = 0; u < Underlyings; u++)
            {
                foreach (var days in new[] { 7, 30, 90, 180 })
                {
                    for (var k = 0; k < 8; k++)
                    {
                        var strike = Math.Round(Spot(u) * (0.7 + (0.08 * k)), 2);
                        series.Add((Invariant($"{Symbol(u)}-{days}D-{strike}-C"), u, strike, Now.AddDays(days), true));
                        series.Add((Invariant($"{Symbol(u)}-{days}D-{strike}-P"), u, strike, Now.AddDays(days), false));
                    }
                }
            }

            Series = [.. series];
        }
    }

    /// <summary>10 positions: 2 collateral, 5 perps, 3 options (30%), over 20 underlyings and 3 chains.</summary>
    private static Portfolio CreatePortfolio(int index, Random random, SharedParts shared)
    {
        var account = EvmAddress.Parse("0x" + (index + 1).ToString("x40", CultureInfo.InvariantCulture));
        var usdc = new AssetId("USDC");
        var collateral = new PortfolioCollateral[2];
        var c0 = random.Next(Chains.Length);
        collateral[0] = new PortfolioCollateral(Chains[c0], "vault", usdc, Amount(5_000 + (random.NextDouble() * 50_000), 6), shared.Blocks[c0]);
        var cu = random.Next(Underlyings);
        var c1 = random.Next(Chains.Length);
        collateral[1] = new PortfolioCollateral(Chains[c1], "vault", new AssetId(Symbol(cu)), Amount(2_000 / Spot(cu) * random.NextDouble(), 18), shared.Blocks[c1]);

        var perps = new PortfolioPerp[5];
        for (var j = 0; j < perps.Length; j++)
        {
            var u = random.Next(Underlyings);
            var c = random.Next(Chains.Length);
            var size = (random.NextDouble() - 0.5) * 20_000 / Spot(u);
            var entry = Spot(u) * (0.9 + (0.2 * random.NextDouble()));
            perps[j] = new PortfolioPerp(Chains[c], "perps", shared.Markets[u], new AssetId(Symbol(u)), Amount(size, 18), Amount(entry, 8), shared.Blocks[c]);
        }

        var options = new PortfolioOption[3];
        for (var j = 0; j < options.Length; j++)
        {
            var s = shared.Series[random.Next(shared.Series.Length)];
            var c = random.Next(Chains.Length);
            var size = (random.NextDouble() - 0.5) * 10_000 / Spot(s.Underlying);
            options[j] = new PortfolioOption(Chains[c], "options", s.Name, new AssetId(Symbol(s.Underlying)), Amount(s.Strike, 8), s.Expiry, s.IsCall, Amount(size, 18), shared.Blocks[c]);
        }

        return new Portfolio(account, [account], collateral, [], perps, options, [], shared.Vector);
    }

    private static TokenAmount Amount(double units, int decimals) =>
        new(new BigInteger(Math.Round(units * 1e6)) * Units.Pow10(decimals - 6), decimals);

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static int Option(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted[sorted.Length / 2];
    }

    /// <summary>CPU time of the whole process: on a shared machine, wall time above cpu / cores means we were waiting for a core.</summary>
    private static double Cpu() => Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds;

    /// <summary>VmHWM: the process's peak resident set, from the kernel.</summary>
    private static long PeakRssMb()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                var kb = long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                return kb / 1024;
            }
        }

        return -1;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
