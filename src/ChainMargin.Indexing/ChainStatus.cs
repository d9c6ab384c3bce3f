using System.Collections.Concurrent;
using ChainMargin.Core;

namespace ChainMargin.Indexing;

/// <summary>What a watcher knows about its chain right now; read by the API, the metrics and the margin engine.</summary>
public sealed class ChainStatus
{
    private readonly object _gate = new();

    public ChainStatus(ChainId chain, string name, TimeSpan staleAfter)
    {
        Chain = chain;
        Name = name;
        StaleAfter = staleAfter;
    }

    public ChainId Chain { get; }

    public string Name { get; }

    public TimeSpan StaleAfter { get; }

    public long? Head { get; private set; }

    public BlockRef? Indexed { get; private set; }

    public DateTimeOffset? LastSuccessAt { get; private set; }

    public string? LastError { get; private set; }

    /// <summary>Set when the watcher stopped for good (a reorg beyond finality); it needs an operator.</summary>
    public string? Halted { get; private set; }

    public long EventsIndexed { get; private set; }

    public long BlocksIndexed { get; private set; }

    public long Reorgs { get; private set; }

    public bool Owned { get; set; }

    /// <summary>Failed RPC attempts of this chain's client (read from it), for the metrics.</summary>
    public long RpcErrors => RpcErrorSource?.Invoke() ?? 0;

    /// <summary>Set by whoever owns the chain's RPC client.</summary>
    public Func<long>? RpcErrorSource { get; set; }

    public long? LagBlocks => Head is { } head && Indexed is { } indexed ? Math.Max(0, head - indexed.Number) : null;

    /// <summary>Why this chain's data is stale, or null when it is fresh.</summary>
    public string? StaleReason(DateTimeOffset now)
    {
        lock (_gate)
        {
            if (Halted is not null)
            {
                return "watcher halted: " + Halted;
            }

            if (LastSuccessAt is null)
            {
                return LastError is not null ? "never reached: " + LastError
                    : Indexed is null ? "not indexed yet"
                    : "not polled since start";
            }

            var age = now - LastSuccessAt.Value;
            return age > StaleAfter
                ? $"no successful poll for {age.TotalSeconds:0} s" + (LastError is null ? "" : ": " + LastError)
                : null;
        }
    }

    internal void Progress(long head, BlockRef indexed, int events, int blocks, DateTimeOffset now)
    {
        lock (_gate)
        {
            Head = head;
            Indexed = indexed;
            EventsIndexed += events;
            BlocksIndexed += blocks;
            LastSuccessAt = now;
            LastError = null;
        }
    }

    /// <summary>
    /// The checkpoint found in the store at start. Not a successful poll: the node has not been asked anything yet,
    /// so the chain is not fresh (and its head is not known) until it answers.
    /// </summary>
    internal void Loaded(BlockRef indexed)
    {
        lock (_gate)
        {
            Indexed = indexed;
        }
    }

    internal void Polled(long head, BlockRef? indexed, DateTimeOffset now)
    {
        lock (_gate)
        {
            Head = head;
            Indexed = indexed ?? Indexed;
            LastSuccessAt = now;
            LastError = null;
        }
    }

    public void Failed(string error)
    {
        lock (_gate)
        {
            LastError = error;
        }
    }

    internal void Reorged(BlockRef ancestor)
    {
        lock (_gate)
        {
            Reorgs++;
            Indexed = ancestor;
        }
    }

    internal void Halt(string reason)
    {
        lock (_gate)
        {
            Halted = reason;
        }
    }
}

/// <summary>The status of every configured chain in this process.</summary>
public sealed class ChainStatusRegistry
{
    private readonly ConcurrentDictionary<ulong, ChainStatus> _chains = new();

    public ChainStatus GetOrAdd(ChainId chain, string name, TimeSpan staleAfter) =>
        _chains.GetOrAdd(chain.Value, _ => new ChainStatus(chain, name, staleAfter));

    public ChainStatus? Get(ChainId chain) => _chains.TryGetValue(chain.Value, out var status) ? status : null;

    public IReadOnlyList<ChainStatus> All => _chains.Values.OrderBy(s => s.Chain.Value).ToArray();
}
