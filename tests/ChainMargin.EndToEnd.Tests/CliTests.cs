using System.Diagnostics;
using ChainMargin.Contracts.Devnet;

namespace ChainMargin.EndToEnd.Tests;

/// <summary>The `chainmargin` command run as a process: help, exit codes scripts can trust, errors that name the input.</summary>
public sealed class CliTests
{
    private static async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepositoryPaths.Root(),
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "chainmargin.dll"));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // No devnet file: the configured chains are only those in config/.
        info.Environment["CHAINMARGIN_DEVNET_FILE"] = Path.Combine(Path.GetTempPath(), "cm-no-devnet-" + Guid.NewGuid().ToString("N") + ".json");
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await errors);
    }

    [Fact]
    public async Task Help_ListsTheCommands_AndExitsZero()
    {
        var (code, output, _) = await RunAsync("--help");
        Assert.Equal(0, code);
        foreach (var command in new[] { "demo", "devnet up|down", "serve", "health <address>", "config check" })
        {
            Assert.Contains(command, output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task UnknownCommand_ExitsTwo_AndSaysSo()
    {
        var (code, _, errors) = await RunAsync("frobnicate");
        Assert.Equal(2, code);
        Assert.Contains("unknown command 'frobnicate'", errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfigCheck_Valid_ExitsZero()
    {
        var (code, output, errors) = await RunAsync("config", "check");
        Assert.True(code == 0, errors);
        Assert.Contains("config ok", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfigCheck_UnknownKey_ExitsTwo_NamingTheKey()
    {
        var (code, _, errors) = await RunAsync("config", "check", "--Api:Url=http://127.0.0.1:1");
        Assert.Equal(2, code);
        Assert.Contains("Api:Url", errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfigCheck_BadRiskValue_ExitsTwo_NamingTheKey()
    {
        var (code, _, errors) = await RunAsync("config", "check", "--Risk:Assets:ETH:CollateralWeight=7");
        Assert.Equal(2, code);
        Assert.Contains("Risk:Assets:ETH:CollateralWeight", errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Health_MalformedAddress_ExitsTwo()
    {
        var (code, _, errors) = await RunAsync("health", "0xnope");
        Assert.Equal(2, code);
        Assert.Contains("'0xnope' is not an EVM address", errors, StringComparison.Ordinal);
    }
}
