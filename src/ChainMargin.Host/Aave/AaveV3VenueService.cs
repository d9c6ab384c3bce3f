using System.Collections.Frozen;
using System.Globalization;
using System.Text;
using ChainMargin.Core;
using ChainMargin.Indexing;
using ChainMargin.Indexing.Aave;
using ChainMargin.Indexing.Decoding;
using ChainMargin.Indexing.Rpc;
using ChainMargin.Liquidation.Flagging;
using ChainMargin.Risk;
using ChainMargin.Risk.Aave;

namespace ChainMargin.Host.Aave;

/// <summary>
/// For every chain with an Aave V3 market configured, publishes per account Aave's collateral, debts and own health
/// computed from the state the chain's watcher persisted (<see cref="AaveV3SpanIndexer"/>, committed with the
/// checkpoint), at the checkpoint. The margin service's portfolios are enriched with them, refreshed from the store
/// before every computation, so every process sharing the store sees the same Aave state, and an account known only
/// to Aave is swept, flagged and listed like any other.
/// </summary>
public sealed partial class AaveV3VenueService : BackgroundService
{
    private readonly List<ChainOptions> _chains;
    private readonly RiskConfig _risk;
    private readonly IChainStore _store;
    private readonly IAaveV3StateStore _aave;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private readonly Dictionary<ulong, JsonRpcClient> _rpcs = [];
    private readonly Dictionary<EvmAddress, AssetId?> _symbols = [];

    /// <summary>Per chain, the state as last read: the next read asks the store only for what changed since.</summary>
    private readonly Dictionary<ulong, AaveV3StoredState> _loaded = [];
    private FrozenDictionary<ulong, AaveV3ChainView> _views = FrozenDictionary<ulong, AaveV3ChainView>.Empty;
    private long _fullReads;
    private long _changeReads;

    public AaveV3VenueService(
        IReadOnlyList<ChainOptions> chains, RiskConfig risk, MarginService margin, IChainStore store, TimeProvider time, ILogger<AaveV3VenueService> log)
    {
        ArgumentNullException.ThrowIfNull(chains);
        ArgumentNullException.ThrowIfNull(margin);
        _chains = chains.Where(c => c.Contracts.AaveV3 is not null).ToList();
        _risk = risk;
        _store = store;
        _aave = store as IAaveV3StateStore ?? throw new InvalidOperationException("the configured store does not persist Aave V3 state");
        _time = time;
        _log = log;
        margin.PortfolioEnricher = Enrich;
        margin.VenueRefresh = RefreshAsync;
        margin.VenueAccounts = () => Views.Values.SelectMany(v => v.Users).Distinct().ToList();
    }

    /// <summary>The latest view of every Aave chain (by chain id) that has been read at least once.</summary>
    public IReadOnlyDictionary<ulong, AaveV3ChainView> Views => Volatile.Read(ref _views);

    /// <summary>
    /// Adds the Aave positions and Aave's own health of every address of the account. A chain already in the
    /// portfolio's block vector keeps the store's block there; each Aave position carries its own block.
    /// </summary>
    public Portfolio Enrich(EvmAddress account, Portfolio portfolio)
    {
        ArgumentNullException.ThrowIfNull(portfolio);
        var views = Views;
        if (views.Count == 0)
        {
            return portfolio;
        }

        var addresses = portfolio.Addresses.Count > 0 ? portfolio.Addresses : [account];
        List<PortfolioCollateral>? collateral = null;
        List<PortfolioDebt>? debts = null;
        List<VenueHealth>? health = null;
        var blocks = new BlockVector(portfolio.Blocks.Blocks);
        foreach (var view in views.Values.OrderBy(v => v.Chain.Value))
        {
            foreach (var address in addresses)
            {
                if (!view.Accounts.TryGetValue(address, out var aave))
                {
                    continue;
                }

                (collateral ??= [.. portfolio.Collateral]).AddRange(aave.Collateral.Select(c => c with { Holder = address }));
                (debts ??= [.. portfolio.Debts]).AddRange(aave.Debts.Select(d => d with { Holder = address }));
                (health ??= [.. portfolio.VenueHealth]).Add(aave.Health);
                if (blocks.For(view.Chain) is null)
                {
                    blocks.Set(view.Block);
                }
            }
        }

        return health is null
            ? portfolio
            : portfolio with { Collateral = collateral!, Debts = debts!, VenueHealth = health, Blocks = blocks };
    }

    /// <summary>
    /// Refreshes every Aave chain whose checkpoint moved since its last read (one read snapshot per chain): only the rows
    /// changed since that read come from the store, laid over it, unless a rollback went below it (then all of it).
    /// Every account's figures are computed again either way: interest and prices move them all.
    /// </summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await _refresh.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var options in _chains)
            {
                var chain = new ChainId(options.ChainId);
                var checkpoint = await _store.GetCheckpointAsync(chain, cancellationToken).ConfigureAwait(false);
                if (checkpoint is null || (Views.TryGetValue(chain.Value, out var known) && known.Block == checkpoint.Block))
                {
                    continue;
                }

                var state = await LoadAsync(chain, cancellationToken).ConfigureAwait(false);
                if (state.Checkpoint is not { } at || state.CheckpointTimestamp is null || state.Reserves.Count == 0)
                {
                    continue;
                }

                foreach (var reserve in state.Reserves.Where(r => !_symbols.ContainsKey(r.Asset)))
                {
                    _symbols[reserve.Asset] = await AssetOfAsync(Rpc(options), reserve.Asset, at.Number, cancellationToken).ConfigureAwait(false);
                }

                Publish(chain, at, state);
            }
        }
        finally
        {
            _refresh.Release();
        }
    }

    /// <summary>How many reads of a chain's Aave state took all of it, and how many only what changed (the tests read it).</summary>
    public (long Full, long Changes) Reads => (Interlocked.Read(ref _fullReads), Interlocked.Read(ref _changeReads));

    public override void Dispose()
    {
        foreach (var rpc in _rpcs.Values)
        {
            rpc.Dispose();
        }

        _refresh.Dispose();
        base.Dispose();
    }

    /// <summary>Keeps the views fresh for the API between computations (the store is the source; this only reads).</summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = _chains.Count == 0 ? TimeSpan.FromSeconds(1) : _chains.Min(c => c.PollInterval);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RefreshAsync(stoppingToken).ConfigureAwait(false);
                await Task.Delay(interval, _time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // A failed read is logged and retried; it must never stop the host.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                LogFailed(_log, ex);
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(2), _time, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task<AaveV3StoredState> LoadAsync(ChainId chain, CancellationToken cancellationToken)
    {
        if (_loaded.TryGetValue(chain.Value, out var previous) && previous.Checkpoint is { } since &&
            await _aave.LoadChangesAsync(chain, since, cancellationToken).ConfigureAwait(false) is { } changes)
        {
            Interlocked.Increment(ref _changeReads);
            return _loaded[chain.Value] = previous.Apply(changes);
        }

        Interlocked.Increment(ref _fullReads);
        return _loaded[chain.Value] = await _aave.LoadAsync(chain, cancellationToken).ConfigureAwait(false);
    }

    private JsonRpcClient Rpc(ChainOptions options)
    {
        if (!_rpcs.TryGetValue(options.ChainId, out var rpc))
        {
            rpc = new JsonRpcClient(options.RpcUrls, time: _time);
            _rpcs[options.ChainId] = rpc;
        }

        return rpc;
    }

    private void Publish(ChainId chain, BlockRef block, AaveV3StoredState state)
    {
        var market = AaveV3StoredInputs.Market(state);
        var users = AaveV3StoredInputs.Users(state);
        var accounts = new Dictionary<EvmAddress, AaveV3PortfolioView>();
        var results = new Dictionary<EvmAddress, AaveV3AccountResult>();
        foreach (var user in users)
        {
            var result = AaveV3AccountCalculator.Calculate(market, user);
            results[user.User] = result;
            var view = AaveV3Portfolio.ToPortfolio(chain, block, result, a => _symbols.GetValueOrDefault(a));
            if (result.Data is { } d)
            {
                // The six numbers of getUserAccountData, unit for unit, so the venue's answer can be checked against the Pool.
                var numbers = string.Create(CultureInfo.InvariantCulture,
                    $"totalCollateralBase {d.TotalCollateralBase} totalDebtBase {d.TotalDebtBase} availableBorrowsBase {d.AvailableBorrowsBase} currentLiquidationThreshold {d.CurrentLiquidationThreshold} ltv {d.Ltv} healthFactor {d.HealthFactor}");
                view = view with { Health = view.Health with { Detail = numbers + "; " + view.Health.Detail } };
            }

            if (view.Collateral.Count > 0 || view.Debts.Count > 0)
            {
                accounts[user.User] = view;
            }
        }

        var chainView = new AaveV3ChainView(
            chain, block, accounts.ToFrozenDictionary(), market, users.ToFrozenDictionary(u => u.User), results.ToFrozenDictionary(),
            state.Reserves.Where(r => !r.Dropped).ToFrozenDictionary(r => r.Asset, r => _symbols.GetValueOrDefault(r.Asset)));
        FrozenDictionary<ulong, AaveV3ChainView> current, next;
        do
        {
            current = Volatile.Read(ref _views);
            var copy = new Dictionary<ulong, AaveV3ChainView>(current) { [chain.Value] = chainView };
            next = copy.ToFrozenDictionary();
        }
        while (Interlocked.CompareExchange(ref _views, next, current) != current);
        LogRead(_log, chain.Value, block.Number, accounts.Count);
    }

    /// <summary>
    /// The reserve's canonical asset id: its ERC-20 symbol when the risk config knows it (as an asset or a variant,
    /// e.g. WETH of ETH); otherwise null, and the asset is left out with a note in the venue's detail.
    /// </summary>
    private async Task<AssetId?> AssetOfAsync(JsonRpcClient rpc, EvmAddress asset, long block, CancellationToken cancellationToken)
    {
        var answer = await rpc.CallAsync(
            "eth_call", [new Dictionary<string, string> { ["to"] = asset.Value, ["data"] = "0x95d89b41" }, Hex.FromLong(block)], cancellationToken)
            .ConfigureAwait(false);
        var symbol = DecodeSymbol(answer.GetString() ?? "");
        if (symbol is null)
        {
            return null;
        }

        var known = _risk.Assets.ContainsKey(symbol) || _risk.Assets.Values.Any(a => a.Variants.ContainsKey(symbol));
        return known ? new AssetId(symbol) : null;
    }

    /// <summary>An ABI string (or, for old tokens, a zero-padded bytes32) from symbol()'s return data.</summary>
    internal static string? DecodeSymbol(string hex)
    {
        var data = hex.StartsWith("0x", StringComparison.Ordinal) ? hex[2..] : hex;
        try
        {
            var bytes = Convert.FromHexString(data);
            if (bytes.Length == 32)
            {
                var end = Array.IndexOf(bytes, (byte)0);
                return Encoding.UTF8.GetString(bytes, 0, end < 0 ? 32 : end);
            }

            if (bytes.Length < 64)
            {
                return null;
            }

            var offset = (int)new System.Numerics.BigInteger(bytes.AsSpan(0, 32), isUnsigned: true, isBigEndian: true);
            var length = (int)new System.Numerics.BigInteger(bytes.AsSpan(offset, 32), isUnsigned: true, isBigEndian: true);
            return Encoding.UTF8.GetString(bytes, offset + 32, length);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or OverflowException)
        {
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Aave V3: reading the persisted state failed; retrying")]
    private static partial void LogFailed(ILogger log, Exception ex);

    [LoggerMessage(Level = LogLevel.Debug, Message = "chain {Chain}: Aave V3 read at block {Block}, {Accounts} accounts with positions")]
    private static partial void LogRead(ILogger log, ulong chain, long block, int accounts);
}

/// <summary>
/// Aave on one chain at one block (the watcher's checkpoint): every account with a supply or a borrow in the
/// portfolio's terms, and the calculator's inputs and results for every stored user (what a keeper quotes from).
/// </summary>
public sealed record AaveV3ChainView(
    ChainId Chain,
    BlockRef Block,
    IReadOnlyDictionary<EvmAddress, AaveV3PortfolioView> Accounts,
    AaveV3MarketInput Market,
    IReadOnlyDictionary<EvmAddress, AaveV3UserInput> UserInputs,
    IReadOnlyDictionary<EvmAddress, AaveV3AccountResult> Results,
    IReadOnlyDictionary<EvmAddress, AssetId?> Assets)
{
    public IEnumerable<EvmAddress> Users => UserInputs.Keys;
}

/// <summary>Registers the Aave V3 venue only when some chain configures it, so the default service is unchanged.</summary>
public static class AaveV3VenueServices
{
    public static IServiceCollection AddAaveV3Venues(this IServiceCollection services, IReadOnlyList<ChainOptions> chains)
    {
        ArgumentNullException.ThrowIfNull(chains);
        var errors = new List<string>();
        foreach (var chain in chains.Where(c => c.Contracts.AaveV3 is not null))
        {
            var aave = chain.Contracts.AaveV3!;
            foreach (var (key, value) in new[] { ("Pool", aave.Pool), ("PoolConfigurator", aave.PoolConfigurator), ("Oracle", aave.Oracle) })
            {
                if (!EvmAddress.TryParse(value, out _))
                {
                    errors.Add($"Chains:{chain.Name}:Contracts:AaveV3:{key}: '{value}' is not an EVM address");
                }
            }

            if (aave.StartBlock < 0)
            {
                errors.Add($"Chains:{chain.Name}:Contracts:AaveV3:StartBlock: must not be negative");
            }
        }

        if (errors.Count > 0)
        {
            throw new InvalidOperationException("invalid configuration: " + string.Join("; ", errors));
        }

        if (chains.Any(c => c.Contracts.AaveV3 is not null))
        {
            services.AddSingleton<AaveV3VenueService>();
            services.AddHostedService(sp => sp.GetRequiredService<AaveV3VenueService>());
            services.AddSingleton<AaveV3KeeperHostedService>();
            services.AddHostedService(sp => sp.GetRequiredService<AaveV3KeeperHostedService>());
        }

        return services;
    }

    /// <summary>
    /// The margin service with the Aave venue attached (the venue hooks itself in when built; a host builds it as a
    /// hosted service, a CLI command that computes without starting the host needs it built here).
    /// </summary>
    public static MarginService MarginWithVenues(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        _ = services.GetService<AaveV3VenueService>();
        return services.GetRequiredService<MarginService>();
    }

    /// <summary>
    /// Indexes the chain's Aave V3 market inside its watcher (when configured), so the state is committed with the
    /// checkpoint by the lease holder only.
    /// </summary>
    public static void AttachTo(ChainWatcher watcher, ChainOptions options, IChainStore store, JsonRpcClient rpc)
    {
        ArgumentNullException.ThrowIfNull(watcher);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Contracts.AaveV3 is not { } aave)
        {
            return;
        }

        var state = store as IAaveV3StateStore ?? throw new InvalidOperationException("the configured store does not persist Aave V3 state");
        watcher.SpanIndexers.Add(new AaveV3SpanIndexer(
            rpc, new ChainId(options.ChainId),
            new AaveV3MarketAddresses(EvmAddress.Parse(aave.Pool), EvmAddress.Parse(aave.PoolConfigurator), EvmAddress.Parse(aave.Oracle)),
            aave.StartBlock, state));
    }
}
