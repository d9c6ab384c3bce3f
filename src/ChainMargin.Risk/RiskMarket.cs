using System.Collections.Concurrent;
using ChainMargin.Core;

namespace ChainMargin.Risk;

/// <summary>
/// Indexed prices of canonical assets, aligned and oldest first, one observation every Risk:Var:ReturnIntervalDays.
/// The statistical methods and the EWMA volatility of dynamic margin come from it.
/// </summary>
public sealed record PriceHistory(IReadOnlyDictionary<AssetId, double[]> Prices);

/// <summary>
/// The market prepared once per price update and shared by every account: prices and volatilities by canonical asset,
/// every option series valued over the spot x vol grid once, and the factor scenarios (historical and Monte Carlo)
/// that all accounts' P&amp;L are taken against. Safe to use from several threads.
/// </summary>
public sealed class RiskMarket
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (AssetId Canonical, double Haircut)> _variants = new(StringComparer.OrdinalIgnoreCase);
    // Keyed by the symbol string: string keys get the runtime's fast non-randomised hashing, the hot path of a compile.
    private readonly ConcurrentDictionary<string, Resolved> _resolved = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<AssetId, int> _assetIndex = new();
    private readonly ConcurrentDictionary<SeriesKey, int> _seriesIndex = new();
    private readonly Dictionary<EvmAddress, double> _credit = [];
    private AssetState[] _assets = [];
    private SeriesState[] _series = [];
    private DateTimeOffset[] _seriesExpiry = [];

    private RiskMarket(MarketSnapshot snapshot, RiskConfig config, PriceHistory? history)
    {
        Snapshot = snapshot;
        Config = config;
        var grid = config.Grid;
        SpotShocks = new double[grid.SpotSteps];
        for (var i = 0; i < grid.SpotSteps; i++)
        {
            SpotShocks[i] = -grid.SpotRange + (2 * grid.SpotRange * i / (grid.SpotSteps - 1));
        }

        SpotShocks[grid.SpotSteps / 2] = 0;
        VolShocks = [.. grid.VolShocks];
        foreach (var (symbol, asset) in config.Assets)
        {
            var canonical = new AssetId(symbol);
            _variants[symbol] = (canonical, 0);
            foreach (var (variant, options) in asset.Variants)
            {
                _variants[variant] = (canonical, options.Haircut);
            }
        }

        foreach (var (address, limit) in config.CreditLines)
        {
            _credit[EvmAddress.Parse(address)] = (double)limit;
        }

        Factors = history is null ? null : FactorModel.Build(history, config.Var);
    }

    public MarketSnapshot Snapshot { get; }

    public RiskConfig Config { get; }

    /// <summary>Spot shocks of the portfolio-margin grid, e.g. -0.15 .. +0.15 in 21 steps.</summary>
    public IReadOnlyList<double> SpotShockList => SpotShocks;

    public IReadOnlyList<double> VolShockList => VolShocks;

    /// <summary>The factor model and scenarios (null without a price history).</summary>
    public FactorModel? Factors { get; }

    internal double[] SpotShocks { get; }

    internal double[] VolShocks { get; }

    internal int ScenarioCount => SpotShocks.Length * VolShocks.Length;

    internal AssetState[] Assets => Volatile.Read(ref _assets);

    internal SeriesState[] Series => Volatile.Read(ref _series);

    /// <summary>Prepares the market for one price update. The config must be valid (it is checked again here).</summary>
    public static RiskMarket Prepare(MarketSnapshot snapshot, RiskConfig config, PriceHistory? history = null)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(config);
        config.EnsureValid();
        var market = new RiskMarket(snapshot, config, history);
        foreach (var asset in snapshot.Prices.Keys.OrderBy(a => a.Symbol, StringComparer.Ordinal))
        {
            market.AssetIndexOf(market.Canonical(asset).Canonical);
        }

        return market;
    }

    internal double CreditLimit(EvmAddress account) => _credit.TryGetValue(account, out var limit) ? limit : 0;

    /// <summary>The canonical asset of a symbol and the extra haircut of a bridged or wrapped variant.</summary>
    internal (AssetId Canonical, double Haircut, bool Configured) Canonical(AssetId asset) =>
        _variants.TryGetValue(asset.Symbol, out var v) ? (v.Canonical, v.Haircut, true) : (asset, 0, false);

    /// <summary>A portfolio's asset symbol resolved once per market: its canonical index, variant haircut, whether configured.</summary>
    internal Resolved Resolve(AssetId asset)
    {
        if (_resolved.TryGetValue(asset.Symbol, out var resolved))
        {
            return resolved;
        }

        var (canonical, haircut, configured) = Canonical(asset);
        resolved = new Resolved(AssetIndexOf(canonical), haircut, configured);
        _resolved.TryAdd(asset.Symbol, resolved);
        return resolved;
    }

    internal readonly record struct Resolved(int Index, double Haircut, bool Configured);

    internal int AssetIndexOf(AssetId canonical)
    {
        if (_assetIndex.TryGetValue(canonical, out var index))
        {
            return index;
        }

        lock (_gate)
        {
            if (_assetIndex.TryGetValue(canonical, out index))
            {
                return index;
            }

            var state = AssetState.Create(canonical, this);
            var grown = new AssetState[_assets.Length + 1];
            _assets.CopyTo(grown, 0);
            grown[^1] = state;
            Volatile.Write(ref _assets, grown);
            _assetIndex[canonical] = grown.Length - 1;
            return grown.Length - 1;
        }
    }

    /// <summary>The expiry of a registered series (a batch moving to the next price update re-registers by it).</summary>
    internal DateTimeOffset SeriesExpiry(int series)
    {
        lock (_gate)
        {
            return _seriesExpiry[series];
        }
    }

    internal int SeriesIndexOf(int asset, double strike, DateTimeOffset expiry, bool isCall)
    {
        var key = new SeriesKey(asset, strike, expiry.UtcTicks, isCall);
        if (_seriesIndex.TryGetValue(key, out var index))
        {
            return index;
        }

        lock (_gate)
        {
            if (_seriesIndex.TryGetValue(key, out index))
            {
                return index;
            }

            var years = Math.Max(0, (expiry - Snapshot.Now).TotalDays / 365.25);
            var state = SeriesState.Create(_assets[asset], asset, strike, years, isCall, this);
            var grown = new SeriesState[_series.Length + 1];
            _series.CopyTo(grown, 0);
            grown[^1] = state;
            var expiries = new DateTimeOffset[grown.Length];
            _seriesExpiry.CopyTo(expiries, 0);
            expiries[^1] = expiry;
            _seriesExpiry = expiries;
            Volatile.Write(ref _series, grown);
            _seriesIndex[key] = grown.Length - 1;
            return grown.Length - 1;
        }
    }

    private readonly record struct SeriesKey(int Asset, double Strike, long ExpiryTicks, bool IsCall);
}

/// <summary>One canonical asset as the kernels see it. Immutable; a liquidation-price search works on modified copies.</summary>
internal sealed class AssetState
{
    public required AssetId Id { get; init; }

    public required bool Configured { get; init; }

    public required double Weight { get; init; }

    public required bool Stable { get; init; }

    public required bool HasPrice { get; init; }

    /// <summary>The low side of the price: collateral and long exposure are valued at it.</summary>
    public required double Spot { get; init; }

    /// <summary>The high side: debts and short exposure are valued at it. Equal to <see cref="Spot"/> when the chains agree.</summary>
    public required double SpotHigh { get; init; }

    public required PriceStatus Status { get; init; }

    public required string? Reason { get; init; }

    public required bool HasVol { get; init; }

    public required double Vol { get; init; }

    /// <summary>Dynamic margin's multiplier on the standard fractions: vol scale times the circuit breaker's widening.</summary>
    public required double DynamicScale { get; init; }

    public required string DynamicReason { get; init; }

    public required int Factor { get; init; }

    public static AssetState Create(AssetId id, RiskMarket market)
    {
        var config = market.Config;
        config.Assets.TryGetValue(id.Symbol, out var options);
        var price = market.Snapshot.PriceOf(id);
        var hasPrice = price.Usd is { } usd && usd > 0 && price.Status != PriceStatus.Missing;
        var reason = price.Reason;
        var status = price.Status;
        if (!hasPrice)
        {
            status = PriceStatus.Missing;
            reason ??= price.Usd is null ? $"no price for {id}" : $"price of {id} is not positive";
        }

        var factor = market.Factors?.IndexOf(id) ?? -1;
        double? ewma = factor >= 0 ? market.Factors!.AnnualisedVol[factor] : null;
        var vol = market.Snapshot.Volatilities.TryGetValue(id, out var v) && double.IsFinite(v.Annualised) && v.Annualised > 0
            ? v.Annualised
            : ewma ?? 0;
        var hasVol = vol > 0;
        vol = Math.Max(vol, config.Options.MinVolatility);

        var reference = options?.ReferenceVolatility ?? 0.6;
        var scale = 1.0;
        var why = "no volatility history: base fractions";
        if (ewma is { } current)
        {
            scale = Math.Clamp(current / reference, config.Dynamic.MinScale, config.Dynamic.MaxScale);
            why = FormattableString.Invariant($"EWMA vol {current:0.###} / reference {reference:0.###}");
            var move = market.Factors!.LastMove[factor];
            if (config.CircuitBreaker.Enabled && move >= config.CircuitBreaker.MoveThreshold)
            {
                scale *= config.CircuitBreaker.WidenFactor;
                why += FormattableString.Invariant($"; circuit breaker: last move {move:0.###} >= {config.CircuitBreaker.MoveThreshold:0.###}, x{config.CircuitBreaker.WidenFactor:0.##}");
            }
        }

        return new AssetState
        {
            Id = id,
            Configured = options is not null,
            Weight = options?.CollateralWeight ?? 0,
            Stable = options?.Stable ?? false,
            HasPrice = hasPrice,
            Spot = hasPrice ? (double)price.Usd!.Value : 0,
            SpotHigh = hasPrice ? (double)price.UsdHigh!.Value : 0,
            Status = status,
            Reason = reason,
            HasVol = hasVol,
            Vol = vol,
            DynamicScale = scale,
            DynamicReason = why,
            Factor = factor,
        };
    }

    /// <summary>The price a signed quantity is valued at: the high side for a liability or short, the low side otherwise.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public double Mark(double qty) => qty < 0 ? SpotHigh : Spot;

    /// <summary>This asset at another low price, the spread between the sides kept in proportion.</summary>
    public AssetState WithSpot(double spot) => new()
    {
        Id = Id, Configured = Configured, Weight = Weight, Stable = Stable, HasPrice = true, Spot = spot,
        SpotHigh = Spot > 0 ? spot * (SpotHigh / Spot) : spot, Status = Status,
        Reason = Reason, HasVol = HasVol, Vol = Vol, DynamicScale = DynamicScale, DynamicReason = DynamicReason, Factor = Factor,
    };
}

/// <summary>
/// An option series (per unit of underlying) valued now and over the whole spot x vol grid, once per update. When the
/// chains disagree on the underlying's price the series is also valued at the high spot, so each leg can be taken at
/// the side that is worse for its holder; when they agree both sides are the same arrays.
/// </summary>
internal sealed class SeriesState
{
    public required int Asset { get; init; }

    public required double Strike { get; init; }

    public required double Years { get; init; }

    public required bool IsCall { get; init; }

    public required bool Priced { get; init; }

    /// <summary>The value at the low spot. The Greeks are at the low spot too (the VaR kernels use them).</summary>
    public required double Value { get; init; }

    /// <summary>The value at the high spot; equal to <see cref="Value"/> when the chains agree.</summary>
    public required double ValueHigh { get; init; }

    public required double Delta { get; init; }

    public required double Gamma { get; init; }

    /// <summary>Values at grid scenario k = volIndex * spotSteps + spotIndex, shocks applied to the low spot.</summary>
    public required double[] Grid { get; init; }

    /// <summary>The grid around the high spot; the same array as <see cref="Grid"/> when the chains agree.</summary>
    public required double[] GridHigh { get; init; }

    /// <summary>
    /// Whether a leg of this size is valued at the high spot: the side where q x V is lower. A call is worth more at
    /// the higher spot and a put less, so a short call and a long put take the high side, a long call and a short put
    /// the low. Decided by sign and type rather than by comparing values, so a far out-of-the-money short call (value
    /// zero at both sides) still gets the SPAN requirement at the high spot.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public bool AtHigh(double qty) => IsCall ? qty < 0 : qty > 0;

    public static SeriesState Create(AssetState asset, int assetIndex, double strike, double years, bool isCall, RiskMarket market)
    {
        var grid = new double[market.ScenarioCount];
        if (!asset.HasPrice || !asset.HasVol || !(strike > 0) || !double.IsFinite(strike))
        {
            return new SeriesState
            {
                Asset = assetIndex, Strike = strike, Years = years, IsCall = isCall, Priced = false, Value = 0, ValueHigh = 0,
                Delta = 0, Gamma = 0, Grid = grid, GridHigh = grid,
            };
        }

        var rate = market.Config.Options.RiskFreeRate;
        var vols = new double[market.VolShocks.Length];
        for (var j = 0; j < vols.Length; j++)
        {
            vols[j] = Math.Max(market.Config.Options.MinVolatility, asset.Vol * (1 + market.VolShocks[j]));
        }

        var spots = new double[market.SpotShocks.Length];
        PriceAround(asset.Spot, isCall, spots, vols, strike, years, rate, market, grid);
        var greeks = BlackScholes.Greeks(isCall, asset.Spot, strike, years, asset.Vol, rate);
        var gridHigh = grid;
        var valueHigh = greeks.Value;
        if (asset.SpotHigh != asset.Spot)
        {
            gridHigh = new double[market.ScenarioCount];
            PriceAround(asset.SpotHigh, isCall, spots, vols, strike, years, rate, market, gridHigh);
            valueHigh = BlackScholes.Price(isCall, asset.SpotHigh, strike, years, asset.Vol, rate);
        }

        return new SeriesState
        {
            Asset = assetIndex, Strike = strike, Years = years, IsCall = isCall, Priced = true,
            Value = greeks.Value, ValueHigh = valueHigh, Delta = greeks.Delta, Gamma = greeks.Gamma, Grid = grid, GridHigh = gridHigh,
        };
    }

    private static void PriceAround(
        double spot, bool isCall, double[] spots, double[] vols, double strike, double years, double rate, RiskMarket market, double[] grid)
    {
        for (var i = 0; i < spots.Length; i++)
        {
            spots[i] = spot * (1 + market.SpotShocks[i]);
        }

        BlackScholes.PriceGrid(isCall, spots, vols, strike, years, rate, grid);
    }
}
