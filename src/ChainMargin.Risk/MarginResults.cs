using ChainMargin.Core;

namespace ChainMargin.Risk;

/// <summary>The names of the margin methods, as reported and as configured in Risk:HeadlineMethod.</summary>
public static class MarginMethods
{
    public const string Isolated = "isolated";
    public const string Cross = "cross";
    public const string Portfolio = "portfolio";
    public const string VarHistorical = "var-historical";
    public const string VarMonteCarlo = "var-monte-carlo";
    public const string Dynamic = "dynamic";
    public const string Credit = "credit";

    /// <summary>In the order they are reported.</summary>
    public static IReadOnlyList<string> All { get; } = [Isolated, Cross, Portfolio, VarHistorical, VarMonteCarlo, Dynamic, Credit];
}

/// <summary>
/// Worst first: a method reports the worst status of its inputs. Unpriced and price-unsafe carry their reasons;
/// stale results are computed but flagged; no-requirement means health is not defined (reported as null).
/// </summary>
public enum MarginStatus
{
    Ok = 0,
    NoRequirement = 1,
    Stale = 2,
    NotComputed = 3,
    PriceUnsafe = 4,
    Unpriced = 5,
}

public static class MarginStatusNames
{
    public static string Name(this MarginStatus status) => status switch
    {
        MarginStatus.Ok => "ok",
        MarginStatus.NoRequirement => "no-requirement",
        MarginStatus.Stale => "stale",
        MarginStatus.NotComputed => "not-computed",
        MarginStatus.PriceUnsafe => "price-unsafe",
        MarginStatus.Unpriced => "unpriced",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };
}

/// <summary>One account's portfolio valued against a prepared market (prices, grids and shared scenarios).</summary>
public sealed record MarginParameters(Portfolio Portfolio, RiskMarket Market)
{
    /// <summary>Liquidation prices cost a root search per underlying and method; a sweep may skip them.</summary>
    public bool IncludeLiquidationPrices { get; init; } = true;
}

/// <summary>
/// Everything the engine says about one account: every method side by side, the headline, capital efficiency against
/// isolated margin, the credit line, and the block vector the inputs were read at.
/// </summary>
public sealed record MarginReport(
    EvmAddress Account,
    string HeadlineMethod,
    IReadOnlyList<MethodResult> Methods,
    CapitalEfficiency Efficiency,
    CreditLine? Credit,
    BlockVector Blocks,
    DateTimeOffset ValuedAt)
{
    /// <summary>Every address of the account (linked addresses after the primary); the account alone when not linked.</summary>
    public IReadOnlyList<EvmAddress> Addresses { get; init; } = [Account];

    public MethodResult Headline => Method(HeadlineMethod);

    public MethodResult Method(string name) =>
        Methods.FirstOrDefault(m => m.Method == name) ?? throw new KeyNotFoundException($"no margin method '{name}'");
}

/// <summary>
/// One method's verdict. Health = equity / maintenance; null when there is no requirement or the inputs are unpriced.
/// Equity is risk-adjusted (collateral weights, option haircuts where the method uses them).
/// </summary>
public sealed record MethodResult(
    string Method,
    MarginStatus Status,
    IReadOnlyList<string> Reasons,
    decimal? Equity,
    decimal? Maintenance,
    decimal? Initial,
    decimal? Health,
    IReadOnlyList<PositionContribution> Positions,
    IReadOnlyList<ChainContribution> Chains,
    SettingScenario? Scenario,
    IReadOnlyList<LiquidationPrice> LiquidationPrices,
    IReadOnlyList<RiskMeasure> Measures)
{
    public string StatusName => Status.Name();
}

/// <summary>
/// What one position adds: to equity (its risk-adjusted value) and to the maintenance requirement (for the statistical
/// methods its component VaR/ES). Kind: collateral, debt, perp, option. Instrument: asset, market or series.
/// </summary>
public sealed record PositionContribution(
    string Kind, ChainId Chain, string Venue, string Instrument, AssetId Asset, decimal Equity, decimal Requirement)
{
    /// <summary>The address that holds the position (for a linked account, which of its addresses).</summary>
    public EvmAddress? Holder { get; init; }
}

public sealed record ChainContribution(ChainId Chain, decimal Equity, decimal Requirement, decimal? Health);

/// <summary>The scenario that set the requirement: for the grid, the underlying and its spot and vol shock.</summary>
public sealed record SettingScenario(string Description, AssetId? Underlying, double? SpotShock, double? VolShock, decimal Loss);

/// <summary>
/// Where the method's equity meets its maintenance requirement as one underlying moves, everything else fixed. Null
/// bounds: no such price within 1/100x..100x of spot. <see cref="AlreadyBelow"/>: the account is under water now.
/// </summary>
public sealed record LiquidationPrice(AssetId Underlying, decimal Spot, decimal? Below, decimal? Above, bool AlreadyBelow);

/// <summary>A statistical measure (VaR or ES) at a confidence and horizon, in USD of loss.</summary>
public sealed record RiskMeasure(string Measure, double Confidence, double HorizonDays, decimal Value);

/// <summary>How much less maintenance margin cross and portfolio margin need than isolated margin.</summary>
public sealed record CapitalEfficiency(
    decimal? IsolatedMaintenance,
    decimal? CrossMaintenance,
    decimal? PortfolioMaintenance,
    decimal? CrossSaving,
    decimal? PortfolioSaving,
    decimal? CrossSavingFraction,
    decimal? PortfolioSavingFraction);

/// <summary>A configured credit line: its limit and how much of it counted toward the credit method's equity.</summary>
public sealed record CreditLine(decimal Limit, decimal Counted);
