using System.Collections.Concurrent;
using ChainMargin.Core;
using ChainMargin.Host.Composition;
using ChainMargin.Indexing;
using ChainMargin.Liquidation.Flagging;
using ChainMargin.Liquidation.Keeper;
using ChainMargin.Risk;
using Microsoft.Extensions.Options;

namespace ChainMargin.Host.Aave;

/// <summary>
/// Runs Aave V3 liquidations in this process when Keeper:Enabled: after every recompute of the margin service (the
/// fast path on each committed block, and the sweeps), each account whose Aave health factor, computed from the
/// persisted state at the checkpoint, is below 1 gets a liquidationCall through the keeper's intent machine. Paused
/// while the account's headline is price-unsafe or Aave's oracle has no price for one of its reserves.
/// </summary>
public sealed class AaveV3KeeperHostedService : BackgroundService
{
    private readonly KeeperOptions _options;
    private readonly MarginService _margin;
    private readonly KeeperService _keeper;
    private readonly AaveV3VenueService _venues;
    private readonly IReadOnlyList<ChainOptions> _chains;
    private readonly RiskConfig _risk;
    private readonly IServiceProvider _services;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<(ulong Chain, EvmAddress Account), Task> _inFlight = new();

    public AaveV3KeeperHostedService(
        IOptions<KeeperOptions> options, MarginService margin, KeeperService keeper, AaveV3VenueService venues, IReadOnlyList<ChainOptions> chains,
        RiskConfig risk, IServiceProvider services, ILogger<AaveV3KeeperHostedService> log)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _margin = margin;
        _keeper = keeper;
        _venues = venues;
        _chains = chains;
        _risk = risk;
        _services = services;
        _log = log;
    }

    /// <summary>Aave liquidations started by this service, for metrics and tests.</summary>
    public long Started { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Enabled)
        {
            return;
        }

        foreach (var chain in _chains.Where(c => c.Contracts.AaveV3 is not null && c.RpcUrls.Count > 0))
        {
            _keeper.AddAaveV3Chain(new AaveV3KeeperChain(chain.ChainId, chain.RpcUrls[0], EvmAddress.Parse(chain.Contracts.AaveV3!.Pool)));
        }

        var watchers = _services.GetServices<IHostedService>().OfType<WatcherHostedService>().FirstOrDefault();
        if (watchers is not null)
        {
            await watchers.Started.Task.WaitAsync(stoppingToken).ConfigureAwait(false);
        }

        _ = Task.Run(() => _keeper.ResumeAaveV3Async(stoppingToken), stoppingToken);
        var seen = -1L;
        while (!stoppingToken.IsCancellationRequested)
        {
            if (_margin.Recomputes != seen)
            {
                seen = _margin.Recomputes;
                Dispatch(stoppingToken);
            }

            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Starts a liquidation for every account Aave would liquidate, one at a time per account and chain.</summary>
    public void Dispatch(CancellationToken cancellationToken)
    {
        foreach (var view in _venues.Views.Values)
        {
            foreach (var (user, result) in view.Results)
            {
                if (result.Data is not { IsLiquidatable: true } || _inFlight.ContainsKey((view.Chain.Value, user)))
                {
                    continue;
                }

                var target = new AaveV3LiquidationTarget(
                    user, view.Chain, view.Block, view.Market, view.UserInputs[user], PriceUnsafe(view, user), NativeUsd(view, user));
                Started++;
                var key = (view.Chain.Value, user);
                _inFlight[key] = Task.Run(
                    async () =>
                    {
                        try
                        {
                            await _keeper.ProcessAaveV3Async(target, cancellationToken).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                        {
                        }
                        catch (Exception ex) when (ex is InvalidOperationException or Npgsql.NpgsqlException or Microsoft.Data.Sqlite.SqliteException)
                        {
                            _log.LogError("keeper: Aave liquidation of {Account} on chain {Chain} failed: {Error}", user, view.Chain, ex.Message);
                        }
                        finally
                        {
                            _inFlight.TryRemove(key, out _);
                        }
                    },
                    cancellationToken);
            }
        }
    }

    /// <summary>Why a liquidation of the account must wait, or null: the headline's price safety, then Aave's own prices.</summary>
    private string? PriceUnsafe(AaveV3ChainView view, EvmAddress user)
    {
        if (_margin.Latest(user)?.Headline is { Status: MarginStatus.PriceUnsafe } headline)
        {
            return string.Join("; ", headline.Reasons.DefaultIfEmpty("a price is unsafe"));
        }

        var input = view.UserInputs[user];
        foreach (var balance in input.Reserves)
        {
            if (view.Market.ReserveById(balance.ReserveId) is { Price: null } reserve)
            {
                return $"AaveOracle has no price for {reserve.Asset}: {reserve.PriceReason}";
            }
        }

        return null;
    }

    /// <summary>The gas token in USD: the account's report's ETH spot, else Aave's own price of the chain's wrapped ETH.</summary>
    private decimal? NativeUsd(AaveV3ChainView view, EvmAddress user)
    {
        var spot = _margin.Latest(user)?.Headline.LiquidationPrices
            .FirstOrDefault(p => string.Equals(p.Underlying.Symbol, "ETH", StringComparison.OrdinalIgnoreCase))?.Spot;
        if (spot is not null)
        {
            return spot;
        }

        var eth = _risk.Assets.TryGetValue("ETH", out var options) ? options : null;
        foreach (var (asset, id) in view.Assets)
        {
            if (id is { } symbol && (string.Equals(symbol.Symbol, "ETH", StringComparison.OrdinalIgnoreCase) || (eth?.Variants.ContainsKey(symbol.Symbol) ?? false)) &&
                view.Market.ReserveByAsset(asset)?.Price is { } price)
            {
                return (decimal)price / 100_000_000m;
            }
        }

        return null;
    }
}
