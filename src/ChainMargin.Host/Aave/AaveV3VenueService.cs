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
/// For every chain with an Aave V3 market configured, keeps an <see cref="AaveV3Indexer"/> synced to the head and
/// publishes, per account, Aave's collateral, debts and own health at the block it read. The margin service's
/// portfolios are enriched with them, so an account's report shows Aave's health per chain beside the cross-chain
/// health. Failures (node down, reorg under the snapshot) rebuild the indexer after a pause; the host keeps running.
/// </summary>
public sealed partial class AaveV3VenueService : BackgroundService
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(2);

    private readonly IReadOnlyList<ChainOptions> _chains;
    private readonly RiskConfig _risk;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private FrozenDictionary<ulong, AaveV3ChainView> _views = FrozenDictionary<ulong, AaveV3ChainView>.Empty;

    public AaveV3VenueService(IReadOnlyList<ChainOptions> chains, RiskConfig risk, MarginService margin, TimeProvider time, ILogger<AaveV3VenueService> log)
    {
        ArgumentNullException.ThrowIfNull(chains);
        ArgumentNullException.ThrowIfNull(margin);
        _chains = chains.Where(c => c.Contracts.AaveV3 is not null).ToList();
        _risk = risk;
        _time = time;
        _log = log;
        margin.PortfolioEnricher = Enrich;
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

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.WhenAll(_chains.Select(c => Task.Run(() => FollowAsync(c, stoppingToken), stoppingToken))).ConfigureAwait(false);
    }

    private async Task FollowAsync(ChainOptions options, CancellationToken stoppingToken)
    {
        var chain = new ChainId(options.ChainId);
        var aave = options.Contracts.AaveV3!;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                using var rpc = new JsonRpcClient(options.RpcUrls, time: _time);
                var indexer = new AaveV3Indexer(
                    rpc, chain,
                    new AaveV3MarketAddresses(EvmAddress.Parse(aave.Pool), EvmAddress.Parse(aave.PoolConfigurator), EvmAddress.Parse(aave.Oracle)),
                    aave.StartBlock);
                var symbols = new Dictionary<EvmAddress, AssetId?>();
                BlockRef? last = null;
                while (!stoppingToken.IsCancellationRequested)
                {
                    if (last is { } seen && await BlockHashAsync(rpc, seen.Number, stoppingToken).ConfigureAwait(false) != seen.Hash)
                    {
                        // The in-memory tracker has applied logs of a block that is no longer canonical: start over.
                        throw new InvalidOperationException($"reorg at block {seen.Number}; rebuilding the Aave V3 state");
                    }

                    var head = Hex.ToLong((await rpc.CallAsync("eth_blockNumber", [], stoppingToken).ConfigureAwait(false)).GetString()!) - options.Confirmations;
                    if (head >= aave.StartBlock && (last is null || head > last.Value.Number))
                    {
                        var snapshot = await indexer.SnapshotAsync(head, stoppingToken).ConfigureAwait(false);
                        foreach (var reserve in snapshot.Reserves.Where(r => !symbols.ContainsKey(r.Asset)))
                        {
                            symbols[reserve.Asset] = await AssetOfAsync(rpc, reserve.Asset, head, stoppingToken).ConfigureAwait(false);
                        }

                        Publish(chain, snapshot, symbols);
                        last = snapshot.Block;
                    }

                    await Task.Delay(options.PollInterval, _time, stoppingToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // Any failure of one chain's Aave indexing is logged and retried; it must never stop the host.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                LogFailed(_log, ex, chain.Value);
                try
                {
                    await Task.Delay(RetryDelay, _time, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private void Publish(ChainId chain, AaveV3Snapshot snapshot, Dictionary<EvmAddress, AssetId?> symbols)
    {
        var market = AaveV3Inputs.Market(snapshot);
        var accounts = new Dictionary<EvmAddress, AaveV3PortfolioView>();
        foreach (var user in snapshot.Users)
        {
            var result = AaveV3AccountCalculator.Calculate(market, AaveV3Inputs.User(user));
            var view = AaveV3Portfolio.ToPortfolio(chain, snapshot.Block, result, a => symbols.GetValueOrDefault(a));
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

        var chainView = new AaveV3ChainView(chain, snapshot.Block, accounts.ToFrozenDictionary());
        FrozenDictionary<ulong, AaveV3ChainView> current, next;
        do
        {
            current = Volatile.Read(ref _views);
            var copy = new Dictionary<ulong, AaveV3ChainView>(current) { [chain.Value] = chainView };
            next = copy.ToFrozenDictionary();
        }
        while (Interlocked.CompareExchange(ref _views, next, current) != current);
        LogRead(_log, chain.Value, snapshot.Block.Number, accounts.Count);
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

    private static async Task<string?> BlockHashAsync(JsonRpcClient rpc, long block, CancellationToken cancellationToken)
    {
        var header = await rpc.CallAsync("eth_getBlockByNumber", [Hex.FromLong(block), false], cancellationToken).ConfigureAwait(false);
        return header.ValueKind == System.Text.Json.JsonValueKind.Object ? header.GetProperty("hash").GetString() : null;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "chain {Chain}: Aave V3 indexing failed; rebuilding")]
    private static partial void LogFailed(ILogger log, Exception ex, ulong chain);

    [LoggerMessage(Level = LogLevel.Debug, Message = "chain {Chain}: Aave V3 read at block {Block}, {Accounts} accounts with positions")]
    private static partial void LogRead(ILogger log, ulong chain, long block, int accounts);
}

/// <summary>Aave on one chain at one block: every account with a supply or a borrow, in the portfolio's terms.</summary>
public sealed record AaveV3ChainView(ChainId Chain, BlockRef Block, IReadOnlyDictionary<EvmAddress, AaveV3PortfolioView> Accounts);

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
        }

        return services;
    }
}
