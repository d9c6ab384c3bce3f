using System.Numerics;

namespace ChainMargin.Liquidation.Keeper;

/// <summary>
/// Hands out transaction nonces for one key on one chain: read from the node (pending) on first use and after any
/// nonce error, incremented locally in between so several liquidations in flight do not wait for each other.
/// </summary>
public sealed class NonceManager : IDisposable
{
    private readonly KeeperRpc _rpc;
    private readonly string _address;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private BigInteger? _next;

    public NonceManager(KeeperRpc rpc, string address)
    {
        _rpc = rpc;
        _address = address;
    }

    public long Resyncs { get; private set; }

    public async Task<BigInteger> NextAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _next ??= await _rpc.PendingNonceAsync(_address, cancellationToken).ConfigureAwait(false);
            var nonce = _next.Value;
            _next = nonce + 1;
            return nonce;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The nonce <see cref="NextAsync"/> would hand out, without taking it (a dry run signs with it).</summary>
    public async Task<BigInteger> PeekAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _next ??= await _rpc.PendingNonceAsync(_address, cancellationToken).ConfigureAwait(false);
            return _next.Value;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Forgets the local count: the next nonce is read from the node again.</summary>
    public void Resync()
    {
        _gate.Wait();
        try
        {
            _next = null;
            Resyncs++;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>True for the node errors that mean our nonce is wrong (used, or too far ahead).</summary>
    public static bool IsNonceError(RpcErrorException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        var m = error.RpcMessage;
        return m.Contains("nonce", StringComparison.OrdinalIgnoreCase) || m.Contains("already known", StringComparison.OrdinalIgnoreCase) ||
               m.Contains("replacement transaction underpriced", StringComparison.OrdinalIgnoreCase);
    }

    public void Dispose() => _gate.Dispose();
}
