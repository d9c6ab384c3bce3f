using ChainMargin.Core;
using static ChainMargin.Risk.Tests.Fixtures;

namespace ChainMargin.Risk.Tests;

/// <summary>Random but plausible portfolios from a seed: 1 to 3 chains, collateral, debts, perps and options.</summary>
internal static class RandomPortfolios
{
    private static readonly ChainId[] Chains = [ChainA, ChainB, ChainC];
    private static readonly string[] Underlyings = ["ETH", "BTC"];

    /// <summary>A market with a price history, shared by the property tests (preparing it once keeps them fast).</summary>
    public static readonly RiskMarket Market = Prepare(history: History(400, 99, (Eth, 3000, 0.04), (Btc, 60000, 0.03), (Usdc, 1, 0.0005)));

    public static Portfolio Create(int seed, EvmAddress? account = null)
    {
        var random = new Random(seed);
        var chains = Chains.Take(1 + random.Next(3)).ToArray();
        ChainId Chain() => chains[random.Next(chains.Length)];
        decimal Units(double max) => Math.Round((decimal)(random.NextDouble() * max), 4) + 0.0001m;
        string Underlying() => Underlyings[random.Next(Underlyings.Length)];
        decimal Spot(string u) => u == "ETH" ? 3000m : 60000m;

        var collateral = Enumerable.Range(0, random.Next(4)).Select(_ => random.Next(3) switch
        {
            0 => Collateral(Chain(), "USDC", Units(20_000), 6),
            1 => Collateral(Chain(), "ETH", Units(5)),
            _ => Collateral(Chain(), "BTC", Units(0.3), 8),
        }).ToList();
        var debts = Enumerable.Range(0, random.Next(2)).Select(_ => Debt(Chain(), "USDC", Units(2000), 6)).ToList();
        var perps = Enumerable.Range(0, random.Next(4)).Select(_ =>
        {
            var u = Underlying();
            var size = Units(u == "ETH" ? 5 : 0.3) * (random.Next(2) == 0 ? 1 : -1);
            return Perp(Chain(), u, size, Spot(u) * (0.9m + (decimal)(random.NextDouble() * 0.2)));
        }).ToList();
        var options = Enumerable.Range(0, random.Next(4)).Select(_ =>
        {
            var u = Underlying();
            var strike = Math.Round(Spot(u) * (0.7m + (decimal)(random.NextDouble() * 0.6)));
            var size = Units(u == "ETH" ? 5 : 0.3) * (random.Next(2) == 0 ? 1 : -1);
            return Option(Chain(), u, strike, 1 + random.Next(90), random.Next(2) == 0, size);
        }).ToList();
        return Portfolio(collateral, perps, options, debts, account);
    }

    public static IReadOnlyList<T> Shuffle<T>(IReadOnlyList<T> items, Random random) => [.. items.OrderBy(_ => random.Next())];
}
