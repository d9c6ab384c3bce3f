using ChainMargin.Core;
using ChainMargin.Storage.Postgres;
using ChainMargin.Testing;
using Npgsql;
using Xunit;

namespace ChainMargin.Storage.Tests;

/// <summary>Chain ownership through PostgreSQL advisory locks: one holder per chain across processes.</summary>
public sealed class PostgresChainLeaseTests : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;
    private PostgresDatabase? _database;

    private string ConnectionString => _database?.ConnectionString ?? throw new InvalidOperationException("no database");

    public async Task InitializeAsync() => _database = await PostgresDatabase.CreateAsync("cm_lease");

    public async Task DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    [Fact]
    public async Task TryAcquireAsync_HeldByAnotherProcess_ReturnsNullUntilReleased()
    {
        // Two lease providers stand for two processes: each lease is its own server session.
        var first = new PostgresChainLeases(ConnectionString);
        var second = new PostgresChainLeases(ConnectionString);
        var chain = new ChainId(8453);

        var lease = await first.TryAcquireAsync(chain, None);
        Assert.NotNull(lease);
        Assert.True(await lease.IsHeldAsync(None));
        Assert.Null(await second.TryAcquireAsync(chain, None));
        Assert.Null(await first.TryAcquireAsync(chain, None));

        // Other chains are independent.
        await using (var other = await second.TryAcquireAsync(new ChainId(1), None))
        {
            Assert.NotNull(other);
        }

        await lease.DisposeAsync();
        Assert.False(await lease.IsHeldAsync(None));
        await using var taken = await second.TryAcquireAsync(chain, None);
        Assert.NotNull(taken);
        Assert.True(await taken.IsHeldAsync(None));
    }

    [Fact]
    public async Task TryAcquireAsync_HolderSessionDies_AnotherProcessTakesOver()
    {
        var chain = new ChainId(42161);
        var lease = await new PostgresChainLeases(ConnectionString).TryAcquireAsync(chain, None);
        Assert.NotNull(lease);

        // What the server does when a process dies: its session ends, and the session's advisory locks go with it.
        await using (var admin = new NpgsqlConnection(ConnectionString))
        {
            await admin.OpenAsync();
            await using var kill = new NpgsqlCommand(
                "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'chainmargin-lease' and datname = current_database()",
                admin);
            await kill.ExecuteNonQueryAsync();
        }

        Assert.False(await lease.IsHeldAsync(None));
        IChainLease? taken = null;
        for (var attempt = 0; attempt < 50 && taken is null; attempt++)
        {
            taken = await new PostgresChainLeases(ConnectionString).TryAcquireAsync(chain, None);
            if (taken is null)
            {
                await Task.Delay(50);
            }
        }

        Assert.NotNull(taken);
        await taken.DisposeAsync();
        await lease.DisposeAsync();
    }

    [Fact]
    public async Task TryAcquireAsync_ChainIdAbove32Bits_Works()
    {
        var leases = new PostgresChainLeases(ConnectionString);
        var chain = new ChainId(11_297_108_109);

        await using var lease = await leases.TryAcquireAsync(chain, None);

        Assert.NotNull(lease);
        Assert.True(await lease.IsHeldAsync(None));
        Assert.Null(await leases.TryAcquireAsync(chain, None));
    }
}

public sealed class InProcessChainLeaseTests
{
    [Fact]
    public async Task TryAcquireAsync_Held_ReturnsNullUntilDisposed()
    {
        var leases = new InProcessChainLeases();
        var chain = new ChainId(1);

        var lease = await leases.TryAcquireAsync(chain, CancellationToken.None);
        Assert.NotNull(lease);
        Assert.Null(await leases.TryAcquireAsync(chain, CancellationToken.None));
        Assert.NotNull(await leases.TryAcquireAsync(new ChainId(2), CancellationToken.None));

        await lease.DisposeAsync();
        await lease.DisposeAsync();
        Assert.False(await lease.IsHeldAsync(CancellationToken.None));
        Assert.NotNull(await leases.TryAcquireAsync(chain, CancellationToken.None));
    }
}
