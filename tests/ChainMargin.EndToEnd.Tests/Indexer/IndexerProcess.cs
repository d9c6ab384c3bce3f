using System.Diagnostics;
using System.Text;
using ChainMargin.Contracts.Devnet;
using Npgsql;

namespace ChainMargin.EndToEnd.Tests.Indexer;

/// <summary>
/// `chainmargin backfill` as a child process against PostgreSQL, with small commits (ten blocks) so a backfill is
/// many transactions, and its output collected. <see cref="KillHard"/> is SIGKILL: no shutdown code runs.
/// </summary>
public sealed class IndexerProcess : IAsyncDisposable
{
    /// <summary>The application name of the process's store sessions, to find them in pg_stat_activity.</summary>
    public const string ApplicationName = "cm-indexer-under-test";

    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private IndexerProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <param name="command">The `chainmargin` command: backfill, or another that reads the same store (at-risk).</param>
    public static IndexerProcess Start(string chainsFile, string connectionString, string command = "backfill")
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepositoryPaths.Root(),
        };
        var storage = new NpgsqlConnectionStringBuilder(connectionString) { ApplicationName = ApplicationName }.ConnectionString;
        string[] args =
        [
            Path.Combine(AppContext.BaseDirectory, "chainmargin.dll"), command,
            "--Storage:Provider=postgres", "--Storage:ConnectionString=" + storage,
            "--Api:Urls=http://127.0.0.1:" + AnvilNode.FreePort(),
            "--Chains:0:MaxBlocksPerCommit=" + SeededChainFixture.CommitBlocks,
            "--Chains:0:InitialBlockRange=5", "--Chains:0:MaxBlockRange=5", "--Chains:0:Parallelism=2",
            "--Chains:0:FinalityDepth=16",
        ];
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["CHAINMARGIN_DEVNET_FILE"] = chainsFile;
        return new IndexerProcess(Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start"));
    }

    /// <summary>Waits for the process to end by itself; a bound, not a speed check: past it the test fails with the output.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan bound)
    {
        using var timeout = new CancellationTokenSource(bound);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"chainmargin (pid {Id}) still running after {bound}:\n{Output}");
        }

        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>SIGKILL, then wait until the process is gone.</summary>
    public void KillHard()
    {
        _process.Kill(entireProcessTree: false);
        _process.WaitForExit();
    }

    public int CountLines(string prefix) =>
        Output.Split('\n').Count(l => l.StartsWith(prefix, StringComparison.Ordinal));

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: false);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
