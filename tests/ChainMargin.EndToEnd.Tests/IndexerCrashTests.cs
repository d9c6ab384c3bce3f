using ChainMargin.EndToEnd.Tests.Indexer;
using ChainMargin.Testing;
using Npgsql;

namespace ChainMargin.EndToEnd.Tests;

[CollectionDefinition(Name)]
public sealed class IndexerProcessGroup : ICollectionFixture<SeededChainFixture>
{
    public const string Name = "indexer processes";
}

/// <summary>
/// The `chainmargin backfill` process killed with SIGKILL at three points of a backfill into PostgreSQL (while it
/// fetches a span's logs, between two commits, inside a commit's transaction after its facts are written), then run
/// again: the index equals a clean run's (same checksum of every fact and aggregate table), every log of the chain is
/// stored exactly once, and the restart resumed from the checkpoint.
/// </summary>
[Collection(IndexerProcessGroup.Name)]
public sealed class IndexerCrashTests(SeededChainFixture chain) : IAsyncLifetime, IDisposable
{
    private PostgresDatabase? _database;
    private FaultProxy? _proxy;

    private IndexDatabase Index => new(_database!.ConnectionString);

    private FaultProxy Proxy => _proxy!;

    public async Task InitializeAsync()
    {
        _database = await PostgresDatabase.CreateAsync("cm_crash");
        _proxy = new FaultProxy(chain.Node.RpcUrl);
    }

    public void Dispose()
    {
        _proxy?.Dispose();
        _proxy = null;
    }

    public async Task DisposeAsync()
    {
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
            _proxy = null;
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    [Fact]
    public async Task Backfill_KilledWhileFetchingASpansLogs_RestartEqualsCleanRun()
    {
        // Span 6 is blocks 60..69, fetched as 60..64 and 65..69: the first half is answered, the second held.
        var gate = Hold(from: SeededChainFixture.SpanEnd(5) + 6);
        var chainsFile = chain.ChainsFile(Proxy.Url);
        await using (var process = IndexerProcess.Start(chainsFile, _database!.ConnectionString))
        {
            await IndexDatabase.UntilAsync(
                async () => gate.Held.Task.IsCompleted && await Index.CheckpointAsync(SeededChainFixture.ChainId) == SeededChainFixture.SpanEnd(5),
                "span 5 committed and span 6's second half held", () => process.Output);
            Assert.Contains(Proxy.Calls, c => c.Method == "eth_getLogs" && c.FromBlock == SeededChainFixture.SpanEnd(5) + 1);
            process.KillHard();
        }

        gate.Release.TrySetResult();
        Assert.Equal(SeededChainFixture.SpanEnd(5), await Index.CheckpointAsync(SeededChainFixture.ChainId));
        Assert.Equal(0, await Index.FactsAboveAsync(SeededChainFixture.ChainId, SeededChainFixture.SpanEnd(5)));
        await RestartAndAssertExactAsync(chainsFile, resumeFrom: SeededChainFixture.SpanEnd(5) + 1);
    }

    [Fact]
    public async Task Backfill_KilledBetweenCommits_RestartEqualsCleanRun()
    {
        // Every eth_getLogs is slowed a little so that the checkpoint is seen moving long before the backfill ends;
        // the process is killed as soon as it has passed span 4, wherever it then is.
        Proxy.Plan = c => c.Method == "eth_getLogs" ? new Fault(FaultKind.Stall, Delay: TimeSpan.FromMilliseconds(40)) : null;
        var chainsFile = chain.ChainsFile(Proxy.Url);
        long killedAt;
        await using (var process = IndexerProcess.Start(chainsFile, _database!.ConnectionString))
        {
            await IndexDatabase.UntilAsync(
                async () => await Index.CheckpointAsync(SeededChainFixture.ChainId) >= SeededChainFixture.SpanEnd(4),
                "the checkpoint to pass span 4", () => process.Output);
            process.KillHard();
            killedAt = (await Index.CheckpointAsync(SeededChainFixture.ChainId))!.Value;
        }

        Assert.InRange(killedAt, SeededChainFixture.SpanEnd(4), chain.Head - 1);
        Assert.Equal(0, (killedAt + 1) % SeededChainFixture.CommitBlocks);
        Assert.Equal(0, await Index.FactsAboveAsync(SeededChainFixture.ChainId, killedAt));
        Proxy.Plan = _ => null;
        await RestartAndAssertExactAsync(chainsFile, resumeFrom: killedAt + 1);
    }

    [Fact]
    public async Task Backfill_KilledInsideTheCommitAfterItsFactsAreWritten_NothingOfItStays_RestartEqualsCleanRun()
    {
        // Span 8's logs are held until this test holds the checkpoint row locked; then the commit of span 8 writes its
        // facts and blocks on the checkpoint upsert, the last statement of its transaction.
        var gate = Hold(from: SeededChainFixture.SpanEnd(7) + 1);
        var chainsFile = chain.ChainsFile(Proxy.Url);
        var before = SeededChainFixture.SpanEnd(7);
        await using (var process = IndexerProcess.Start(chainsFile, _database!.ConnectionString))
        {
            await IndexDatabase.UntilAsync(
                async () => gate.Held.Task.IsCompleted && await Index.CheckpointAsync(SeededChainFixture.ChainId) == before,
                "span 7 committed and span 8's logs held", () => process.Output);

            await using var locker = await Index.OpenAsync();
            await using var transaction = await locker.BeginTransactionAsync();
            await using (var lockRow = new NpgsqlCommand("select block_number from chain_checkpoints where chain_id = @chain for update", locker, transaction))
            {
                lockRow.Parameters.AddWithValue("chain", (long)SeededChainFixture.ChainId);
                Assert.Equal(before, await lockRow.ExecuteScalarAsync());
            }

            gate.Release.TrySetResult();
            int pid = 0;
            await IndexDatabase.UntilAsync(
                async () => (pid = await WaitingCheckpointWriterAsync()) != 0, "the commit to wait on the checkpoint row", () => process.Output);

            // The waiting transaction has written facts (a COPY into collateral_change_blocks holds its table lock).
            Assert.True(await HoldsWriteLockAsync(pid, "collateral_change_blocks"), "the blocked commit has not written facts yet");
            process.KillHard();
            await transaction.RollbackAsync();
            await IndexDatabase.UntilAsync(async () => !await BackendAliveAsync(pid), "the killed process's session to end", () => process.Output);
        }

        Assert.Equal(before, await Index.CheckpointAsync(SeededChainFixture.ChainId));
        Assert.Equal(0, await Index.FactsAboveAsync(SeededChainFixture.ChainId, before));
        await RestartAndAssertExactAsync(chainsFile, resumeFrom: before + 1);
    }

    private async Task RestartAndAssertExactAsync(string chainsFile, long resumeFrom)
    {
        Proxy.Plan = _ => null;
        var seen = Proxy.Calls.Count;
        await using (var restart = IndexerProcess.Start(chainsFile, _database!.ConnectionString))
        {
            var code = await restart.WaitForExitAsync(TimeSpan.FromMinutes(3));
            Assert.True(code == 0, "the restarted backfill failed:\n" + restart.Output);
        }

        // It resumed from the checkpoint rather than from the start block.
        var fetched = Proxy.Calls.Skip(seen).Where(c => c.Method == "eth_getLogs").ToList();
        Assert.NotEmpty(fetched);
        Assert.Equal(resumeFrom, fetched.Min(c => c.FromBlock));

        IndexDatabase.AssertSameKeys(chain.ChainLogKeys, await Index.FactKeysAsync(SeededChainFixture.ChainId));
        Assert.Equal(chain.CleanChecksum, await Index.ChecksumAsync(SeededChainFixture.ChainId));
    }

    /// <summary>Holds every eth_getLogs from a block on until released, and says when the first one arrived.</summary>
    private (TaskCompletionSource Held, TaskCompletionSource Release) Hold(long from)
    {
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Proxy.Plan = c => c.Method == "eth_getLogs" && c.FromBlock >= from
            ? new Fault(FaultKind.Forward, Before: async () =>
            {
                held.TrySetResult();
                await release.Task;
            })
            : null;
        return (held, release);
    }

    /// <summary>The backend of the process under test that waits for a lock while writing the checkpoint, or 0.</summary>
    private async Task<int> WaitingCheckpointWriterAsync()
    {
        await using var connection = await Index.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            select pid from pg_stat_activity
            where datname = current_database() and application_name = @app and wait_event_type = 'Lock'
              and query ilike '%insert into chain_checkpoints%'
            """, connection);
        command.Parameters.AddWithValue("app", IndexerProcess.ApplicationName);
        return await command.ExecuteScalarAsync() is int pid ? pid : 0;
    }

    private async Task<bool> HoldsWriteLockAsync(int pid, string table)
    {
        await using var connection = await Index.OpenAsync();
        await using var command = new NpgsqlCommand(
            "select count(*) from pg_locks where pid = @pid and relation = @table::regclass and mode = 'RowExclusiveLock' and granted", connection);
        command.Parameters.AddWithValue("pid", pid);
        command.Parameters.AddWithValue("table", table);
        return await command.ExecuteScalarAsync() is long count && count > 0;
    }

    private async Task<bool> BackendAliveAsync(int pid)
    {
        await using var connection = await Index.OpenAsync();
        await using var command = new NpgsqlCommand("select count(*) from pg_stat_activity where pid = @pid", connection);
        command.Parameters.AddWithValue("pid", pid);
        return await command.ExecuteScalarAsync() is long count && count > 0;
    }
}
