using System.Globalization;
using System.Text.Json;

namespace ChainMargin.Risk;

/// <summary>
/// Risk parameters, bound from the "Risk" section of config/risk.json. Plain settable properties so that
/// Microsoft.Extensions.Configuration binding (and System.Text.Json) can fill them; <see cref="Validate"/> names the
/// JSON key of every bad value so a bad file fails at start-up, not at the first liquidation.
/// </summary>
public sealed class RiskConfig
{
    public const string SectionName = "Risk";

    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNameCaseInsensitive = true, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>Canonical assets by symbol (USDC, ETH, BTC): the registry of what may be collateral or an underlying.</summary>
    public Dictionary<string, AssetRiskOptions> Assets { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    public PerpRiskOptions Perps { get; set; } = new();

    public DebtRiskOptions Debts { get; set; } = new();

    public OptionRiskOptions Options { get; set; } = new();

    public GridOptions Grid { get; set; } = new();

    public VarOptions Var { get; set; } = new();

    public DynamicMarginOptions Dynamic { get; set; } = new();

    public CircuitBreakerOptions CircuitBreaker { get; set; } = new();

    /// <summary>Credit lines in USD by account address (0x..., any case).</summary>
    public Dictionary<string, decimal> CreditLines { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The method whose health is the headline (see <see cref="MarginMethods"/>); default portfolio margin.</summary>
    public string HeadlineMethod { get; set; } = MarginMethods.Portfolio;

    /// <summary>
    /// The parameters the tests and the benchmark use; the same numbers as config/risk.json. USDC weight 0.98 (a stable
    /// that can depeg), ETH and BTC 0.85, perps 3% maintenance / 5% initial.
    /// </summary>
    public static RiskConfig CreateDefault()
    {
        var config = new RiskConfig();
        config.Assets["USDC"] = new AssetRiskOptions
        {
            Decimals = 6, CollateralWeight = 0.98, Stable = true, ReferenceVolatility = 0.05,
            Variants = new(StringComparer.OrdinalIgnoreCase) { ["USDC.E"] = new VariantOptions { Haircut = 0.02 } },
        };
        config.Assets["ETH"] = new AssetRiskOptions
        {
            Decimals = 18, CollateralWeight = 0.85, ReferenceVolatility = 0.70,
            Variants = new(StringComparer.OrdinalIgnoreCase) { ["WETH"] = new VariantOptions { Haircut = 0.0 }, ["WETH.E"] = new VariantOptions { Haircut = 0.03 } },
        };
        config.Assets["BTC"] = new AssetRiskOptions
        {
            Decimals = 8, CollateralWeight = 0.85, ReferenceVolatility = 0.55,
            Variants = new(StringComparer.OrdinalIgnoreCase) { ["WBTC"] = new VariantOptions { Haircut = 0.02 } },
        };
        config.Perps.Tiers = [
            new SizeTier { NotionalAbove = 1_000_000, MaintenanceFraction = 0.05, InitialFraction = 0.08 },
            new SizeTier { NotionalAbove = 10_000_000, MaintenanceFraction = 0.10, InitialFraction = 0.15 },
        ];
        config.Grid.VolShocks = [-0.30, 0.0, 0.30];
        config.Var.Confidences = [0.99, 0.975];
        return config;
    }

    /// <summary>Reads the "Risk" section (or a bare risk object) from JSON text; keys are case-insensitive.</summary>
    public static RiskConfig FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        using var document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        var root = document.RootElement;
        foreach (var property in root.EnumerateObject())
        {
            if (string.Equals(property.Name, SectionName, StringComparison.OrdinalIgnoreCase))
            {
                root = property.Value;
                break;
            }
        }

        var config = root.Deserialize<RiskConfig>(JsonOptions) ?? throw new RiskConfigException(["Risk: section is empty"]);

        // Dictionaries built by the serializer are case-sensitive; symbols and addresses are not.
        config.Assets = new Dictionary<string, AssetRiskOptions>(config.Assets, StringComparer.OrdinalIgnoreCase);
        config.CreditLines = new Dictionary<string, decimal>(config.CreditLines, StringComparer.OrdinalIgnoreCase);
        foreach (var asset in config.Assets.Values)
        {
            asset.Variants = new Dictionary<string, VariantOptions>(asset.Variants, StringComparer.OrdinalIgnoreCase);
        }

        return config;
    }

    /// <summary>Every problem, each naming its key (Risk:Assets:ETH:CollateralWeight ...). Empty when the config is usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        const string p = SectionName;

        if (Assets is null || Assets.Count == 0)
        {
            errors.Add($"{p}:Assets must list at least one asset");
        }
        else
        {
            var variantOwners = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (symbol, asset) in Assets)
            {
                var key = $"{p}:Assets:{symbol}";
                if (!IsSymbol(symbol))
                {
                    errors.Add($"{key} is not an asset symbol");
                }

                if (asset is null)
                {
                    errors.Add($"{key} must not be empty");
                    continue;
                }

                Range(errors, $"{key}:CollateralWeight", asset.CollateralWeight, 0, 1, lowOpen: true);
                if (asset.Decimals is < 0 or > 77)
                {
                    errors.Add($"{key}:Decimals must be between 0 and 77");
                }

                Range(errors, $"{key}:ReferenceVolatility", asset.ReferenceVolatility, 0, 10, lowOpen: true);
                foreach (var (variant, options) in asset.Variants ?? [])
                {
                    var vkey = $"{key}:Variants:{variant}";
                    if (!IsSymbol(variant) || Assets.ContainsKey(variant))
                    {
                        errors.Add($"{vkey} must be a symbol that is not itself a canonical asset");
                    }
                    else if (!variantOwners.TryAdd(variant, symbol))
                    {
                        errors.Add($"{vkey} is already a variant of {variantOwners[variant]}");
                    }

                    if (options is null)
                    {
                        errors.Add($"{vkey} must not be empty");
                        continue;
                    }

                    Range(errors, $"{vkey}:Haircut", options.Haircut, 0, 1, highOpen: true);
                }
            }
        }

        var perps = Perps ?? new PerpRiskOptions();
        Range(errors, $"{p}:Perps:MaintenanceFraction", perps.MaintenanceFraction, 0, 1, lowOpen: true);
        Range(errors, $"{p}:Perps:InitialFraction", perps.InitialFraction, 0, 1, lowOpen: true);
        if (perps.InitialFraction < perps.MaintenanceFraction)
        {
            errors.Add($"{p}:Perps:InitialFraction must be at least Risk:Perps:MaintenanceFraction");
        }

        var debts = Debts ?? new DebtRiskOptions();
        Range(errors, $"{p}:Debts:MaintenanceFraction", debts.MaintenanceFraction, 0, 1);
        Range(errors, $"{p}:Debts:InitialFraction", debts.InitialFraction, 0, 1);
        if (debts.InitialFraction < debts.MaintenanceFraction)
        {
            errors.Add($"{p}:Debts:InitialFraction must be at least Risk:Debts:MaintenanceFraction");
        }

        var tiers = perps.Tiers ?? [];
        for (var i = 0; i < tiers.Count; i++)
        {
            var key = $"{p}:Perps:Tiers:{i}";
            var tier = tiers[i];
            Range(errors, $"{key}:NotionalAbove", tier.NotionalAbove, 0, 1e15, lowOpen: true);
            Range(errors, $"{key}:MaintenanceFraction", tier.MaintenanceFraction, 0, 1, lowOpen: true);
            Range(errors, $"{key}:InitialFraction", tier.InitialFraction, 0, 1, lowOpen: true);
            if (tier.InitialFraction < tier.MaintenanceFraction)
            {
                errors.Add($"{key}:InitialFraction must be at least its MaintenanceFraction");
            }

            if (i > 0 && (tier.NotionalAbove <= tiers[i - 1].NotionalAbove || tier.MaintenanceFraction < tiers[i - 1].MaintenanceFraction))
            {
                errors.Add($"{key} must have a larger NotionalAbove and no smaller fractions than tier {i - 1}");
            }
            else if (i == 0 && tier.MaintenanceFraction < perps.MaintenanceFraction)
            {
                errors.Add($"{key}:MaintenanceFraction must be at least Risk:Perps:MaintenanceFraction");
            }
        }

        var options2 = Options ?? new OptionRiskOptions();
        Range(errors, $"{p}:Options:LongHaircut", options2.LongHaircut, 0, 1);
        Range(errors, $"{p}:Options:RiskFreeRate", options2.RiskFreeRate, -0.5, 1);
        Range(errors, $"{p}:Options:MinVolatility", options2.MinVolatility, 0, 5, lowOpen: true);
        Span(errors, $"{p}:Options:Maintenance", options2.Maintenance);
        Span(errors, $"{p}:Options:Initial", options2.Initial);
        if (options2.Initial is not null && options2.Maintenance is not null &&
            (options2.Initial.A < options2.Maintenance.A || options2.Initial.B < options2.Maintenance.B))
        {
            errors.Add($"{p}:Options:Initial must be at least Risk:Options:Maintenance (A and B)");
        }

        var grid = Grid ?? new GridOptions();
        Range(errors, $"{p}:Grid:SpotRange", grid.SpotRange, 0, 0.95, lowOpen: true);
        if (grid.SpotSteps is < 3 or > 201 || grid.SpotSteps % 2 == 0)
        {
            errors.Add($"{p}:Grid:SpotSteps must be an odd number between 3 and 201");
        }

        if (grid.VolShocks is null || grid.VolShocks.Count == 0 || grid.VolShocks.Count > 15)
        {
            errors.Add($"{p}:Grid:VolShocks must list 1 to 15 relative shocks");
        }
        else
        {
            for (var i = 0; i < grid.VolShocks.Count; i++)
            {
                Range(errors, $"{p}:Grid:VolShocks:{i}", grid.VolShocks[i], -0.95, 5);
            }
        }

        Range(errors, $"{p}:Grid:NakedShortContingency", grid.NakedShortContingency, 0, 1);
        Range(errors, $"{p}:Grid:BasisContingency", grid.BasisContingency, 0, 1);
        Range(errors, $"{p}:Grid:InitialMultiplier", grid.InitialMultiplier, 1, 10);

        var v = Var ?? new VarOptions();
        if (v.Confidences is null || v.Confidences.Count == 0)
        {
            errors.Add($"{p}:Var:Confidences must list at least one confidence");
        }
        else
        {
            for (var i = 0; i < v.Confidences.Count; i++)
            {
                Range(errors, $"{p}:Var:Confidences:{i}", v.Confidences[i], 0.5, 1, highOpen: true);
            }
        }

        Range(errors, $"{p}:Var:MaintenanceConfidence", v.MaintenanceConfidence, 0.5, 1, highOpen: true);
        if (v.MaintenanceMeasure is not ("VaR" or "ES"))
        {
            errors.Add($"{p}:Var:MaintenanceMeasure must be \"VaR\" or \"ES\"");
        }

        Range(errors, $"{p}:Var:HorizonDays", v.HorizonDays, 0, 365, lowOpen: true);
        Range(errors, $"{p}:Var:ReturnIntervalDays", v.ReturnIntervalDays, 0, 365, lowOpen: true);
        if (v.Scenarios is < 100 or > 5_000_000)
        {
            errors.Add($"{p}:Var:Scenarios must be between 100 and 5000000");
        }

        Range(errors, $"{p}:Var:Lambda", v.Lambda, 0, 1, lowOpen: true, highOpen: true);
        Range(errors, $"{p}:Var:InitialMultiplier", v.InitialMultiplier, 1, 10);

        var d = Dynamic ?? new DynamicMarginOptions();
        Range(errors, $"{p}:Dynamic:MinScale", d.MinScale, 0, 10, lowOpen: true);
        Range(errors, $"{p}:Dynamic:MaxScale", d.MaxScale, 0, 100, lowOpen: true);
        if (d.MaxScale < d.MinScale)
        {
            errors.Add($"{p}:Dynamic:MaxScale must be at least Risk:Dynamic:MinScale");
        }

        var cb = CircuitBreaker ?? new CircuitBreakerOptions();
        Range(errors, $"{p}:CircuitBreaker:MoveThreshold", cb.MoveThreshold, 0, 5, lowOpen: true);
        Range(errors, $"{p}:CircuitBreaker:WidenFactor", cb.WidenFactor, 1, 10);

        foreach (var (address, limit) in CreditLines ?? [])
        {
            if (!Core.EvmAddress.TryParse(address, out _))
            {
                errors.Add($"{p}:CreditLines:{address} is not an EVM address");
            }

            if (limit < 0)
            {
                errors.Add($"{p}:CreditLines:{address} must not be negative");
            }
        }

        if (!MarginMethods.All.Contains(HeadlineMethod ?? ""))
        {
            errors.Add($"{p}:HeadlineMethod must be one of {string.Join(", ", MarginMethods.All)}");
        }

        return errors;
    }

    /// <summary>Throws a <see cref="RiskConfigException"/> listing every bad key, or returns the config.</summary>
    public RiskConfig EnsureValid()
    {
        var errors = Validate();
        return errors.Count == 0 ? this : throw new RiskConfigException(errors);
    }

    private static bool IsSymbol(string symbol) =>
        symbol.Length is > 0 and <= 32 && symbol.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_');

    private static void Span(List<string> errors, string key, SpanOptions? span)
    {
        if (span is null)
        {
            errors.Add($"{key} must be set");
            return;
        }

        Range(errors, $"{key}:A", span.A, 0, 1, lowOpen: true);
        Range(errors, $"{key}:B", span.B, 0, 1, lowOpen: true);
    }

    private static void Range(List<string> errors, string key, double value, double low, double high, bool lowOpen = false, bool highOpen = false)
    {
        var ok = double.IsFinite(value) && (lowOpen ? value > low : value >= low) && (highOpen ? value < high : value <= high);
        if (!ok)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture,
                $"{key} must be in {(lowOpen ? '(' : '[')}{low},{high}{(highOpen ? ')' : ']')} (got {value})"));
        }
    }
}

/// <summary>One canonical asset: its collateral weight, its bridged or wrapped variants, its reference volatility.</summary>
public sealed class AssetRiskOptions
{
    /// <summary>Decimals of the canonical token (informational: every amount carries its own decimals).</summary>
    public int Decimals { get; set; } = 18;

    /// <summary>Share of the collateral's market value that counts toward equity, in (0, 1].</summary>
    public double CollateralWeight { get; set; }

    /// <summary>A stable asset is not shocked by the portfolio-margin grid.</summary>
    public bool Stable { get; set; }

    /// <summary>Annualised volatility at which dynamic margin applies its base fractions.</summary>
    public double ReferenceVolatility { get; set; } = 0.6;

    /// <summary>Wrapped or bridged variants (USDC.E, WETH) priced as this asset, each with its own extra haircut.</summary>
    public Dictionary<string, VariantOptions> Variants { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

public sealed class VariantOptions
{
    /// <summary>Taken off the canonical collateral weight: weight x (1 - haircut). In [0, 1).</summary>
    public double Haircut { get; set; }
}

public sealed class PerpRiskOptions
{
    public double MaintenanceFraction { get; set; } = 0.03;

    public double InitialFraction { get; set; } = 0.05;

    /// <summary>Larger positions (by absolute USD notional) take larger fractions; ascending by NotionalAbove.</summary>
    public List<SizeTier> Tiers { get; set; } = [];
}

/// <summary>
/// Standard rules count a debt at its full value in equity and, on top, require this fraction of it: a borrow is
/// margined even when the account holds no perp or option.
/// </summary>
public sealed class DebtRiskOptions
{
    public double MaintenanceFraction { get; set; } = 0.05;

    public double InitialFraction { get; set; } = 0.10;
}

public sealed class SizeTier
{
    public double NotionalAbove { get; set; }

    public double MaintenanceFraction { get; set; }

    public double InitialFraction { get; set; }
}

public sealed class OptionRiskOptions
{
    /// <summary>Long options count toward standard-rule equity at (1 - haircut) of their value.</summary>
    public double LongHaircut { get; set; } = 0.25;

    /// <summary>Short options, per unit: max(A x spot - out-of-the-money amount, B x spot) + mark value.</summary>
    public SpanOptions Maintenance { get; set; } = new() { A = 0.10, B = 0.05 };

    public SpanOptions Initial { get; set; } = new() { A = 0.15, B = 0.10 };

    public double RiskFreeRate { get; set; }

    /// <summary>No option is priced below this volatility (a shocked or missing-feed floor).</summary>
    public double MinVolatility { get; set; } = 0.05;
}

public sealed class SpanOptions
{
    public double A { get; set; }

    public double B { get; set; }
}

public sealed class GridOptions
{
    /// <summary>Spot shocks span -SpotRange..+SpotRange in SpotSteps equal steps (odd, so 0 is a scenario).</summary>
    public double SpotRange { get; set; } = 0.15;

    public int SpotSteps { get; set; } = 21;

    /// <summary>Relative volatility shocks: -0.3 is vol x 0.7.</summary>
    public List<double> VolShocks { get; set; } = [];

    /// <summary>Per unit of uncovered short option, this fraction of spot is added (SPAN's short option minimum).</summary>
    public double NakedShortContingency { get; set; } = 0.01;

    /// <summary>Per USD of perp notional hedged across venues, this fraction is added: the venues' prices can part.</summary>
    public double BasisContingency { get; set; } = 0.005;

    public double InitialMultiplier { get; set; } = 1.25;
}

public sealed class VarOptions
{
    public List<double> Confidences { get; set; } = [];

    /// <summary>"VaR" or "ES": which measure is the maintenance requirement of the statistical methods.</summary>
    public string MaintenanceMeasure { get; set; } = "ES";

    public double MaintenanceConfidence { get; set; } = 0.975;

    public double HorizonDays { get; set; } = 1;

    /// <summary>Time between two observations of the price history.</summary>
    public double ReturnIntervalDays { get; set; } = 1;

    public int Scenarios { get; set; } = 10_000;

    /// <summary>EWMA decay (RiskMetrics: 0.94 for daily data).</summary>
    public double Lambda { get; set; } = 0.94;

    public int Seed { get; set; } = 20_260_101;

    public double InitialMultiplier { get; set; } = 1.25;
}

public sealed class DynamicMarginOptions
{
    /// <summary>Fractions scale with current EWMA vol / reference vol, clamped to [MinScale, MaxScale].</summary>
    public double MinScale { get; set; } = 1.0;

    public double MaxScale { get; set; } = 3.0;
}

public sealed class CircuitBreakerOptions
{
    public bool Enabled { get; set; } = true;

    /// <summary>An absolute log-return of an underlying over the last interval at least this large trips the breaker.</summary>
    public double MoveThreshold { get; set; } = 0.10;

    /// <summary>While tripped, the underlying's dynamic requirements are multiplied by this.</summary>
    public double WidenFactor { get; set; } = 1.5;
}

/// <summary>A risk configuration that cannot be used; the message lists every bad key.</summary>
public sealed class RiskConfigException : Exception
{
    public RiskConfigException(IReadOnlyList<string> errors)
        : base("invalid risk configuration: " + string.Join("; ", errors ?? [])) => Errors = errors ?? [];

    public RiskConfigException()
        : this([])
    {
    }

    public RiskConfigException(string message)
        : base(message) => Errors = [message];

    public RiskConfigException(string message, Exception innerException)
        : base(message, innerException) => Errors = [message];

    public IReadOnlyList<string> Errors { get; }
}
