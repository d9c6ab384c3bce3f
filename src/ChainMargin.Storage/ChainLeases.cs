using System.Collections.Concurrent;
using ChainMargin.Core;

namespace ChainMargin.Storage;

/// <summary>
/// Ownership of a chain's watcher: at most one holder at a time across every process sharing the store. A process
/// that dies loses its leases, so another one can take its chains over.
/// </summary>
public interface IChainLeases
{
    /// <summary>Takes the chain's lease, or returns null when someone else holds it. Never waits for it.</summary>
    Task<IChainLease?> TryAcquireAsync(ChainId chain, CancellationToken cancellationToken);
}

/// <summary>A held lease; disposing it releases the chain.</summary>
public interface IChainLease : IAsyncDisposable
{
    ChainId Chain { get; }

    /// <summary>
    /// Whether the lease is still held. A PostgreSQL lease is lost when its connection breaks: the watcher should
    /// check between steps and stop when this turns false.
    /// </summary>
    Task<bool> IsHeldAsync(CancellationToken cancellationToken);
}

/// <summary>Leases for a store only one process uses (SQLite): a set of held chains in memory.</summary>
public sealed class InProcessChainLeases : IChainLeases
{
    private readonly ConcurrentDictionary<ulong, Lease> _held = new();

    public Task<IChainLease?> TryAcquireAsync(ChainId chain, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var lease = new Lease(this, chain);
        return Task.FromResult<IChainLease?>(_held.TryAdd(chain.Value, lease) ? lease : null);
    }

    private sealed class Lease(InProcessChainLeases owner, ChainId chain) : IChainLease
    {
        private int _released;

        public ChainId Chain => chain;

        public Task<bool> IsHeldAsync(CancellationToken cancellationToken) => Task.FromResult(Volatile.Read(ref _released) == 0);

        public ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner._held.TryRemove(new KeyValuePair<ulong, Lease>(chain.Value, this));
            }

            return ValueTask.CompletedTask;
        }
    }
}
