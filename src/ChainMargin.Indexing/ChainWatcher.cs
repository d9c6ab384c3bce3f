using System.Data.Common;
using System.Diagnostics;
using ChainMargin.Core;
using ChainMargin.Indexing.Decoding;
using ChainMargin.Indexing.Rpc;
using ChainMargin.Indexing.State;
using Microsoft.Extensions.Logging;

namespace ChainMargin.Indexing;

/// <summary>A reorg deeper than the configured finality depth: the watcher stops rather than corrupt silently.</summary>
public sealed class ReorgBeyondFinalityException : Exception
{
    public ReorgBeyondFinalityException()
    {
    }

    public ReorgBeyondFinalityException(string message)
        : base(message)
    {
    }

    public ReorgBeyondFinalityException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>What one committed step changed, for the in-process fast path (recompute, flag) and the progress display.</summary>
public sealed record ChainCommitted(
    ChainId Chain, BlockRef Checkpoint, long Head, int Blocks, int Events, IReadOnlySet<EvmAddress> Accounts, bool PricesChanged, bool Reorged);

/// <summary>
/// Watches one chain: backfills from the start block, then follows the head at a number of confirmations. Each step
/// commits the facts of a block span together with the checkpoint in one transaction (exactly once). Reorgs are found
/// by comparing stored hashes with the chain's (also right after a restart), rolled back to the common ancestor and
/// re-applied; one deeper than the finality depth stops the watcher loudly.
/// </summary>
public sealed class ChainWatcher
{
    private readonly ChainOptions _options;
    private readonly IChainStore _store;
    private readonly JsonRpcClient _rpc;
    private readonly BlockHeaders _headers;
    private readonly LogFetcher _logs;
    private readonly EventDecoder _decoder;
    private readonly PinnedStateReader _pinned;
    private readonly SortedSet<EvmAddress> _feeds;
    private FeedStateReader? _feedStates;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private ChainCheckpoint? _checkpoint;
    private readonly Queue<(long From, long To, FetchedSpan Span)> _prefetch = new();

    /// <summary>The head and the committed span's last block as the chain has it, read while that commit ran.</summary>
    private (BlockRef Checkpoint, Task<(long Head, IndexedBlock? Block)> Read)? _lookahead;

    /// <summary>Feeds with a stored read that has their decimals (learnt from the store at start and after a rollback).</summary>
    private readonly HashSet<EvmAddress> _feedsRead = [];

    /// <summary>The horizon the last prune of versioned state reached (-1: none yet in this process).</summary>
    private long _prunedTo = -1;
    private bool _checkpointLoaded;
    private readonly List<IChainSpanIndexer> _spanIndexers = [];

    public ChainWatcher(ChainOptions options, IChainStore store, JsonRpcClient rpc, ChainStatus status, TimeProvider time, ILogger log)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _store = store;
        _rpc = rpc;
        Status = status;
        _time = time;
        _log = log;
        Chain = new ChainId(options.ChainId);
        _headers = new BlockHeaders(rpc, Chain);
        _decoder = new EventDecoder(Chain, Roles(options.Contracts));
        _logs = new LogFetcher(rpc, _decoder.Addresses, options.InitialBlockRange, options.MaxBlockRange, options.Parallelism);
        // Every commit stores the feeds' state, with or without Multicall3 (then as one JSON-RPC batch): the margin side
        // takes feed decimals from the store only, so a process that does not own this chain never asks its node.
        EvmAddress? multicall = string.IsNullOrWhiteSpace(options.Contracts.Multicall3) ? null
            : EvmAddress.TryParse(options.Contracts.Multicall3, out var parsed) ? parsed
            : throw new FormatException($"Contracts:Multicall3 '{options.Contracts.Multicall3}' is not an address");
        _pinned = new PinnedStateReader(rpc, Chain, multicall);
        _feeds = [];
        AddFeeds(Roles(options.Contracts).Where(r => r.Value == ContractRole.PriceFeed).Select(r => r.Key));
    }

    public ChainId Chain { get; }

    public ChainStatus Status { get; }

    /// <summary>Venues indexed with every span and committed in its transaction (e.g. Aave V3); add before running.</summary>
    public IList<IChainSpanIndexer> SpanIndexers => _spanIndexers;

    /// <summary>Called after every commit (and after a rollback), in the watcher's own loop.</summary>
    public event Func<ChainCommitted, CancellationToken, Task>? Committed;

    public static Dictionary<EvmAddress, ContractRole> Roles(ChainContractsOptions contracts)
    {
        ArgumentNullException.ThrowIfNull(contracts);
        var roles = new Dictionary<EvmAddress, ContractRole>();
        void Add(string? address, ContractRole role, string key)
        {
            if (!string.IsNullOrWhiteSpace(address))
            {
                roles[EvmAddress.TryParse(address, out var parsed) ? parsed : throw new FormatException($"Contracts:{key} '{address}' is not an address")] = role;
            }
        }

        Add(contracts.Vault, ContractRole.Vault, "Vault");
        Add(contracts.PerpMarket, ContractRole.PerpMarket, "PerpMarket");
        Add(contracts.OptionMarket, ContractRole.OptionMarket, "OptionMarket");
        foreach (var (symbol, feed) in contracts.PriceFeeds)
        {
            Add(feed, ContractRole.PriceFeed, "PriceFeeds:" + symbol);
        }

        foreach (var (symbol, feed) in contracts.VolatilityFeeds)
        {
            Add(feed, ContractRole.PriceFeed, "VolatilityFeeds:" + symbol);
        }

        // An L2 sequencer uptime feed logs rounds like a price feed (answer 0 = up, 1 = down).
        Add(contracts.SequencerUptimeFeed, ContractRole.PriceFeed, "SequencerUptimeFeed");

        return roles;
    }

    /// <summary>Runs until cancelled or halted by a reorg beyond finality. Transient faults are retried, bounded.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var backoff = TimeSpan.FromMilliseconds(200);
        while (!cancellationToken.IsCancellationRequested)
        {
            var failed = false;
            try
            {
                var caughtUp = await StepAsync(cancellationToken).ConfigureAwait(false);
                backoff = TimeSpan.FromMilliseconds(200);
                if (caughtUp)
                {
                    await Task.Delay(_options.PollInterval, _time, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (ReorgBeyondFinalityException ex)
            {
                Status.Halt(ex.Message);
                _log.LogCritical("chain {Chain} ({Name}) halted: {Reason}", Chain, _options.Name, ex.Message);
                return;
            }
            catch (Exception ex) when (ex is RpcUnavailableException or RpcNodeException or RpcTransientException or TimeoutException or HttpRequestException or FormatException or System.Text.Json.JsonException or InconsistentChainException)
            {
                // One chain's outage never stops the others: mark it, wait, try again (the chain turns stale by age).
                Status.Failed(ex.Message);
                _log.LogWarning("chain {Chain} ({Name}): {Error}; retrying in {Delay} ms", Chain, _options.Name, ex.Message, (int)backoff.TotalMilliseconds);
                failed = true;
            }

            if (!failed)
            {
                continue;
            }

            // Outside the handler so that a stop requested during an outage ends the loop like any other stop.
            try
            {
                await Task.Delay(backoff, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }

            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
        }
    }

    /// <summary>
    /// One step: check for a reorg, then index the next span up to the confirmed head. Returns true when caught up.
    /// </summary>
    public async Task<bool> StepAsync(CancellationToken cancellationToken)
    {
        if (!_checkpointLoaded)
        {
            _checkpoint = await _store.GetCheckpointAsync(Chain, cancellationToken).ConfigureAwait(false);
            var markets = await _store.GetPerpMarketsAsync(cancellationToken).ConfigureAwait(false);
            var series = await _store.GetOptionSeriesAsync(cancellationToken).ConfigureAwait(false);
            AddFeeds(markets.Where(m => m.Chain == Chain).Select(m => m.Feed).Concat(series.Where(x => x.Chain == Chain).Select(x => x.Feed)));
            await LoadFeedsReadAsync(cancellationToken).ConfigureAwait(false);
            _checkpointLoaded = true;
            if (_checkpoint is not null)
            {
                Status.Loaded(_checkpoint.Block);
            }
        }

        long head;
        if (_checkpoint is null)
        {
            head = await _headers.HeadAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            // The head and the checkpoint's block on the chain: read while the last commit ran when the step before
            // this one left work to do, else now.
            var lookahead = _lookahead;
            _lookahead = null;
            IndexedBlock? onChain;
            (head, onChain) = lookahead is { } early && early.Checkpoint == _checkpoint.Block
                ? await early.Read.ConfigureAwait(false)
                : await _headers.HeadAndBlockAsync(_checkpoint.Block.Number, cancellationToken).ConfigureAwait(false);
            if (await DetectReorgAsync(head, onChain, cancellationToken).ConfigureAwait(false))
            {
                return false;
            }
        }

        var target = head - _options.Confirmations;
        var from = _checkpoint is null ? _options.StartBlock : _checkpoint.Block.Number + 1;
        if (from > target)
        {
            Status.Polled(head, _checkpoint?.Block, _time.GetUtcNow());
            return true;
        }

        var to = Math.Min(target, from + Math.Max(_options.MaxBlocksPerCommit, 1) - 1);
        await IndexSpanAsync(from, to, head, target, cancellationToken).ConfigureAwait(false);
        return to >= target;
    }

    private async Task IndexSpanAsync(long from, long to, long head, long target, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var span = TakeSpan(from, to, head, cancellationToken);

        // Fetch the next spans while this one is checked, decoded and committed, so node, CPU and database work
        // overlap. Should this step fail, the next one drops them unless it asks for exactly the first.
        Prefetch(to, head, target, cancellationToken);
        (FeedStateReader Reader, Task<IReadOnlyList<FeedState>> Read)? earlyFeeds = null;
        IndexedBlock?[] headers;
        List<RawLog> logs;
        try
        {
            headers = await span.Headers.ConfigureAwait(false);
            if (headers.Any(h => h is null))
            {
                throw new InconsistentChainException($"blocks up to {to} are not all on the node (head moved back)");
            }

            // The feeds' read at the checkpoint (see below) starts as soon as its header is known, beside the logs.
            if (_feedStates is { } feeds && ReadsFeeds(feeds, to, head))
            {
                earlyFeeds = (feeds, feeds.ReadAsync(headers[^1]!.Block, cancellationToken));
            }

            logs = await span.Logs.ConfigureAwait(false);
        }
        catch
        {
            Drop(span);
            if (earlyFeeds is { } abandoned)
            {
                Observe(abandoned.Read);
            }

            throw;
        }

        var byNumber = headers.ToDictionary(h => h!.Block.Number, h => h!);
        foreach (var log in logs)
        {
            if (byNumber.TryGetValue(log.BlockNumber, out var header) &&
                !string.Equals(header.Block.Hash, log.BlockHash, StringComparison.OrdinalIgnoreCase))
            {
                throw new InconsistentChainException($"block {log.BlockNumber} changed while it was read (reorg in progress)");
            }
        }

        if (_checkpoint is not null && byNumber.TryGetValue(_checkpoint.Block.Number + 1, out var first) &&
            first.ParentHash != _checkpoint.Block.Hash)
        {
            throw new InconsistentChainException($"block {first.Block.Number} does not extend the checkpoint (reorg in progress)");
        }

        var facts = new List<ChainFact>(logs.Count);
        var accounts = new HashSet<EvmAddress>();
        var pricesChanged = false;
        foreach (var log in logs)
        {
            var fact = _decoder.Decode(log);
            if (fact is null)
            {
                continue;
            }

            facts.Add(fact);
            switch (fact)
            {
                case CollateralChanged c: accounts.Add(c.Account); break;
                case PerpPositionChanged p: accounts.Add(p.Account); break;
                case OptionPositionChanged o: accounts.Add(o.Account); break;
                case PriceRoundUpdated: pricesChanged = true; break;
            }
        }

        var venueStates = new List<VenueStateChange>();
        try
        {
            foreach (var venue in _spanIndexers)
            {
                var contribution = await venue.IndexAsync(from, to, byNumber, cancellationToken).ConfigureAwait(false);
                venueStates.AddRange(contribution.States);
                facts.AddRange(contribution.Facts);
                accounts.UnionWith(contribution.Accounts);
                pricesChanged |= contribution.PricesChanged;
            }
        }
        catch
        {
            ResetSpanIndexers();
            throw;
        }

        var last = byNumber[to];
        AddFeeds(facts.OfType<PerpMarketListed>().Select(f => f.Feed).Concat(facts.OfType<OptionSeriesListed>().Select(f => f.Feed)));

        // The feeds as they stand at the checkpoint, pinned to its hash: committed with it, rolled back with it. A
        // backfill span wholly below the finality window skips the read while every feed has a stored read with its
        // decimals (all the margin side takes from it): a read pinned to an old block is the node's dearest call
        // (anvil rebuilds that block's state; on the indexing bench it was a third of anvil's CPU), and the spans
        // inside the window, the last of a backfill among them, read at every commit. Which feeds have such a read
        // depends on the store alone, so a restart reads where an uninterrupted run would have. The read started when
        // the span's headers came in; a feed listed in this very span makes a new reader, which reads again.
        IReadOnlyList<FeedState>? feedStates = null;
        if (earlyFeeds is { } early && !ReferenceEquals(early.Reader, _feedStates))
        {
            Observe(early.Read);
            earlyFeeds = null;
        }

        if (_feedStates is { } reader && ReadsFeeds(reader, to, head))
        {
            feedStates = await (earlyFeeds?.Read ?? reader.ReadAsync(last.Block, cancellationToken)).ConfigureAwait(false);
        }

        var batch = new ChainBatch(Chain, headers.Select(h => h!).ToArray(), facts, last.Block, feedStates) { VenueStates = venueStates };

        // More to index right away: the next step's head and its check that this span's last block is still on the
        // chain are read while this commit runs, off the backfill's critical path. Whatever moves after that read is
        // caught as it would be after a read at the step's start: by the next step's checks of its own headers, or
        // by the check after it.
        if (to < target)
        {
            _lookahead = (last.Block, _headers.HeadAndBlockAsync(to, cancellationToken));
        }

        try
        {
            await _store.CommitAsync(batch, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            if (_lookahead is { } unused)
            {
                _lookahead = null;
                Observe(unused.Read);
            }

            ResetSpanIndexers();
            throw;
        }

        foreach (var state in feedStates ?? [])
        {
            if (state.Decimals is null)
            {
                _feedsRead.Remove(state.Feed);
            }
            else
            {
                _feedsRead.Add(state.Feed);
            }
        }

        _checkpoint = new ChainCheckpoint(last.Block, _time.GetUtcNow());
        await PruneAsync(last.Block.Number, cancellationToken).ConfigureAwait(false);
        Status.Progress(head, last.Block, facts.Count, (int)(to - from + 1), _time.GetUtcNow());
        _log.LogDebug(
            "chain {Chain}: blocks {From}..{To}, {Events} facts in {Ms} ms (range {Range})",
            Chain, from, to, facts.Count, Stopwatch.GetElapsedTime(started).TotalMilliseconds, _logs.Range);
        await RaiseAsync(new ChainCommitted(Chain, last.Block, head, (int)(to - from + 1), facts.Count, accounts, pricesChanged, Reorged: false), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Deletes versioned state no rollback can bring back, each time the finality horizon has moved PruneEveryBlocks.
    /// The first prune of a process starts from the beginning. A failed prune is logged and tried again at the next
    /// commit: it never stops indexing.
    /// </summary>
    private async Task PruneAsync(long checkpoint, CancellationToken cancellationToken)
    {
        var horizon = checkpoint - _options.FinalityDepth;
        if (_options.PruneEveryBlocks <= 0 || horizon - _prunedTo < _options.PruneEveryBlocks)
        {
            return;
        }

        try
        {
            var deleted = await _store.PruneSupersededAsync(Chain, _prunedTo, horizon, cancellationToken).ConfigureAwait(false);
            _log.LogDebug("chain {Chain}: pruned {Rows} superseded state versions in ({After}, {Horizon}]", Chain, deleted, _prunedTo, horizon);
            _prunedTo = horizon;
        }
        catch (DbException e)
        {
            _log.LogWarning(e, "chain {Chain}: pruning superseded state versions up to block {Horizon} failed; retried at the next commit", Chain, horizon);
        }
    }

    /// <summary>
    /// Whether the commit of a span ending at <paramref name="to"/> stores the feeds' state: inside the finality window
    /// always, below it while some feed has no stored read with its decimals (see the step).
    /// </summary>
    private bool ReadsFeeds(FeedStateReader feeds, long to, long head) => !(BelowFinalityWindow(to, head) && _feedsRead.IsSupersetOf(feeds.Feeds));

    /// <summary>The span [from, to]: the prefetched one when it is exactly this span, else fetched now.</summary>
    private FetchedSpan TakeSpan(long from, long to, long head, CancellationToken cancellationToken)
    {
        if (_prefetch.TryDequeue(out var first))
        {
            if (first.From == from && first.To == to)
            {
                return first.Span;
            }

            // Not wanted (a failed commit, a rollback, a moved head): neither is anything queued after it. Their
            // outcomes, failures included, are dropped.
            Drop(first.Span);
            while (_prefetch.TryDequeue(out var later))
            {
                Drop(later.Span);
            }
        }

        return FetchSpan(from, to, head, cancellationToken);
    }

    /// <summary>
    /// A span's logs and the headers its commit needs. Blocks inside the finality window may still be reorged: every
    /// header there is kept, and the step checks that the logs came from the same fork as the headers. Below it, only
    /// the span's last block is needed (the checkpoint). The window holds FinalityDepth + 1 headers: a reorg exactly
    /// FinalityDepth deep replaces FinalityDepth blocks, and its common ancestor, one below them, must be stored for the
    /// rollback to find it.
    /// Inside the window the headers are read before the logs. Should a reorg land between the two reads, the logs of
    /// any block that has some carry the other fork's hash and the step refuses them; a block that had logs before
    /// the reorg and has none after it leaves no trace in the logs, but the headers, the checkpoint's among them, are
    /// then the old fork's, and the next step finds the checkpoint gone from the chain and rolls back. (Read the other
    /// way round, headers of the new fork would be stored over logs of the old one, and nothing would notice.) So a
    /// span fetched ahead of its step is as good as one fetched by it: whatever moved since is caught the same way.
    /// Below the window no reorg reaches, and the one header is read beside the logs.
    /// </summary>
    private FetchedSpan FetchSpan(long from, long to, long head, CancellationToken cancellationToken)
    {
        if (BelowFinalityWindow(to, head))
        {
            return new FetchedSpan(_headers.GetRangeAsync(to, to, cancellationToken), _logs.FetchAsync(from, to, cancellationToken));
        }

        var headers = _headers.GetRangeAsync(Math.Max(from, head - _options.FinalityDepth), to, cancellationToken);
        return new FetchedSpan(headers, LogsAfterAsync(headers, from, to, cancellationToken));
    }

    private async Task<List<RawLog>> LogsAfterAsync(Task<IndexedBlock?[]> headers, long from, long to, CancellationToken cancellationToken)
    {
        await headers.ConfigureAwait(false);
        return await _logs.FetchAsync(from, to, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A span's headers (see <see cref="FetchSpan"/>) and its logs in (block, log index) order, each as it arrives.</summary>
    private sealed record FetchedSpan(Task<IndexedBlock?[]> Headers, Task<List<RawLog>> Logs);

    /// <summary>
    /// Learns from the store which feeds have a stored read with their decimals: a restarted watcher (or one that has
    /// just rolled back) skips the backfill reads exactly where a watcher that never stopped would have.
    /// </summary>
    private async Task LoadFeedsReadAsync(CancellationToken cancellationToken)
    {
        _feedsRead.Clear();
        foreach (var feed in _feedStates?.Feeds ?? [])
        {
            if ((await _store.GetFeedDecimalsStateAsync(Chain, feed, cancellationToken).ConfigureAwait(false))?.Decimals is not null)
            {
                _feedsRead.Add(feed);
            }
        }
    }

    /// <summary>
    /// Adds feeds whose state every commit reads: the configured price, volatility and sequencer feeds, and the feeds
    /// the chain's perp markets and option series were listed with (their entry prices and strikes are in those feeds'
    /// decimals, and such a feed need not be configured).
    /// </summary>
    private void AddFeeds(IEnumerable<EvmAddress> feeds)
    {
        var added = false;
        foreach (var feed in feeds)
        {
            added |= _feeds.Add(feed);
        }

        if (added)
        {
            _feedStates = new FeedStateReader(_pinned, _feeds);
        }
    }

    /// <summary>
    /// Queues fetches of the spans after <paramref name="to"/>, up to <see cref="ChainOptions.PrefetchSpans"/>. They
    /// run at once, sharing the fetcher's Parallelism requests on the wire (earlier spans first), so the node is kept
    /// busy across span boundaries and the step's own calls (head, headers) are not queued behind them.
    /// </summary>
    private void Prefetch(long to, long head, long target, CancellationToken cancellationToken)
    {
        var span = Math.Max(_options.MaxBlocksPerCommit, 1);
        var last = to;
        foreach (var queued in _prefetch)
        {
            last = queued.To;
        }

        while (_prefetch.Count < _options.PrefetchSpans && last < target)
        {
            var nextTo = Math.Min(target, last + span);
            _prefetch.Enqueue((last + 1, nextTo, FetchSpan(last + 1, nextTo, head, cancellationToken)));
            last = nextTo;
        }
    }

    /// <summary>A block below the finality window (head - FinalityDepth): no reorg the watcher follows can reach it.</summary>
    private bool BelowFinalityWindow(long block, long head) => block < head - _options.FinalityDepth;

    /// <summary>Lets a span fetched for nothing finish on its own; its failures are observed, not raised.</summary>
    private static void Drop(FetchedSpan span)
    {
        Observe(span.Headers);
        Observe(span.Logs);
    }

    private static void Observe(Task task) =>
        _ = task.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>
    /// Compares the checkpoint's hash with the chain's. On a mismatch walks back through the stored recent blocks to
    /// the newest one the chain still has, and rolls back to it. Returns true when it rolled back.
    /// </summary>
    private async Task<bool> DetectReorgAsync(long head, IndexedBlock? onChain, CancellationToken cancellationToken)
    {
        var checkpoint = _checkpoint!.Block;
        if (checkpoint.Number <= head && onChain is not null && onChain.Block.Hash == checkpoint.Hash)
        {
            return false;
        }

        var stored = await _store.GetRecentBlocksAsync(Chain, _options.FinalityDepth + 1, cancellationToken).ConfigureAwait(false);
        BlockRef? ancestor = null;
        foreach (var block in stored)
        {
            if (checkpoint.Number - block.Block.Number > _options.FinalityDepth)
            {
                break;
            }

            var current = block.Block.Number <= head ? await _headers.GetAsync(block.Block.Number, cancellationToken).ConfigureAwait(false) : null;
            if (current is not null && current.Block.Hash == block.Block.Hash)
            {
                ancestor = block.Block;
                break;
            }
        }

        if (ancestor is null)
        {
            throw new ReorgBeyondFinalityException(
                $"block {checkpoint.Number} ({checkpoint.Hash}) is no longer canonical and no common ancestor was found within the finality depth of {_options.FinalityDepth} blocks");
        }

        _log.LogWarning("chain {Chain}: reorg, rolling back from {From} to common ancestor {To}", Chain, checkpoint.Number, ancestor.Value.Number);
        var accounts = await AccountsAboveAsync(cancellationToken).ConfigureAwait(false);
        ResetSpanIndexers();
        await _store.RollbackToAsync(ancestor.Value, cancellationToken).ConfigureAwait(false);
        await LoadFeedsReadAsync(cancellationToken).ConfigureAwait(false);
        _checkpoint = new ChainCheckpoint(ancestor.Value, _time.GetUtcNow());
        Status.Reorged(ancestor.Value);
        await RaiseAsync(new ChainCommitted(Chain, ancestor.Value, head, 0, 0, accounts, PricesChanged: true, Reorged: true), cancellationToken).ConfigureAwait(false);
        return true;
    }

    private void ResetSpanIndexers()
    {
        foreach (var venue in _spanIndexers)
        {
            venue.Reset();
        }
    }

    private static Task<IReadOnlySet<EvmAddress>> AccountsAboveAsync(CancellationToken cancellationToken)
    {
        // A rollback may touch any account on this chain; the margin service recomputes all of them.
        _ = cancellationToken;
        return Task.FromResult<IReadOnlySet<EvmAddress>>(new HashSet<EvmAddress>());
    }

    private async Task RaiseAsync(ChainCommitted committed, CancellationToken cancellationToken)
    {
        var handlers = Committed;
        if (handlers is null)
        {
            return;
        }

        foreach (var handler in handlers.GetInvocationList().Cast<Func<ChainCommitted, CancellationToken, Task>>())
        {
            try
            {
                await handler(committed, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A subscriber's failure must not stop indexing.
                _log.LogError(ex, "chain {Chain}: a commit subscriber failed", Chain);
            }
        }
    }
}

/// <summary>The node's answers contradict each other (a reorg while reading); the step is retried.</summary>
public sealed class InconsistentChainException : Exception
{
    public InconsistentChainException()
    {
    }

    public InconsistentChainException(string message)
        : base(message)
    {
    }

    public InconsistentChainException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
