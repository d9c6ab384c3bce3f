using System.Numerics;
using ChainMargin.Core;
using Xunit;

namespace ChainMargin.Storage.Tests;

/// <summary>Everything the store derives for one chain, read through the port.</summary>
internal sealed record Snapshot(
    IReadOnlyList<CollateralBalance> Collateral,
    IReadOnlyList<PerpPositionRow> Perps,
    IReadOnlyList<OptionPositionRow> Options,
    IReadOnlyList<PerpMarketRow> Markets,
    IReadOnlyList<OptionSeriesRow> Series,
    IReadOnlyList<PriceRoundRow> Latest,
    IReadOnlyList<PriceRoundRow> History,
    IReadOnlyList<RejectedLog> Rejected)
{
    public static async Task<Snapshot> ReadAsync(IChainStore store, ChainId chain)
    {
        var ct = CancellationToken.None;
        var history = new List<PriceRoundRow>();
        foreach (var feed in Facts.Feeds)
        {
            history.AddRange(await store.GetPriceHistoryAsync(chain, Facts.Address(feed), 10_000, ct));
        }

        return new Snapshot(
            [.. (await store.GetCollateralAsync(null, ct)).Where(x => x.Chain == chain)],
            [.. (await store.GetPerpPositionsAsync(null, ct)).Where(x => x.Chain == chain)],
            [.. (await store.GetOptionPositionsAsync(null, ct)).Where(x => x.Chain == chain)],
            [.. (await store.GetPerpMarketsAsync(ct)).Where(x => x.Chain == chain)],
            [.. (await store.GetOptionSeriesAsync(ct)).Where(x => x.Chain == chain)],
            [.. (await store.GetLatestPricesAsync(ct)).Where(x => x.Chain == chain)],
            history,
            await store.GetRejectedLogsAsync(chain, ct));
    }

    /// <summary>
    /// What a clean index of <paramref name="facts"/> must give, computed here independently of any store: sums for
    /// collateral, the latest fact by (block, log index) for everything else.
    /// </summary>
    public static Snapshot Expected(IReadOnlyCollection<ChainFact> facts)
    {
        static T Latest<T>(IEnumerable<T> group)
            where T : ChainFact => group.OrderBy(f => f.Block.Number).ThenBy(f => f.LogIndex).Last();

        var collateral = facts.OfType<CollateralChanged>()
            .GroupBy(f => (f.Block.Chain, f.Contract, f.Account, f.Token))
            .Select(g => new CollateralBalance(
                g.Key.Chain, g.Key.Contract, g.Key.Account, g.Key.Token,
                g.Aggregate(BigInteger.Zero, (sum, f) => sum + f.Delta),
                g.OrderBy(f => f.Block.Number).Last().Block))
            .OrderBy(x => x.Chain.Value).ThenBy(x => x.Venue).ThenBy(x => x.Account).ThenBy(x => x.Token)
            .ToList();
        var perps = facts.OfType<PerpPositionChanged>()
            .GroupBy(f => (f.Block.Chain, f.Contract, f.Account, f.MarketId))
            .Select(g => Latest(g))
            .Select(f => new PerpPositionRow(f.Block.Chain, f.Contract, f.Account, f.MarketId, f.NewSize, f.EntryPrice, f.Block))
            .OrderBy(x => x.Chain.Value).ThenBy(x => x.Venue).ThenBy(x => x.Account).ThenBy(x => x.MarketId)
            .ToList();
        var options = facts.OfType<OptionPositionChanged>()
            .GroupBy(f => (f.Block.Chain, f.Contract, f.Account, f.SeriesId))
            .Select(g => Latest(g))
            .Select(f => new OptionPositionRow(f.Block.Chain, f.Contract, f.Account, f.SeriesId, f.NewSize, f.Block))
            .OrderBy(x => x.Chain.Value).ThenBy(x => x.Venue).ThenBy(x => x.Account).ThenBy(x => x.SeriesId)
            .ToList();
        var markets = facts.OfType<PerpMarketListed>()
            .GroupBy(f => (f.Block.Chain, f.Contract, f.MarketId))
            .Select(g => Latest(g))
            .Select(f => new PerpMarketRow(f.Block.Chain, f.Contract, f.MarketId, f.Feed, f.Symbol))
            .OrderBy(x => x.Chain.Value).ThenBy(x => x.Venue).ThenBy(x => x.MarketId)
            .ToList();
        var series = facts.OfType<OptionSeriesListed>()
            .GroupBy(f => (f.Block.Chain, f.Contract, f.SeriesId))
            .Select(g => Latest(g))
            .Select(f => new OptionSeriesRow(f.Block.Chain, f.Contract, f.SeriesId, f.Feed, f.Symbol, f.Strike, f.Expiry, f.IsCall))
            .OrderBy(x => x.Chain.Value).ThenBy(x => x.Venue).ThenBy(x => x.SeriesId)
            .ToList();
        var rounds = facts.OfType<PriceRoundUpdated>().ToList();
        var latest = rounds
            .GroupBy(f => (f.Block.Chain, f.Contract))
            .Select(g => Latest(g))
            .Select(ToRow)
            .OrderBy(x => x.Chain.Value).ThenBy(x => x.Feed)
            .ToList();
        var history = Facts.Feeds
            .SelectMany(feed => rounds.Where(r => r.Contract == Facts.Address(feed)).OrderBy(r => r.Block.Number).ThenBy(r => r.LogIndex))
            .Select(ToRow)
            .ToList();
        var rejected = facts.OfType<RejectedLog>().OrderBy(f => f.Block.Number).ThenBy(f => f.LogIndex).ToList();
        return new Snapshot(collateral, perps, options, markets, series, latest, history, rejected);
    }

    public static void AssertEqual(Snapshot expected, Snapshot actual)
    {
        Assert.Equal(expected.Collateral, actual.Collateral);
        Assert.Equal(expected.Perps, actual.Perps);
        Assert.Equal(expected.Options, actual.Options);
        Assert.Equal(expected.Markets, actual.Markets);
        Assert.Equal(expected.Series, actual.Series);
        Assert.Equal(expected.Latest, actual.Latest);
        Assert.Equal(expected.History, actual.History);
        Assert.Equal(expected.Rejected, actual.Rejected);
    }

    private static PriceRoundRow ToRow(PriceRoundUpdated f) => new(f.Block.Chain, f.Contract, f.RoundId, f.Answer, f.UpdatedAt, f.Block);
}
