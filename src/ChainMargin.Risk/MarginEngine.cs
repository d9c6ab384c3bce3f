using System.Globalization;
using ChainMargin.Core;

namespace ChainMargin.Risk;

/// <summary>
/// The margin engine: pure math, no I/O. Prepare a <see cref="RiskMarket"/> once per price update
/// (<see cref="RiskMarket.Prepare"/>), then <see cref="Compute(MarginParameters)"/> one account with every explanation,
/// or <see cref="MarginBatch"/> for a sweep of many.
/// </summary>
public static class MarginEngine
{
    private static readonly string[] KernelNames = [MarginMethods.Isolated, MarginMethods.Cross, MarginMethods.Portfolio, MarginMethods.Dynamic, MarginMethods.Credit];

    /// <summary>Convenience for one account against a snapshot: prepares the market, then computes.</summary>
    public static MarginReport Compute(Portfolio portfolio, MarketSnapshot snapshot, RiskConfig config, PriceHistory? history = null) =>
        Compute(new MarginParameters(portfolio, RiskMarket.Prepare(snapshot, config, history)));

    public static MarginReport Compute(MarginParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var market = parameters.Market;
        var account = CompiledAccount.Compile(parameters.Portfolio, market);
        var assets = market.Assets;
        var series = market.Series;
        var legs = account.Legs;
        var n = legs.Length;

        var numbers = new MethodNumbers[K.Count];
        var legEquity = new double[K.Count * n];
        var legRequirement = new double[K.Count * n];
        MarginKernel.Run(legs, account.Stale, account.CreditLimit, assets, series, market, numbers, legEquity, legRequirement);
        var accountStatus = MarginKernel.AccountStatus(legs, account.Stale, assets, series);
        var common = CommonReasons(account, assets, series);

        var liquidation = parameters.IncludeLiquidationPrices && accountStatus != MarginStatus.Unpriced
            ? LiquidationPrices(account, assets, series, market)
            : null;

        var results = new Dictionary<string, MethodResult>(StringComparer.Ordinal);
        for (var m = 0; m < K.Count; m++)
        {
            var reasons = new List<string>(common);
            reasons.AddRange(MethodReasons(m, account, assets, numbers[m]));
            var scenario = m is K.Portfolio or K.Credit ? GridScenario(numbers[m], assets, market) : null;
            results[KernelNames[m]] = Result(KernelNames[m], numbers[m].Status, reasons, numbers[m].Equity, numbers[m].Maintenance, numbers[m].Initial,
                numbers[m].HasHealth, numbers[m].HealthValue, account, legEquity.AsSpan(m * n, n), legRequirement.AsSpan(m * n, n), scenario,
                liquidation?[m] ?? [], [], m == K.Isolated);
        }

        results[MarginMethods.VarHistorical] = Statistical(MarginMethods.VarHistorical, market.Factors?.Historical, account, assets, series, market, accountStatus, common, liquidation?[K.Count] ?? []);
        results[MarginMethods.VarMonteCarlo] = Statistical(MarginMethods.VarMonteCarlo, market.Factors?.MonteCarlo, account, assets, series, market, accountStatus, common, liquidation?[K.Count + 1] ?? []);

        var ordered = MarginMethods.All.Select(name => results[name]).ToList();
        var iso = results[MarginMethods.Isolated].Maintenance;
        var cross = results[MarginMethods.Cross].Maintenance;
        var pm = results[MarginMethods.Portfolio].Maintenance;
        var efficiency = new CapitalEfficiency(iso, cross, pm, iso - cross, iso - pm, SavingFraction(iso, cross), SavingFraction(iso, pm));
        var credit = account.CreditLimit > 0 ? new CreditLine(Units.ToReported(account.CreditLimit, 2), accountStatus == MarginStatus.Unpriced ? 0 : Units.ToReported(account.CreditLimit, 2)) : null;
        return new MarginReport(parameters.Portfolio.Account, market.Config.HeadlineMethod, ordered, efficiency, credit, parameters.Portfolio.Blocks, market.Snapshot.Now)
        {
            Addresses = parameters.Portfolio.Addresses.Count > 0 ? parameters.Portfolio.Addresses : [parameters.Portfolio.Account],
        };
    }

    /// <summary>The loss of every underlying in every grid scenario (k = volIndex * spotSteps + spotIndex).</summary>
    public static IReadOnlyDictionary<AssetId, double[]> GridLosses(Portfolio portfolio, RiskMarket market)
    {
        ArgumentNullException.ThrowIfNull(market);
        var account = CompiledAccount.Compile(portfolio, market);
        var assets = market.Assets;
        var losses = MarginKernel.GridLosses(account.Legs, assets, market.Series, market, out var groups);
        return groups.Select((a, g) => (assets[a].Id, losses[g])).ToDictionary(x => x.Id, x => x.Item2);
    }

    private static MethodResult Statistical(
        string name, FactorScenarios? scenarios, CompiledAccount account, AssetState[] assets, SeriesState[] series, RiskMarket market,
        MarginStatus accountStatus, List<string> common, IReadOnlyList<LiquidationPrice> liquidation)
    {
        var config = market.Config;
        var n = account.Legs.Length;
        var measures = new double[config.Var.Confidences.Count * 2];
        var legRequirement = new double[n];
        var numbers = VarKernel.Run(account.Legs, assets, series, scenarios, config, accountStatus, measures, legRequirement);
        var reasons = new List<string>(common);
        if (numbers.Status == MarginStatus.NotComputed)
        {
            reasons.Add(numbers.MissingAsset >= 0 ? $"no price history for {assets[numbers.MissingAsset].Id}" : "no price history: VaR not computed");
        }
        else if (numbers.Status == MarginStatus.NoRequirement)
        {
            reasons.Add("no requirement: health is not defined");
        }

        var reported = new List<RiskMeasure>();
        var computed = numbers.Status is not (MarginStatus.NotComputed or MarginStatus.Unpriced);
        if (computed && (!measures.All(Reportable) || !Reportable(numbers.ScenarioLoss)))
        {
            computed = false;
            numbers.Status = MarginStatus.Unpriced;
            reasons.Add($"{name}: the computation overflowed (a price or size out of range)");
        }

        if (computed)
        {
            for (var i = 0; i < config.Var.Confidences.Count; i++)
            {
                reported.Add(new RiskMeasure("VaR", config.Var.Confidences[i], config.Var.HorizonDays, Units.ToReported(measures[2 * i])));
                reported.Add(new RiskMeasure("ES", config.Var.Confidences[i], config.Var.HorizonDays, Units.ToReported(measures[(2 * i) + 1])));
            }
        }

        var scenario = computed && numbers.ScenarioIndex >= 0
            ? new SettingScenario(
                string.Create(CultureInfo.InvariantCulture, $"{scenarios!.Kind} scenario {numbers.ScenarioIndex} of {scenarios.Count}: the loss at the {config.Var.MaintenanceConfidence:P1} quantile ({config.Var.MaintenanceMeasure} sets the requirement)"),
                null, null, null, Units.ToReported(numbers.ScenarioLoss))
            : null;
        var legEquity = new double[n];
        MarginKernelEquity(account.Legs, assets, series, legEquity);
        var hasHealth = numbers.Maintenance > 1e-9;
        return Result(name, numbers.Status, reasons, numbers.Equity, numbers.Maintenance, numbers.Initial, hasHealth,
            hasHealth ? numbers.Equity / numbers.Maintenance : 0, account, legEquity, legRequirement, scenario, liquidation, reported, false,
            valuesKnown: computed);
    }

    /// <summary>
    /// Mark equity per leg as the statistical methods count it (weighted collateral, full option value). Options at the
    /// low spot, as <see cref="VarKernel"/> values them, so these positions add up to the VaR methods' equity.
    /// </summary>
    private static void MarginKernelEquity(ReadOnlySpan<Leg> legs, AssetState[] assets, SeriesState[] series, Span<double> equity)
    {
        for (var i = 0; i < legs.Length; i++)
        {
            var leg = legs[i];
            var asset = assets[leg.Asset];
            equity[i] = leg.Kind switch
            {
                LegKind.Perp => leg.Qty * (asset.Mark(leg.Qty) - leg.Entry),
                LegKind.Option => leg.Qty * series[leg.Series].Value,
                _ => leg.Qty * asset.Mark(leg.Qty) * leg.Weight,
            };
        }
    }

    private static MethodResult Result(
        string name, MarginStatus status, List<string> reasons, double equity, double maintenance, double initial, bool hasHealth, double health,
        CompiledAccount account, ReadOnlySpan<double> legEquity, ReadOnlySpan<double> legRequirement, SettingScenario? scenario,
        IReadOnlyList<LiquidationPrice> liquidation, IReadOnlyList<RiskMeasure> measures, bool isolated, bool valuesKnown = true)
    {
        if (status == MarginStatus.NoRequirement && !reasons.Contains("no requirement: health is not defined"))
        {
            reasons.Add("no requirement: health is not defined");
        }

        if (status == MarginStatus.Unpriced || !valuesKnown)
        {
            return new MethodResult(name, status, Distinct(reasons), null, null, null, null, [], [], null, [], measures);
        }

        var reportable = Reportable(equity) && Reportable(maintenance) && Reportable(initial) && Reportable(hasHealth ? health : 0);
        for (var i = 0; i < legEquity.Length && reportable; i++)
        {
            reportable = Reportable(legEquity[i]) && Reportable(legRequirement[i]);
        }

        if (!reportable)
        {
            {
                // A kernel overflow must never leave the engine as NaN or infinity: the account is reported unpriced.
                reasons.Add($"{name}: the computation overflowed (a price or size out of range)");
                return new MethodResult(name, MarginStatus.Unpriced, Distinct(reasons), null, null, null, null, [], [], null, [], []);
            }
        }

        var portfolio = account.Portfolio;
        var positions = new List<PositionContribution>(account.Legs.Length);
        var chainEquity = new double[account.Chains.Length];
        var chainRequirement = new double[account.Chains.Length];
        for (var i = 0; i < account.Legs.Length; i++)
        {
            var leg = account.Legs[i];
            var (kind, chain, venue, instrument, asset, holder) = leg.Kind switch
            {
                LegKind.Collateral => ("collateral", portfolio.Collateral[leg.Source].Chain, portfolio.Collateral[leg.Source].Venue, portfolio.Collateral[leg.Source].Asset.Symbol, portfolio.Collateral[leg.Source].Asset, portfolio.Collateral[leg.Source].Holder),
                LegKind.Debt => ("debt", portfolio.Debts[leg.Source].Chain, portfolio.Debts[leg.Source].Venue, portfolio.Debts[leg.Source].Asset.Symbol, portfolio.Debts[leg.Source].Asset, portfolio.Debts[leg.Source].Holder),
                LegKind.Perp => ("perp", portfolio.Perps[leg.Source].Chain, portfolio.Perps[leg.Source].Venue, portfolio.Perps[leg.Source].Market, portfolio.Perps[leg.Source].Underlying, portfolio.Perps[leg.Source].Holder),
                _ => ("option", portfolio.Options[leg.Source].Chain, portfolio.Options[leg.Source].Venue, portfolio.Options[leg.Source].Series, portfolio.Options[leg.Source].Underlying, portfolio.Options[leg.Source].Holder),
            };
            var e = legEquity[i];
            var r = legRequirement[i];
            positions.Add(new PositionContribution(kind, chain, venue, instrument, asset, Units.ToReported(e), Units.ToReported(r)) { Holder = holder ?? portfolio.Account });
            chainEquity[leg.Chain] += e;
            chainRequirement[leg.Chain] += r;
        }

        var chains = new List<ChainContribution>(account.Chains.Length);
        for (var c = 0; c < account.Chains.Length; c++)
        {
            decimal? chainHealth = isolated && chainRequirement[c] > 1e-9 ? Units.ToReported(chainEquity[c] / chainRequirement[c]) : null;
            chains.Add(new ChainContribution(account.Chains[c], Units.ToReported(chainEquity[c]), Units.ToReported(chainRequirement[c]), chainHealth));
        }

        return new MethodResult(name, status, Distinct(reasons), Units.ToReported(equity), Units.ToReported(maintenance), Units.ToReported(initial),
            hasHealth ? Units.ToReported(health) : null, positions, chains, scenario, liquidation, measures);
    }

    private static decimal? SavingFraction(decimal? isolated, decimal? other) =>
        isolated is { } i && other is { } o && i > 0 ? Math.Round((i - o) / i, 6) : null;

    /// <summary>What <see cref="Units.ToReported"/> accepts, with room for sums: anything else is an overflow, reported as such.</summary>
    private static bool Reportable(double value) => double.IsFinite(value) && Math.Abs(value) <= 1e24;

    private static List<string> Distinct(List<string> reasons) => reasons.Distinct(StringComparer.Ordinal).ToList();

    private static SettingScenario? GridScenario(MethodNumbers numbers, AssetState[] assets, RiskMarket market)
    {
        if (numbers.ScenarioAsset < 0 || numbers.Status == MarginStatus.Unpriced || !Reportable(numbers.ScenarioLoss))
        {
            return null;
        }

        var spotSteps = market.SpotShocks.Length;
        var spot = market.SpotShocks[numbers.ScenarioIndex % spotSteps];
        var vol = market.VolShocks[numbers.ScenarioIndex / spotSteps];
        var asset = assets[numbers.ScenarioAsset].Id;
        return new SettingScenario(
            string.Create(CultureInfo.InvariantCulture, $"{asset} spot {spot:+0.##%;-0.##%;0%}, vol {vol:+0.##%;-0.##%;0%}: the largest scenario loss of any underlying"),
            asset, spot, vol, Units.ToReported(numbers.ScenarioLoss));
    }

    private static List<string> CommonReasons(CompiledAccount account, AssetState[] assets, SeriesState[] series)
    {
        var reasons = new List<string>();
        foreach (var leg in account.Legs)
        {
            var asset = assets[leg.Asset];
            if (!asset.HasPrice)
            {
                reasons.Add($"unpriced: {asset.Id}: {asset.Reason}");
            }
            else if (asset.Status == PriceStatus.Unsafe)
            {
                reasons.Add($"price-unsafe: {asset.Id}: {asset.Reason ?? "flagged unsafe"}");
            }

            if (leg.Kind == LegKind.Option && asset.HasPrice && !series[leg.Series].Priced)
            {
                reasons.Add(asset.HasVol ? $"unpriced: an option on {asset.Id} has a non-positive strike" : $"unpriced: no volatility for {asset.Id}");
            }
        }

        for (var c = 0; c < account.Chains.Length; c++)
        {
            if (account.Stale[c])
            {
                reasons.Add($"stale: chain {account.Chains[c]}");
            }
        }

        reasons.AddRange(account.Notes);
        return reasons;
    }

    private static IEnumerable<string> MethodReasons(int method, CompiledAccount account, AssetState[] assets, MethodNumbers numbers)
    {
        if (method == K.Dynamic)
        {
            foreach (var asset in account.Legs.Where(l => l.Kind != LegKind.Collateral).Select(l => l.Asset).Distinct())
            {
                yield return string.Create(CultureInfo.InvariantCulture, $"{assets[asset].Id}: fractions x{assets[asset].DynamicScale:0.###} ({assets[asset].DynamicReason})");
            }
        }
        else if (method == K.Credit)
        {
            yield return account.CreditLimit > 0
                ? string.Create(CultureInfo.InvariantCulture, $"credit line {account.CreditLimit:0.##} USD counted in equity, margined on portfolio-margin requirement")
                : "no credit line: equals portfolio margin";
        }

        if (numbers.Status == MarginStatus.NoRequirement)
        {
            yield return "no requirement: health is not defined";
        }
    }

    /// <summary>
    /// For each risky underlying, the spots below and above the current one where each method's equity meets its
    /// maintenance requirement, everything else fixed: a geometric scan (5% steps out to 1/100x and 100x) brackets
    /// the crossing, bisection on log-spot narrows it. Options are revalued (grid and Greeks) at every trial spot; the
    /// statistical methods keep their scenarios and revalue the exposures. Index: kernel methods, then historical, MC.
    /// </summary>
    private static IReadOnlyList<LiquidationPrice>[] LiquidationPrices(CompiledAccount account, AssetState[] assets, SeriesState[] series, RiskMarket market)
    {
        const int methods = K.Count + 2;
        var result = new List<LiquidationPrice>[methods];
        for (var m = 0; m < methods; m++)
        {
            result[m] = [];
        }

        var legs = account.Legs;
        var underlyings = legs.Select(l => l.Asset).Distinct().Where(a => !assets[a].Stable && assets[a].HasPrice).OrderBy(a => assets[a].Id.Symbol, StringComparer.Ordinal).ToArray();
        var output = new MethodNumbers[K.Count];
        var measures = new double[market.Config.Var.Confidences.Count * 2];
        foreach (var u in underlyings)
        {
            var spot0 = assets[u].Spot;
            var assetCopy = (AssetState[])assets.Clone();
            var seriesCopy = (SeriesState[])series.Clone();
            var mine = legs.Where(l => l.Kind == LegKind.Option && l.Asset == u).Select(l => l.Series).Distinct().ToArray();

            // Equity minus maintenance per method at a trial spot; NaN where the method has no requirement to meet.
            double[] Excess(double spot)
            {
                assetCopy[u] = assets[u].WithSpot(spot);
                foreach (var s in mine)
                {
                    var old = series[s];
                    seriesCopy[s] = SeriesState.Create(assetCopy[u], u, old.Strike, old.Years, old.IsCall, market);
                }

                var status = MarginKernel.AccountStatus(legs, account.Stale, assetCopy, seriesCopy);
                MarginKernel.Run(legs, account.Stale, account.CreditLimit, assetCopy, seriesCopy, market, output, default, default);
                var excess = new double[methods];
                for (var m = 0; m < K.Count; m++)
                {
                    excess[m] = output[m].Status == MarginStatus.NoRequirement ? double.NaN : output[m].Excess;
                }

                for (var v = 0; v < 2; v++)
                {
                    var scenarios = v == 0 ? market.Factors?.Historical : market.Factors?.MonteCarlo;
                    var numbers = VarKernel.Run(legs, assetCopy, seriesCopy, scenarios, market.Config, status, measures, default);
                    excess[K.Count + v] = numbers.Status is MarginStatus.NoRequirement or MarginStatus.NotComputed or MarginStatus.Unpriced
                        ? double.NaN
                        : numbers.Equity - numbers.Maintenance;
                }

                return excess;
            }

            var current = Excess(spot0);
            var below = new double?[methods];
            var above = new double?[methods];
            for (var direction = -1; direction <= 1; direction += 2)
            {
                var found = direction < 0 ? below : above;
                var open = Enumerable.Range(0, methods).Where(m => current[m] > 0).ToList();
                var previousSpot = spot0;
                for (var step = 1; step <= 93 && open.Count > 0; step++)
                {
                    var spot = spot0 * Math.Exp(direction * 0.05 * step);
                    var excess = Excess(spot);
                    foreach (var m in open.ToArray())
                    {
                        // A method that loses its requirement (NaN) on the way cannot be liquidated there: not a crossing.
                        if (excess[m] <= 0)
                        {
                            found[m] = Bisect(m, previousSpot, spot, Excess);
                            open.Remove(m);
                        }
                    }

                    previousSpot = spot;
                }
            }

            for (var m = 0; m < methods; m++)
            {
                if (double.IsNaN(current[m]) || Report(spot0) is not { } spot)
                {
                    continue;
                }

                result[m].Add(new LiquidationPrice(assets[u].Id, spot, Report(below[m]), Report(above[m]), current[m] <= 0));
            }
        }

        return result;
    }

    private static decimal? Report(double? value) => value is { } v && Reportable(v) ? Units.ToReported(v) : null;

    /// <summary>Bisection on log-spot between a healthy and an unhealthy spot; 30 halvings of a 5% step leave 5e-11 relative.</summary>
    private static double Bisect(int method, double healthy, double unhealthy, Func<double, double[]> excess)
    {
        var a = Math.Log(healthy);
        var b = Math.Log(unhealthy);
        for (var i = 0; i < 30; i++)
        {
            var mid = 0.5 * (a + b);
            if (!(excess(Math.Exp(mid))[method] <= 0))
            {
                a = mid;
            }
            else
            {
                b = mid;
            }
        }

        return Math.Exp(0.5 * (a + b));
    }
}
