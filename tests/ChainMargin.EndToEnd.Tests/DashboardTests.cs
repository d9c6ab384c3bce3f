using System.Diagnostics;
using ChainMargin.Contracts.Devnet;

namespace ChainMargin.EndToEnd.Tests;

/// <summary>The dashboard in real headless Chromium (Debian's chromium, driven by playwright-core from Node).</summary>
public sealed class DashboardTests : IClassFixture<ApiFixture>
{
    private readonly ApiFixture _app;

    public DashboardTests(ApiFixture app) => _app = app;

    [Fact]
    public async Task Dashboard_LoadsLiveData_AndWhatIfShockChangesHealth()
    {
        var script = RepositoryPaths.FindUp(Path.Combine("tests", "browser", "dashboard.mjs"))
            ?? throw new FileNotFoundException("tests/browser/dashboard.mjs not found");
        var browserDir = Path.GetDirectoryName(script)!;
        Assert.True(Directory.Exists(Path.Combine(browserDir, "node_modules", "playwright-core")),
            "run 'npm ci' in tests/browser (scripts/test.sh does)");
        Assert.True(File.Exists(Environment.GetEnvironmentVariable("CHROMIUM_PATH") ?? "/usr/bin/chromium"),
            "Debian's chromium is needed (apt-get install chromium; scripts/test.sh does)");

        var info = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = browserDir,
        };
        info.ArgumentList.Add(script);
        info.ArgumentList.Add(_app.Http.BaseAddress!.ToString().TrimEnd('/'));
        info.ArgumentList.Add(ApiFixture.Trader.Address);
        using var node = Process.Start(info)!;
        var output = node.StandardOutput.ReadToEndAsync();
        var errors = node.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await node.WaitForExitAsync(timeout.Token);
        Assert.True(node.ExitCode == 0, $"dashboard check failed ({node.ExitCode}): {await errors}{await output}");
        Assert.Contains("\"methods\"", await output, StringComparison.Ordinal);
    }
}
