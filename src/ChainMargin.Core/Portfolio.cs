namespace ChainMargin.Core;

/// <summary>Collateral of one canonical asset held at a venue on a chain.</summary>
public sealed record PortfolioCollateral(ChainId Chain, string Venue, AssetId Asset, TokenAmount Amount, BlockRef AsOf)
{
    /// <summary>The address that holds the position (one of the account's linked addresses); null: the account's own.</summary>
    public EvmAddress? Holder { get; init; }
}

/// <summary>A debt (a borrow) of one canonical asset at a venue on a chain.</summary>
public sealed record PortfolioDebt(ChainId Chain, string Venue, AssetId Asset, TokenAmount Amount, BlockRef AsOf)
{
    /// <summary>The address that holds the position (one of the account's linked addresses); null: the account's own.</summary>
    public EvmAddress? Holder { get; init; }
}

/// <summary>A perpetual position: signed size in units of the underlying, entry price in USD.</summary>
public sealed record PortfolioPerp(ChainId Chain, string Venue, string Market, AssetId Underlying, TokenAmount Size, TokenAmount EntryPrice, BlockRef AsOf)
{
    /// <summary>The address that holds the position (one of the account's linked addresses); null: the account's own.</summary>
    public EvmAddress? Holder { get; init; }
}

/// <summary>A European cash-settled option: signed size (long positive) in units of the underlying, strike in USD.</summary>
public sealed record PortfolioOption(
    ChainId Chain, string Venue, string Series, AssetId Underlying, TokenAmount Strike, DateTimeOffset Expiry, bool IsCall, TokenAmount Size, BlockRef AsOf)
{
    /// <summary>The address that holds the position (one of the account's linked addresses); null: the account's own.</summary>
    public EvmAddress? Holder { get; init; }
}

/// <summary>A venue's own health for the account on one chain (where that venue will liquidate), in the venue's terms.</summary>
public sealed record VenueHealth(ChainId Chain, string Venue, decimal? Health, string Detail, BlockRef AsOf);

/// <summary>
/// One account's positions on every chain, each with the block it was read at. An account may be several linked
/// addresses; the first is the account's name.
/// </summary>
public sealed record Portfolio(
    EvmAddress Account,
    IReadOnlyList<EvmAddress> Addresses,
    IReadOnlyList<PortfolioCollateral> Collateral,
    IReadOnlyList<PortfolioDebt> Debts,
    IReadOnlyList<PortfolioPerp> Perps,
    IReadOnlyList<PortfolioOption> Options,
    IReadOnlyList<VenueHealth> VenueHealth,
    BlockVector Blocks)
{
    public static Portfolio Empty(EvmAddress account) => new(account, [account], [], [], [], [], [], new BlockVector());

    public IEnumerable<ChainId> Chains =>
        Collateral.Select(c => c.Chain).Concat(Debts.Select(d => d.Chain)).Concat(Perps.Select(p => p.Chain))
            .Concat(Options.Select(o => o.Chain)).Distinct().OrderBy(c => c.Value);
}
