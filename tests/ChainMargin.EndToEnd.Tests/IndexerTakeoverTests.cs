using ChainMargin.EndToEnd.Tests.Indexer;
using ChainMargin.Testing;
using Npgsql;

namespace ChainMargin.EndToEnd.Tests;

/// <summary>
/// Two `chainmargin` processes on one PostgreSQL: only the lease holder indexes the chain; when it is SIGKILLed the
/// other takes the chain over from the checkpoint and completes the index exactly. A process that does not own the
/// chain asks its node nothing, margin included: feed decimals come from the feed states the owner stored.
/// </summary>
[Collection(IndexerProcessGroup.Name)]
public sealed class IndexerTakeoverTests(SeededChainFixture chain) : IAsyncLifetime
{
    private PostgresDatabase? _database;

    public async Task InitializeAsync() => _database = await PostgresDatabase.CreateAsync("cm_takeover");

    public async Task DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    [Fact]
    public async Task TwoProcesses_OwnerKilled_TheOtherTakesTheChainOverAndCompletesItExactly()
    {
        var index = new IndexDatabase(_database!.ConnectionString);
        // Each process reaches the node through its own proxy, so what each one asked the node is known.
        await using var proxyA = new FaultProxy(chain.Node.RpcUrl);
        await using var proxyB = new FaultProxy(chain.Node.RpcUrl);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stopAt = SeededChainFixture.SpanEnd(9);
        proxyA.Plan = c => c.Method == "eth_getLogs" && c.FromBlock > stopAt ? new Fault(FaultKind.Forward, Before: () => release.Task) : null;

        await using var a = IndexerProcess.Start(chain.ChainsFile(proxyA.Url), _database.ConnectionString);
        await IndexDatabase.UntilAsync(async () => await index.CheckpointAsync(SeededChainFixture.ChainId) == stopAt, "A to index up to span 9", () => a.Output);
        Assert.Equal(1, await LeaseHoldersAsync(index));

        await using var b = IndexerProcess.Start(chain.ChainsFile(proxyB.Url), _database.ConnectionString);
        try
        {
            // B runs its watcher loop (it prints the chain's progress each second) but does not own the chain: it asks
            // the node nothing at all.
            await IndexDatabase.UntilAsync(
                () => Task.FromResult(b.CountLines(SeededChainFixture.ChainName + " ") >= 2), "B to run and report the chain twice", () => b.Output);
            Assert.Empty(proxyB.Calls);

            // Nor does a process that computes every account's margin from the store (`chainmargin at-risk`): the feeds'
            // decimals are the ones A committed with its checkpoints.
            await using (var proxyC = new FaultProxy(chain.Node.RpcUrl))
            await using (var c = IndexerProcess.Start(chain.ChainsFile(proxyC.Url), _database.ConnectionString, "at-risk"))
            {
                Assert.True(await c.WaitForExitAsync(TimeSpan.FromMinutes(2)) == 0, "at-risk failed:\n" + c.Output);
                Assert.Matches(@"\d+ of [1-9]\d* account\(s\) at risk", c.Output);
                Assert.DoesNotContain("decimals", c.Output, StringComparison.Ordinal);
                Assert.Empty(proxyC.Calls);
            }

            Assert.Empty(proxyB.Calls);
            Assert.Equal(1, await LeaseHoldersAsync(index));
            Assert.Equal(stopAt, await index.CheckpointAsync(SeededChainFixture.ChainId));

            a.KillHard();
        }
        finally
        {
            release.TrySetResult();
        }

        var code = await b.WaitForExitAsync(TimeSpan.FromMinutes(3));
        Assert.True(code == 0, "B's backfill failed:\n" + b.Output);

        // B resumed where A's last commit left the chain, and the index is the clean run's.
        var fetched = proxyB.Calls.Where(c => c.Method == "eth_getLogs").ToList();
        Assert.NotEmpty(fetched);
        Assert.Equal(stopAt + 1, fetched.Min(c => c.FromBlock));
        IndexDatabase.AssertSameKeys(chain.ChainLogKeys, await index.FactKeysAsync(SeededChainFixture.ChainId));
        Assert.Equal(chain.CleanChecksum, await index.ChecksumAsync(SeededChainFixture.ChainId));
    }

    /// <summary>Sessions holding an advisory chain lease in this database (granted advisory locks of lease sessions).</summary>
    private static async Task<long> LeaseHoldersAsync(IndexDatabase index)
    {
        await using var connection = await index.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            select count(*) from pg_locks l join pg_stat_activity a on a.pid = l.pid
            where l.locktype = 'advisory' and l.granted and a.application_name = 'chainmargin-lease' and a.datname = current_database()
            """, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
