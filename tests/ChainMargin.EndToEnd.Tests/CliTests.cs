using Microsoft.Extensions.Configuration;
using System.Diagnostics;
using ChainMargin.Contracts.Devnet;

namespace ChainMargin.EndToEnd.Tests;

/// <summary>The `chainmargin` command run as a process: help, exit codes scripts can trust, errors that name the input.</summary>
public sealed class CliTests
{
    private static Task<(int Code, string Out, string Err)> RunAsync(params string[] args) => RunWithAsync(null, args);

    private static async Task<(int Code, string Out, string Err)> RunWithAsync(string? chainsFile, params string[] args)
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
        info.Environment["CHAINMARGIN_DEVNET_FILE"] = chainsFile ?? Path.Combine(Path.GetTempPath(), "cm-no-devnet-" + Guid.NewGuid().ToString("N") + ".json");
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
    public void Configuration_KeeperSecretsInTheEnvironment_AreNotUnknownKeys()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["KEEPER_KEY_31337"] = "0x01",
            ["RISK_SIGNER_KEY"] = "0x02",
            ["KEEPER_KEYSTORE_PASSWORD"] = "x",
        }).Build();
        Assert.Empty(ChainMargin.Host.Composition.ConfigurationKeys.Unknown(config));
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
    public async Task Backfill_ThenAtRisk_IndexesTheChainAndListsTheAccounts()
    {
        await using var chain = await ChainMargin.Testing.AnvilProtocolFixture.StartAsync(64001);
        var dir = Directory.CreateTempSubdirectory("cm-cli-").FullName;
        var chainsFile = Path.Combine(dir, "chains.json");
        var devnetChain = new ChainMargin.Host.Devnet.DevnetChain("solo", chain.ChainId, chain.Node.Port);
        await File.WriteAllTextAsync(chainsFile, ChainMargin.Host.Devnet.Devnet.ChainsJson([devnetChain], [chain.Protocol]));
        await ChainMargin.Host.Devnet.DemoSeeder.DepositAsync(devnetChain, chain.Protocol, DevAccounts.Traders[0], "WETH", ChainMargin.Host.Devnet.DemoSeeder.Units(1, 18), CancellationToken.None);
        await ChainMargin.Host.Devnet.DemoSeeder.TradePerpAsync(devnetChain, chain.Protocol, DevAccounts.Traders[0], "ETH", ChainMargin.Host.Devnet.DemoSeeder.Units(10, 18), CancellationToken.None);
        var storage = new[] { "--Storage:Provider=sqlite", $"--Storage:ConnectionString=Data Source={Path.Combine(dir, "cli.db")}", "--Api:Urls=http://127.0.0.1:" + AnvilNode.FreePort() };

        var (code, output, errors) = await RunWithAsync(chainsFile, ["backfill", .. storage]);
        Assert.True(code == 0, errors + output);
        Assert.Contains("backfill: 1 chain(s) at head", output, StringComparison.Ordinal);
        Assert.Contains("blocks/s", output, StringComparison.Ordinal);

        (code, output, errors) = await RunWithAsync(chainsFile, ["at-risk", .. storage]);
        Assert.True(code == 0, errors + output);
        Assert.Contains(DevAccounts.Traders[0].Address.ToLowerInvariant(), output, StringComparison.Ordinal);
        Assert.Contains("1 of 1 account(s) at risk", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Health_MalformedAddress_ExitsTwo()
    {
        var (code, _, errors) = await RunAsync("health", "0xnope");
        Assert.Equal(2, code);
        Assert.Contains("'0xnope' is not an EVM address", errors, StringComparison.Ordinal);
    }
}
