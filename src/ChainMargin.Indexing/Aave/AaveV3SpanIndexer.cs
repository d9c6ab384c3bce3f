using ChainMargin.Core;
using ChainMargin.Indexing.Rpc;

namespace ChainMargin.Indexing.Aave;

/// <summary>
/// Aave V3 indexed inside the chain watcher's spans, its state persisted with the checkpoint:
/// - the market's logs of the span are applied in order to an <see cref="AaveV3UserStateTracker"/>; after each block
///   with Aave facts, the users it touched get a new version (configuration bitmap, e-mode, scaled balances) at that
///   block, and the market is read at that block (reserve configuration, indices, rates, prices, e-mode categories),
///   a new reserve or category version written where anything changed;
/// - the market is read again at the span's last block, so a price moved by an aggregator round (or anything else
///   with no Aave event) is persisted at the checkpoint;
/// - the first span after a start, a failed commit or a rollback reloads everything from the store: a restart
///   resumes at the checkpoint instead of re-indexing, and nothing held in memory can get ahead of the store.
/// Users touched and price changes are returned for the fast path.
/// </summary>
public sealed class AaveV3SpanIndexer : IChainSpanIndexer
{
    private readonly JsonRpcClient _rpc;
    private readonly ChainId _chain;
    private readonly AaveV3MarketAddresses _addresses;
    private readonly long _startBlock;
    private readonly IAaveV3StateStore _store;
    private readonly Dictionary<EvmAddress, AaveV3ReserveRow> _reserves = [];
    private readonly Dictionary<int, AaveV3EModeRow> _eModes = [];
    private readonly Dictionary<EvmAddress, AaveV3TrackedUser> _users = [];
    private AaveV3Indexer? _indexer;

    public AaveV3SpanIndexer(JsonRpcClient rpc, ChainId chain, AaveV3MarketAddresses addresses, long startBlock, IAaveV3StateStore store)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        _rpc = rpc;
        _chain = chain;
        _addresses = addresses;
        _startBlock = startBlock;
        _store = store;
    }

    /// <summary>How many times the state was loaded from the store (once per start, failed commit or rollback).</summary>
    public int Loads { get; private set; }

    /// <summary>The first block the last load left to index (the checkpoint's next block, or the market's start).</summary>
    public long? ResumedFrom { get; private set; }

    /// <summary>Market reads done (one per block with Aave facts, plus one per span).</summary>
    public int MarketReads { get; private set; }

    public void Reset() => _indexer = null;

    public async Task<SpanContribution> IndexAsync(long fromBlock, long toBlock, IReadOnlyDictionary<long, IndexedBlock> headers, CancellationToken cancellationToken)
    {
        var (from, to) = (fromBlock, toBlock);
        ArgumentNullException.ThrowIfNull(headers);
        if (to < _startBlock)
        {
            return SpanContribution.None;
        }

        var indexer = _indexer ?? await LoadAsync(Math.Max(from, _startBlock), cancellationToken).ConfigureAwait(false);
        if (indexer.IndexedTo + 1 < Math.Max(from, _startBlock) || indexer.IndexedTo >= to)
        {
            throw new InvalidOperationException(
                $"chain {_chain}: Aave V3 state is indexed to block {indexer.IndexedTo}, the watcher indexes {from}..{to}; reloading from the store");
        }

        var change = new Changes();
        var rejected = new List<ChainFact>();
        var lastRead = -1L;
        await indexer.SyncAsync(
            to,
            async (block, facts) =>
            {
                if (headers.TryGetValue(block.Number, out var header) && !string.Equals(header.Block.Hash, block.Hash, StringComparison.OrdinalIgnoreCase))
                {
                    throw new InconsistentChainException($"Aave V3 logs of block {block.Number} are from another fork (reorg in progress)");
                }

                rejected.AddRange(facts.OfType<RejectedLog>());
                TakeUsers(indexer, block, change);
                await ReadMarketAsync(indexer, block.Number, headers, change, cancellationToken).ConfigureAwait(false);
                lastRead = block.Number;
            },
            cancellationToken).ConfigureAwait(false);

        if (lastRead != to && indexer.Tracker.ReservesById.Any(r => r is not null))
        {
            await ReadMarketAsync(indexer, to, headers, change, cancellationToken).ConfigureAwait(false);
        }

        var state = new AaveV3StateChange(_chain, change.Reserves, change.EModes, change.Users, change.Balances);
        return new SpanContribution(state.IsEmpty ? [] : [state], rejected, change.Accounts, change.MarketChanged);
    }

    /// <summary>Rebuilds the tracker and the last persisted versions from the store.</summary>
    private async Task<AaveV3Indexer> LoadAsync(long from, CancellationToken cancellationToken)
    {
        var stored = await _store.LoadAsync(_chain, cancellationToken).ConfigureAwait(false);
        _reserves.Clear();
        _eModes.Clear();
        _users.Clear();

        // Nothing stored yet (a new market, or Aave configured on an indexed chain): index the market from its start.
        var resume = stored.Reserves.Count == 0 ? _startBlock : Math.Max(_startBlock, (stored.Checkpoint?.Number ?? -1) + 1);
        if (resume > from)
        {
            throw new InvalidOperationException($"chain {_chain}: the stored Aave V3 state is at block {resume - 1}, ahead of the span from {from}");
        }

        var indexer = new AaveV3Indexer(_rpc, _chain, _addresses, resume, keepFacts: false);
        foreach (var reserve in stored.Reserves)
        {
            _reserves[reserve.Asset] = reserve;
            if (!reserve.Dropped)
            {
                indexer.RestoreReserve(new AaveV3ReserveTokens(reserve.ReserveId, reserve.Asset, reserve.AToken, reserve.StableDebtToken, reserve.VariableDebtToken));
            }
        }

        foreach (var eMode in stored.EModes)
        {
            _eModes[eMode.CategoryId] = eMode;
        }

        var balances = stored.Balances.ToLookup(b => b.User);
        foreach (var user in stored.Users)
        {
            var tracked = new AaveV3TrackedUser(
                user.User, user.Configuration, user.EModeCategory,
                balances[user.User].OrderBy(b => b.ReserveId).Select(b => new AaveV3TrackedBalance(
                    b.ReserveId, b.ScaledATokenBalance, b.ScaledVariableDebt, b.StablePrincipal, b.StableRate, b.StableLastUpdated)).ToList());
            indexer.Tracker.Restore(tracked);
            _users[user.User] = tracked;
        }

        indexer.Tracker.TakeTouched();
        Loads++;
        ResumedFrom = resume;
        _indexer = indexer;
        return indexer;
    }

    /// <summary>New versions, at <paramref name="block"/>, of the users the block's facts touched.</summary>
    private void TakeUsers(AaveV3Indexer indexer, BlockRef block, Changes change)
    {
        foreach (var address in indexer.Tracker.TakeTouched())
        {
            var now = indexer.Tracker.Snapshot(address)!;
            var before = _users.GetValueOrDefault(address);
            var changed = false;
            if (before is null || before.Configuration != now.Configuration || before.EModeCategory != now.EModeCategory)
            {
                change.Users.Add(new AaveV3UserRow(address, now.Configuration, now.EModeCategory, block));
                changed = true;
            }

            foreach (var balance in now.Balances)
            {
                if (before?.Balances.FirstOrDefault(b => b.ReserveId == balance.ReserveId) != balance)
                {
                    change.Balances.Add(new AaveV3BalanceRow(
                        address, balance.ReserveId, balance.ScaledATokenBalance, balance.ScaledVariableDebt, balance.StablePrincipal, balance.StableRate,
                        balance.StableLastUpdated, block));
                    changed = true;
                }
            }

            if (changed)
            {
                _users[address] = now;
                change.Accounts.Add(address);
            }
        }
    }

    /// <summary>Reads the market at <paramref name="block"/> and versions every reserve and e-mode category that changed.</summary>
    private async Task ReadMarketAsync(
        AaveV3Indexer indexer, long block, IReadOnlyDictionary<long, IndexedBlock> headers, Changes change, CancellationToken cancellationToken)
    {
        var listed = indexer.Tracker.ReservesById.Where(r => r is not null).Select(r => r!).ToList();
        var categories = _users.Values.Select(u => u.EModeCategory).Concat(_eModes.Keys).Where(c => c != 0).Distinct().ToList();
        var market = await indexer.Reader.ReadAsync(block, listed.Select(r => r.Asset).ToList(), categories, cancellationToken).ConfigureAwait(false);
        MarketReads++;
        if (headers.TryGetValue(block, out var header) && !string.Equals(header.Block.Hash, market.BlockHash, StringComparison.OrdinalIgnoreCase))
        {
            throw new InconsistentChainException($"block {block} changed while the Aave V3 market was read (reorg in progress)");
        }

        var at = new BlockRef(_chain, block, market.BlockHash);
        foreach (var reserve in listed)
        {
            var read = market.Reserves.Single(r => r.Asset == reserve.Asset);
            var d = read.Data;
            if (d.Id != reserve.Id || d.AToken != reserve.AToken || d.VariableDebtToken != reserve.VariableDebtToken)
            {
                throw new InvalidOperationException($"reserve {reserve.Asset}: events say id {reserve.Id}, the Pool says {d.Id}");
            }

            var row = new AaveV3ReserveRow(
                reserve.Asset, reserve.Id, reserve.AToken, reserve.StableDebtToken, reserve.VariableDebtToken, false, d.Configuration,
                d.LiquidityIndex, d.CurrentLiquidityRate, d.VariableBorrowIndex, d.CurrentVariableBorrowRate, d.LastUpdateTimestamp,
                read.Price, read.PriceReason, at);
            // Indices and rates move with every action on the reserve and interest accrues every second anyway: only a
            // new price, configuration or listing concerns every account at once.
            var before = _reserves.GetValueOrDefault(reserve.Asset);
            if (before is null || before.Price != row.Price || before.PriceReason != row.PriceReason || before.Configuration != row.Configuration || before.Dropped)
            {
                change.MarketChanged = true;
            }

            if (before is null || (before with { Block = at }) != row)
            {
                _reserves[reserve.Asset] = row;
                change.Reserves.Add(row);
            }
        }

        // A reserve dropped since its last version: one more version saying so.
        foreach (var gone in _reserves.Values.Where(r => !r.Dropped && listed.All(l => l.Asset != r.Asset)).ToList())
        {
            var row = gone with { Dropped = true, Block = at };
            _reserves[gone.Asset] = row;
            change.Reserves.Add(row);
            change.MarketChanged = true;
        }

        foreach (var state in market.EModeCategories)
        {
            var c = state.Category;
            var row = new AaveV3EModeRow(c.Id, c.Ltv, c.LiquidationThreshold, c.LiquidationBonus, c.PriceSource, state.PriceSourcePrice, state.PriceReason, at);
            if (!_eModes.TryGetValue(c.Id, out var before) || (before with { Block = at }) != row)
            {
                _eModes[c.Id] = row;
                change.EModes.Add(row);
                change.MarketChanged = true;
            }
        }
    }

    private sealed class Changes
    {
        public List<AaveV3ReserveRow> Reserves { get; } = [];

        public List<AaveV3EModeRow> EModes { get; } = [];

        public List<AaveV3UserRow> Users { get; } = [];

        public List<AaveV3BalanceRow> Balances { get; } = [];

        public HashSet<EvmAddress> Accounts { get; } = [];

        public bool MarketChanged { get; set; }
    }
}
