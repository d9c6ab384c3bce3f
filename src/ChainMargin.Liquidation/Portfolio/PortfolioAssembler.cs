using System.Globalization;
using System.Numerics;
using ChainMargin.Core;

namespace ChainMargin.Liquidation.Portfolio;

/// <summary>The rows of the store that portfolios are built from, read once per recompute and shared by all accounts.</summary>
public sealed record StoreSnapshot(
    IReadOnlyList<CollateralBalance> Collateral,
    IReadOnlyList<PerpPositionRow> Perps,
    IReadOnlyList<OptionPositionRow> Options,
    IReadOnlyList<PerpMarketRow> Markets,
    IReadOnlyList<OptionSeriesRow> Series,
    IReadOnlyList<PriceRoundRow> Prices,
    IReadOnlyDictionary<ChainId, BlockRef> Checkpoints)
{
    public static async Task<StoreSnapshot> ReadAsync(IChainStore store, IEnumerable<ChainId> chains, EvmAddress? account, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(chains);
        var checkpoints = new Dictionary<ChainId, BlockRef>();
        foreach (var chain in chains)
        {
            var checkpoint = await store.GetCheckpointAsync(chain, cancellationToken).ConfigureAwait(false);
            if (checkpoint is not null)
            {
                checkpoints[chain] = checkpoint.Block;
            }
        }

        return new StoreSnapshot(
            await store.GetCollateralAsync(account, cancellationToken).ConfigureAwait(false),
            await store.GetPerpPositionsAsync(account, cancellationToken).ConfigureAwait(false),
            await store.GetOptionPositionsAsync(account, cancellationToken).ConfigureAwait(false),
            await store.GetPerpMarketsAsync(cancellationToken).ConfigureAwait(false),
            await store.GetOptionSeriesAsync(cancellationToken).ConfigureAwait(false),
            await store.GetLatestPricesAsync(cancellationToken).ConfigureAwait(false),
            checkpoints);
    }

    /// <summary>The rows of several addresses (a linked account's), each address read on its own and the rows joined.</summary>
    public static async Task<StoreSnapshot> ReadAddressesAsync(IChainStore store, IEnumerable<ChainId> chains, IReadOnlyList<EvmAddress> addresses, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        var first = await ReadAsync(store, chains, addresses.Count > 0 ? addresses[0] : null, cancellationToken).ConfigureAwait(false);
        if (addresses.Count <= 1)
        {
            return first;
        }

        var collateral = first.Collateral.ToList();
        var perps = first.Perps.ToList();
        var options = first.Options.ToList();
        foreach (var address in addresses.Skip(1))
        {
            collateral.AddRange(await store.GetCollateralAsync(address, cancellationToken).ConfigureAwait(false));
            perps.AddRange(await store.GetPerpPositionsAsync(address, cancellationToken).ConfigureAwait(false));
            options.AddRange(await store.GetOptionPositionsAsync(address, cancellationToken).ConfigureAwait(false));
        }

        return first with { Collateral = collateral, Perps = perps, Options = options };
    }

    public IEnumerable<EvmAddress> Accounts =>
        Collateral.Select(c => c.Account).Concat(Perps.Select(p => p.Account)).Concat(Options.Select(o => o.Account)).Distinct();
}

/// <summary>
/// Joins an account's rows on every chain into one <see cref="Core.Portfolio"/>: tokens become canonical assets with
/// their decimals, perp markets and option series resolve to their underlyings. The portfolio's block vector holds each
/// chain's checkpoint, the block every value of that chain was read at. Linked addresses (<see cref="AccountGroups"/>)
/// make one portfolio under the group's primary; each position keeps the address that holds it.
/// </summary>
public sealed class PortfolioAssembler
{
    private const int SizeDecimals = 18;
    private readonly TokenRegistry _registry;
    private readonly IReadOnlyDictionary<(ChainId, EvmAddress), FeedDecimals>? _decimals;

    /// <param name="decimals">
    /// Each feed's decimals as read from its chain (perp entry prices and option strikes are in their feed's
    /// decimals); null, or a feed not read, assumes the reference protocol's 8 (the feed's price is then unsafe anyway).
    /// </param>
    public PortfolioAssembler(TokenRegistry registry, IReadOnlyDictionary<(ChainId, EvmAddress), FeedDecimals>? decimals = null)
    {
        _registry = registry;
        _decimals = decimals;
    }

    private int ScaleOf(ChainId chain, EvmAddress feed) =>
        _decimals is not null && _decimals.TryGetValue((chain, feed), out var known) && known.Decimals is { } value ? value : FeedDecimals;

    /// <summary>Builds one portfolio per account (zero balances and closed positions left out).</summary>
    public IReadOnlyDictionary<EvmAddress, Core.Portfolio> Assemble(StoreSnapshot rows, IReadOnlySet<EvmAddress>? only = null) =>
        Assemble(rows, only, AccountGroups.None);

    /// <summary>
    /// Builds one portfolio per account, linked addresses joined under their primary (the dictionary's key).
    /// <paramref name="only"/> may name any address of an account.
    /// </summary>
    public IReadOnlyDictionary<EvmAddress, Core.Portfolio> Assemble(StoreSnapshot rows, IReadOnlySet<EvmAddress>? only, AccountGroups groups)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(groups);
        if (only is not null && groups.Links.Count > 0)
        {
            only = only.Select(groups.AccountOf).ToHashSet();
        }

        var markets = rows.Markets.ToDictionary(m => (m.Chain.Value, m.Venue, m.MarketId));
        var series = rows.Series.ToDictionary(s => (s.Chain.Value, s.Venue, s.SeriesId));
        var builders = new Dictionary<EvmAddress, Builder>();
        Builder For(EvmAddress address)
        {
            var account = groups.AccountOf(address);
            if (!builders.TryGetValue(account, out var builder))
            {
                builder = new Builder(account);
                builders[account] = builder;
            }

            return builder;
        }

        bool Wanted(EvmAddress address) => only is null || only.Contains(groups.AccountOf(address));

        foreach (var row in rows.Collateral)
        {
            if (row.Balance.IsZero || !Wanted(row.Account))
            {
                continue;
            }

            var token = _registry.Token(row.Chain, row.Token);
            var builder = For(row.Account);
            if (token is null)
            {
                builder.Unknown.Add($"collateral token {row.Token} on chain {row.Chain} is not in the asset registry");
                continue;
            }

            // The token's own symbol goes to the engine: the risk config maps a wrapped or bridged variant (WETH,
            // USDC.E) to its canonical asset with the variant's haircut.
            builder.Collateral.Add(new PortfolioCollateral(row.Chain, "vault:" + row.Venue, new AssetId(token.Symbol), new TokenAmount(row.Balance, token.Decimals), row.AsOf) { Holder = row.Account });
        }

        foreach (var row in rows.Perps)
        {
            if (row.Size.IsZero || !Wanted(row.Account))
            {
                continue;
            }

            var builder = For(row.Account);
            if (!markets.TryGetValue((row.Chain.Value, row.Venue, row.MarketId), out var market))
            {
                builder.Unknown.Add($"perp market {row.MarketId} on chain {row.Chain} is not listed");
                continue;
            }

            var asset = _registry.PriceFeedAsset(row.Chain, market.Feed) ?? new AssetId(market.Symbol);
            builder.Perps.Add(new PortfolioPerp(
                row.Chain, "perp:" + row.Venue, market.Symbol + "-PERP", asset, new TokenAmount(row.Size, SizeDecimals),
                new TokenAmount(row.EntryPrice, ScaleOf(row.Chain, market.Feed)), row.AsOf) { Holder = row.Account });
        }

        foreach (var row in rows.Options)
        {
            if (row.Size.IsZero || !Wanted(row.Account))
            {
                continue;
            }

            var builder = For(row.Account);
            if (!series.TryGetValue((row.Chain.Value, row.Venue, row.SeriesId), out var s))
            {
                builder.Unknown.Add($"option series {row.SeriesId} on chain {row.Chain} is not listed");
                continue;
            }

            var asset = _registry.PriceFeedAsset(row.Chain, s.Feed) ?? new AssetId(s.Symbol);
            var strikeScale = ScaleOf(row.Chain, s.Feed);
            var name = string.Create(CultureInfo.InvariantCulture,
                $"{s.Symbol}-{DateTimeOffset.FromUnixTimeSeconds(s.Expiry):yyyyMMdd}-{Units.Format(s.Strike, strikeScale).TrimEnd('0').TrimEnd('.')}-{(s.IsCall ? "C" : "P")}");
            builder.Options.Add(new PortfolioOption(
                row.Chain, "options:" + row.Venue, name, asset, new TokenAmount(s.Strike, strikeScale),
                DateTimeOffset.FromUnixTimeSeconds(s.Expiry), s.IsCall, new TokenAmount(row.Size, SizeDecimals), row.AsOf) { Holder = row.Account });
        }

        var result = new Dictionary<EvmAddress, Core.Portfolio>();
        foreach (var (account, builder) in builders)
        {
            var chains = builder.Chains();
            var vector = new BlockVector(chains.Select(c => rows.Checkpoints.TryGetValue(c, out var cp) ? cp : builder.LatestBlock(c)));
            result[account] = new Core.Portfolio(account, groups.AddressesOf(account), builder.Collateral, [], builder.Perps, builder.Options, [], vector);
        }

        return result;
    }

    /// <summary>
    /// The reference protocol's feeds answer with 8 decimals (Chainlink's USD convention): assumed only where no
    /// decimals were read from the chain (tools and tests without RPC).
    /// </summary>
    public const int FeedDecimals = 8;

    private sealed class Builder(EvmAddress account)
    {
        public EvmAddress Account { get; } = account;

        public List<PortfolioCollateral> Collateral { get; } = [];

        public List<PortfolioPerp> Perps { get; } = [];

        public List<PortfolioOption> Options { get; } = [];

        public List<string> Unknown { get; } = [];

        public IEnumerable<ChainId> Chains() =>
            Collateral.Select(c => c.Chain).Concat(Perps.Select(p => p.Chain)).Concat(Options.Select(o => o.Chain)).Distinct();

        public BlockRef LatestBlock(ChainId chain) =>
            Collateral.Where(c => c.Chain == chain).Select(c => c.AsOf)
                .Concat(Perps.Where(p => p.Chain == chain).Select(p => p.AsOf))
                .Concat(Options.Where(o => o.Chain == chain).Select(o => o.AsOf))
                .MaxBy(b => b.Number);
    }

}
