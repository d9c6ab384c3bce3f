using System.Globalization;
using System.Numerics;
using ChainMargin.Core;

namespace ChainMargin.Risk.Tests;

/// <summary>Portfolios and markets for the tests, written in whole units and converted to raw amounts once.</summary>
internal static class Fixtures
{
    public static readonly ChainId ChainA = new(1);
    public static readonly ChainId ChainB = new(10);
    public static readonly ChainId ChainC = new(42161);
    public static readonly AssetId Usdc = new("USDC");
    public static readonly AssetId Eth = new("ETH");
    public static readonly AssetId Btc = new("BTC");
    public static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly EvmAddress Alice = EvmAddress.Parse("0x00000000000000000000000000000000000a11ce");

    public static BlockRef Block(ChainId chain, long number = 100) =>
        new(chain, number, "0x" + number.ToString("x64", CultureInfo.InvariantCulture));

    public static TokenAmount Amount(decimal units, int decimals)
    {
        var scaled = units;
        var remaining = decimals;
        var raw = BigInteger.Zero;
        while (remaining > 0 && scaled != decimal.Truncate(scaled) && remaining > 0)
        {
            scaled *= 10;
            remaining--;
        }

        raw = new BigInteger(decimal.Truncate(scaled)) * Units.Pow10(remaining);
        return new TokenAmount(raw, decimals);
    }

    public static PortfolioCollateral Collateral(ChainId chain, string asset, decimal units, int decimals = 18) =>
        new(chain, "vault", new AssetId(asset), Amount(units, decimals), Block(chain));

    public static PortfolioDebt Debt(ChainId chain, string asset, decimal units, int decimals = 6) =>
        new(chain, "lend", new AssetId(asset), Amount(units, decimals), Block(chain));

    public static PortfolioPerp Perp(ChainId chain, string asset, decimal size, decimal entry) =>
        new(chain, "perps", asset + "-PERP", new AssetId(asset), Amount(size, 18), Amount(entry, 8), Block(chain));

    public static PortfolioOption Option(ChainId chain, string asset, decimal strike, double days, bool isCall, decimal size) =>
        new(chain, "options", string.Create(CultureInfo.InvariantCulture, $"{asset}-{strike}-{days}-{(isCall ? 'C' : 'P')}"), new AssetId(asset),
            Amount(strike, 8), Now.AddDays(days), isCall, Amount(size, 18), Block(chain));

    public static Portfolio Portfolio(
        IEnumerable<PortfolioCollateral>? collateral = null,
        IEnumerable<PortfolioPerp>? perps = null,
        IEnumerable<PortfolioOption>? options = null,
        IEnumerable<PortfolioDebt>? debts = null,
        EvmAddress? account = null)
    {
        var c = collateral?.ToList() ?? [];
        var p = perps?.ToList() ?? [];
        var o = options?.ToList() ?? [];
        var d = debts?.ToList() ?? [];
        var blocks = new BlockVector(c.Select(x => x.AsOf).Concat(p.Select(x => x.AsOf)).Concat(o.Select(x => x.AsOf)).Concat(d.Select(x => x.AsOf)));
        var who = account ?? Alice;
        return new Portfolio(who, [who], c, d, p, o, [], blocks);
    }

    public static AssetPrice Price(AssetId asset, decimal usd, PriceStatus status = PriceStatus.Safe, string? reason = null) =>
        new(asset, usd, status, reason, []);

    public static MarketSnapshot Market(
        decimal eth = 3000m, decimal btc = 60000m, double ethVol = 0.8, double btcVol = 0.6,
        IEnumerable<AssetPrice>? extra = null, IReadOnlyDictionary<ChainId, string>? stale = null)
    {
        var prices = new Dictionary<AssetId, AssetPrice>
        {
            [Usdc] = Price(Usdc, 1m),
            [Eth] = Price(Eth, eth),
            [Btc] = Price(Btc, btc),
        };
        foreach (var p in extra ?? [])
        {
            prices[p.Asset] = p;
        }

        var vols = new Dictionary<AssetId, AssetVolatility>
        {
            [Eth] = new(Eth, ethVol, "test"),
            [Btc] = new(Btc, btcVol, "test"),
        };
        return new MarketSnapshot(Now, prices, vols, stale ?? new Dictionary<ChainId, string>());
    }

    public static RiskConfig Config() => RiskConfig.CreateDefault();

    public static RiskMarket Prepare(MarketSnapshot? snapshot = null, RiskConfig? config = null, PriceHistory? history = null) =>
        RiskMarket.Prepare(snapshot ?? Market(), config ?? Config(), history);

    public static MarginReport Compute(Portfolio portfolio, RiskMarket? market = null, bool liquidation = false) =>
        MarginEngine.Compute(new MarginParameters(portfolio, market ?? Prepare()) { IncludeLiquidationPrices = liquidation });

    /// <summary>A deterministic geometric random walk of aligned prices, for history-based tests.</summary>
    public static PriceHistory History(int days, int seed, params (AssetId Asset, double Start, double DailyVol)[] assets)
    {
        var random = new Random(seed);
        var result = new Dictionary<AssetId, double[]>();
        var shocks = new double[days];
        for (var i = 0; i < days; i++)
        {
            shocks[i] = Gaussian(random);
        }

        foreach (var (asset, start, vol) in assets)
        {
            var prices = new double[days];
            prices[0] = start;
            for (var i = 1; i < days; i++)
            {
                // Half common shock, half own: the assets are correlated, as crypto assets are.
                var z = (0.7 * shocks[i]) + (0.714 * Gaussian(random));
                prices[i] = prices[i - 1] * Math.Exp(vol * z);
            }

            result[asset] = prices;
        }

        return new PriceHistory(result);
    }

    public static double Gaussian(Random random)
    {
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    public static double D(decimal? value) => (double)(value ?? throw new InvalidOperationException("value is null"));
}
