using ChainMargin.Core;
using Npgsql;

namespace ChainMargin.Storage.Postgres;

/// <summary>
/// Chain leases as PostgreSQL session-level advisory locks, each on its own unpooled connection kept open while the
/// lease is held: closing it (dispose, or the process dying and the server noticing the dropped socket) releases it.
/// </summary>
public sealed class PostgresChainLeases : IChainLeases
{
    /// <summary>First key of the two-int advisory lock space, so chain leases never collide with other lock users.</summary>
    internal const int LockNamespace = 0x434D_4C53; // "CMLS"

    private readonly string _connectionString;

    public PostgresChainLeases(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _connectionString = new NpgsqlConnectionStringBuilder(connectionString)
        {
            // A pooled connection would only go back to the pool on close and keep holding the lock.
            Pooling = false,
            // A keepalive query keeps idle lease sessions from being cut by firewalls or NAT, and lets the holder see
            // a broken session promptly.
            KeepAlive = 15,
            ApplicationName = "chainmargin-lease",
        }.ConnectionString;
    }

    /// <summary>
    /// The second lock key: the chain id folded into 32 bits. Chain ids in use are far below 2^32 except a handful,
    /// and two folding to the same key would only make them share one owner, never have two.
    /// </summary>
    internal static int ChainKey(ChainId chain) => unchecked((int)(uint)(chain.Value ^ (chain.Value >> 32)));

    public async Task<IChainLease?> TryAcquireAsync(ChainId chain, CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);

            // The server side of the socket: a holder whose machine vanished without closing it (power loss, network
            // partition) is noticed in about 30 s and its lock freed, instead of after the OS default of hours.
            var keepalive = new NpgsqlCommand(
                "set tcp_keepalives_idle = 15; set tcp_keepalives_interval = 5; set tcp_keepalives_count = 3", connection);
            await using (keepalive.ConfigureAwait(false))
            {
                await keepalive.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            var command = new NpgsqlCommand("select pg_try_advisory_lock(@ns, @key)", connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.AddWithValue("ns", LockNamespace);
                command.Parameters.AddWithValue("key", ChainKey(chain));
                if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true)
                {
                    return new Lease(connection, chain);
                }
            }
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        await connection.DisposeAsync().ConfigureAwait(false);
        return null;
    }

    private sealed class Lease(NpgsqlConnection connection, ChainId chain) : IChainLease
    {
        private readonly SemaphoreSlim _gate = new(1, 1);
        private bool _disposed;

        public ChainId Chain => chain;

        public async Task<bool> IsHeldAsync(CancellationToken cancellationToken)
        {
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (_disposed)
                {
                    return false;
                }

                var command = new NpgsqlCommand(
                    """
                    select count(*) from pg_locks
                    where locktype = 'advisory' and pid = pg_backend_pid() and granted
                      and classid = @ns::integer::oid and objid = @key::integer::oid and objsubid = 2
                    """,
                    connection);
                await using (command.ConfigureAwait(false))
                {
                    command.Parameters.AddWithValue("ns", LockNamespace);
                    command.Parameters.AddWithValue("key", ChainKey(chain));
                    return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long count && count > 0;
                }
            }
            catch (NpgsqlException)
            {
                // The session is gone, and the lock with it.
                return false;
            }
            finally
            {
                _gate.Release();
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _gate.WaitAsync().ConfigureAwait(false);
            try
            {
                if (_disposed)
                {
                    return;
                }

                _disposed = true;

                // Closing the session releases its advisory locks; no explicit unlock is needed.
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            finally
            {
                _gate.Release();
            }
        }
    }
}
