using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using ChainMargin.Contracts.Devnet;

namespace ChainMargin.EndToEnd.Tests;

/// <summary>The dashboard in real headless Chromium (Debian's chromium, driven by playwright-core from Node).</summary>
public sealed class DashboardTests : IClassFixture<ApiFixture>
{
    private readonly ApiFixture _app;

    public DashboardTests(ApiFixture app) => _app = app;

    [Fact]
    public async Task Dashboard_LoadsLiveData_WhatIfShockChangesHealth_AndChartGainsPointsWhenPricesMove()
    {
        var output = await RunScriptAsync(minChartPoints: null);
        Assert.Contains("\"methods\"", output, StringComparison.Ordinal);

        // ETH 10% lower on chain A: the account stays healthy (no state change, so the state history alone would
        // still be one point), but its health moves by more than the sampling step, so the chart gains a sample.
        var history = $"/v1/accounts/{ApiFixture.Trader.Address}/health/history";
        await WaitAsync(async () => await SamplesAsync(history) >= 1, "the first health sample");
        var before = await SamplesAsync(history);
        var states = await StatesAsync();
        await _app.DropEthPriceAsync(2700m);
        await WaitAsync(async () => await SamplesAsync(history) > before, "a health sample after the price move");
        Assert.Equal(states, await StatesAsync());

        var chart = await RunScriptAsync(minChartPoints: states + 1);
        Assert.Contains("\"chartPoints\"", chart, StringComparison.Ordinal);
    }

    private async Task<int> StatesAsync() =>
        (await _app.Http.GetFromJsonAsync<JsonElement>($"/v1/accounts/{ApiFixture.Trader.Address}/state")).GetProperty("history").GetArrayLength();

    private async Task<int> SamplesAsync(string url) =>
        (await _app.Http.GetFromJsonAsync<JsonElement>(url)).GetProperty("samples").GetArrayLength();

    private async Task<string> RunScriptAsync(int? minChartPoints)
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
        if (minChartPoints is { } n)
        {
            info.Environment["MIN_CHART_POINTS"] = n.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        using var node = Process.Start(info)!;
        var output = node.StandardOutput.ReadToEndAsync();
        var errors = node.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await node.WaitForExitAsync(timeout.Token);
        Assert.True(node.ExitCode == 0, $"dashboard check failed ({node.ExitCode}): {await errors}{await output}");
        return await output;
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, string what, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"waited {seconds} s for {what}");
            }

            await Task.Delay(100);
        }
    }
}
