using ChainMargin.Core;
using ChainMargin.Indexing.Decoding;
using ChainMargin.Indexing.Rpc;

namespace ChainMargin.Indexing.Aave;

/// <summary>
/// The contracts of one Aave V3 market to index (its tokens are found from ReserveInitialized), and the chain's
/// Multicall3 if it has one (state reads then take one eth_call per round).
/// </summary>
public sealed record AaveV3MarketAddresses(EvmAddress Pool, EvmAddress PoolConfigurator, EvmAddress Oracle, EvmAddress? Multicall3 = null);

/// <summary>
/// Indexes one Aave V3 market: fetches the logs of the Pool, PoolConfigurator, AaveOracle and every reserve token,
/// decodes them, and applies them in (block, log index) order to an <see cref="AaveV3UserStateTracker"/>. A reserve
/// listed inside a fetched range adds its tokens, and the rest of the range is fetched again for them, so no token
/// event is missed. <see cref="SnapshotAsync"/> pairs the tracked users with the market read at the same block.
/// Reorgs are the chain watcher's business: this class keeps no history, and is rebuilt from stored facts.
/// </summary>
public sealed class AaveV3Indexer
{
    private readonly JsonRpcClient _rpc;
    private readonly AaveV3EventDecoder _decoder;
    private readonly List<ChainFact> _facts = [];
    private readonly bool _keepFacts;

    public AaveV3Indexer(JsonRpcClient rpc, ChainId chain, AaveV3MarketAddresses addresses, long startBlock = 0, bool keepFacts = true)
    {
        _keepFacts = keepFacts;
        ArgumentNullException.ThrowIfNull(addresses);
        _rpc = rpc;
        Chain = chain;
        _decoder = new AaveV3EventDecoder(chain);
        _decoder.Register(addresses.Pool, AaveV3ContractRole.Pool);
        _decoder.Register(addresses.PoolConfigurator, AaveV3ContractRole.PoolConfigurator);
        _decoder.Register(addresses.Oracle, AaveV3ContractRole.Oracle);
        Reader = new AaveV3MarketReader(rpc, addresses.Pool, addresses.Oracle, addresses.Multicall3);
        IndexedTo = startBlock - 1;
    }

    public ChainId Chain { get; }

    public AaveV3UserStateTracker Tracker { get; } = new();

    public AaveV3MarketReader Reader { get; }

    /// <summary>The last block whose logs are all applied.</summary>
    public long IndexedTo { get; private set; }

    /// <summary>Every fact applied so far (what the store would persist), in order.</summary>
    public IReadOnlyList<ChainFact> Facts => _facts;

    /// <summary>Logs that should have decoded but did not, with the reason.</summary>
    public IEnumerable<RejectedLog> Rejected => _facts.OfType<RejectedLog>();

    /// <summary>Registers a persisted reserve's tokens with the decoder and the tracker (a restart resumes from the store).</summary>
    public void RestoreReserve(AaveV3ReserveTokens reserve)
    {
        ArgumentNullException.ThrowIfNull(reserve);
        Tracker.RegisterReserve(reserve);
        _decoder.Register(reserve.AToken, AaveV3ContractRole.AToken);
        _decoder.Register(reserve.VariableDebtToken, AaveV3ContractRole.VariableDebtToken);
        _decoder.Register(reserve.StableDebtToken, AaveV3ContractRole.StableDebtToken);
    }

    /// <summary>Fetches and applies every log up to <paramref name="toBlock"/>; returns the number of facts applied.</summary>
    public Task<int> SyncAsync(long toBlock, CancellationToken cancellationToken) => SyncAsync(toBlock, null, cancellationToken);

    /// <summary>
    /// Fetches and applies every log up to <paramref name="toBlock"/>, calling <paramref name="blockApplied"/> after
    /// the last fact of each block that had any (with that block's facts), so per-block state can be taken.
    /// </summary>
    public async Task<int> SyncAsync(long toBlock, Func<BlockRef, IReadOnlyList<ChainFact>, Task>? blockApplied, CancellationToken cancellationToken)
    {
        var applied = 0;
        var blockFacts = new List<ChainFact>();
        async Task FlushAsync()
        {
            if (blockApplied is not null && blockFacts.Count > 0)
            {
                var block = blockFacts[0].Block;
                var facts = blockFacts.ToList();
                blockFacts.Clear();
                await blockApplied(block, facts).ConfigureAwait(false);
            }

            blockFacts.Clear();
        }

        var from = IndexedTo + 1;
        (long Block, int LogIndex)? after = null;
        while (from <= toBlock)
        {
            var fetcher = new LogFetcher(_rpc, _decoder.Addresses.Select(a => a.Value), initialRange: 5_000, maxRange: 50_000, parallelism: 2);
            var logs = await fetcher.FetchAsync(from, toBlock, cancellationToken).ConfigureAwait(false);
            var timestamps = await TimestampsAsync(logs.Select(l => l.BlockNumber).Distinct().ToList(), cancellationToken).ConfigureAwait(false);
            var restartAt = -1L;
            foreach (var log in logs)
            {
                if (after is { } a && (log.BlockNumber < a.Block || (log.BlockNumber == a.Block && log.LogIndex <= a.LogIndex)))
                {
                    continue;
                }

                var fact = _decoder.Decode(log);
                if (fact is null)
                {
                    continue;
                }

                if (blockFacts.Count > 0 && blockFacts[0].Block.Number != fact.Block.Number)
                {
                    await FlushAsync().ConfigureAwait(false);
                }

                blockFacts.Add(fact);
                if (_keepFacts)
                {
                    _facts.Add(fact);
                }

                if (fact is not RejectedLog)
                {
                    Tracker.Apply(fact, timestamps[log.BlockNumber]);
                }

                applied++;
                if (fact is AaveReserveInitialized listed)
                {
                    _decoder.Register(listed.AToken, AaveV3ContractRole.AToken);
                    _decoder.Register(listed.VariableDebtToken, AaveV3ContractRole.VariableDebtToken);
                    _decoder.Register(listed.StableDebtToken, AaveV3ContractRole.StableDebtToken);
                    // Fetch the rest again with the new tokens included, resuming right after this log.
                    restartAt = log.BlockNumber;
                    after = (log.BlockNumber, log.LogIndex);
                    break;
                }
            }

            if (restartAt < 0)
            {
                break;
            }

            from = restartAt;
        }

        await FlushAsync().ConfigureAwait(false);
        IndexedTo = toBlock;
        return applied;
    }

    /// <summary>Syncs to <paramref name="block"/> and reads the market there: the calculator's whole input.</summary>
    public async Task<AaveV3Snapshot> SnapshotAsync(long block, CancellationToken cancellationToken)
    {
        if (block < IndexedTo)
        {
            throw new InvalidOperationException($"already indexed to {IndexedTo}; a snapshot of the past block {block} needs a fresh tracker");
        }

        await SyncAsync(block, cancellationToken).ConfigureAwait(false);
        var reserves = Tracker.ReservesById.Where(r => r is not null).Select(r => r!).ToList();
        var users = Tracker.Users.Select(u => Tracker.Snapshot(u)!).ToList();
        var market = await Reader.ReadAsync(
            block, reserves.Select(r => r.Asset).ToList(), users.Select(u => u.EModeCategory), cancellationToken).ConfigureAwait(false);
        foreach (var reserve in reserves)
        {
            var read = market.Reserves.Single(r => r.Asset == reserve.Asset).Data;
            if (read.Id != reserve.Id || read.AToken != reserve.AToken || read.VariableDebtToken != reserve.VariableDebtToken)
            {
                throw new InvalidOperationException($"reserve {reserve.Asset}: events say id {reserve.Id}, the Pool says {read.Id}");
            }
        }

        return new AaveV3Snapshot(new BlockRef(Chain, block, market.BlockHash), market, reserves, users);
    }

    private async Task<Dictionary<long, long>> TimestampsAsync(List<long> blocks, CancellationToken cancellationToken)
    {
        var result = new Dictionary<long, long>();
        foreach (var chunk in blocks.Chunk(100))
        {
            var answers = await _rpc.BatchAsync(
                chunk.Select(b => new RpcRequest("eth_getBlockByNumber", [Hex.FromLong(b), false])).ToList(), cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < chunk.Length; i++)
            {
                result[chunk[i]] = Hex.ToLong(answers[i].GetProperty("timestamp").GetString()!);
            }
        }

        return result;
    }
}

/// <summary>Everything needed to compute every tracked user's account at one block.</summary>
public sealed record AaveV3Snapshot(
    BlockRef Block, AaveV3MarketState Market, IReadOnlyList<AaveV3ReserveTokens> Reserves, IReadOnlyList<AaveV3TrackedUser> Users);
