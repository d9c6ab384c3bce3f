using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Numerics;
using System.Text.Json;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Contracts.Reference;
using ChainMargin.Host.Composition;
using ChainMargin.Host.Devnet;
using ChainMargin.Indexing;
using ChainMargin.Risk;
using ChainMargin.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace ChainMargin.EndToEnd.Tests;

/// <summary>
/// The whole path on real parts: three anvil chains with the reference protocol, the service indexing them into a
/// real store, the margin engine, the flagging paths and the API. Collateral sits on chain A, a perp on chain B.
/// </summary>
public abstract class CrossChainScenario : IAsyncLifetime
{
    private readonly List<AnvilProtocolFixture> _chains = [];
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cm-e2e-" + Guid.NewGuid().ToString("N"));
    private PostgresDatabase? _postgres;

    protected abstract ulong FirstChainId { get; }

    protected abstract bool UsePostgres { get; }

    protected abstract bool FastPath { get; }

    /// <summary>More command-line settings for the service (a fixture's own).</summary>
    protected virtual IEnumerable<string> ExtraArgs => [];

    public WebApplication App { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public IReadOnlyList<AnvilProtocolFixture> Chains => _chains;

    public static DevAccount Trader => DevAccounts.Traders[0];

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        var starts = Enumerable.Range(0, 3).Select(i => AnvilProtocolFixture.StartAsync(FirstChainId + (ulong)i)).ToArray();
        _chains.AddRange(await Task.WhenAll(starts));

        var chains = _chains.Select((c, i) => new DevnetChain("chain" + i, c.ChainId, c.Node.Port)).ToArray();
        await File.WriteAllTextAsync(Path.Combine(_dir, "chains.json"), Devnet.ChainsJson(chains, _chains.Select(c => c.Protocol).ToArray()));

        // Collateral on chain A (4 WETH), a perp on chain B (long 10 ETH): one account, two chains.
        await DemoSeeder.DepositAsync(chains[0], _chains[0].Protocol, Trader, "WETH", DemoSeeder.Units(4, 18), CancellationToken.None);
        await DemoSeeder.TradePerpAsync(chains[1], _chains[1].Protocol, Trader, "ETH", DemoSeeder.Units(10, 18), CancellationToken.None);

        string storage;
        if (UsePostgres)
        {
            _postgres = await PostgresDatabase.CreateAsync("cm_e2e");
            storage = _postgres.ConnectionString;
        }
        else
        {
            storage = "Data Source=" + Path.Combine(_dir, "chainmargin.db");
        }

        var port = AnvilNode.FreePort();
        App = AppFactory.Build(
        [
            $"--Api:Urls=http://127.0.0.1:{port}",
            $"--Storage:Provider={(UsePostgres ? "postgres" : "sqlite")}",
            $"--Storage:ConnectionString={storage}",
            $"--Margin:FastPath={FastPath}",
            "--Margin:SweepCron=0 0 1 1 *",
            .. ExtraArgs,
        ], Path.Combine(_dir, "chains.json"));
        await App.StartAsync();
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        await WaitAsync(() => Task.FromResult(CaughtUp()), "the three chains to be indexed");
    }

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        if (App is not null)
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }

        foreach (var chain in _chains)
        {
            await chain.DisposeAsync();
        }

        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }

        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    protected bool CaughtUp()
    {
        var statuses = App.Services.GetRequiredService<ChainStatusRegistry>().All;
        return statuses.Count == 3 && statuses.All(s => s.LagBlocks == 0);
    }

    protected async Task<JsonElement> HealthAsync()
    {
        var response = await Http.GetAsync($"/v1/accounts/{Trader.Address}/health");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    protected async Task<string?> CurrentStateAsync()
    {
        var state = await Http.GetFromJsonAsync<JsonElement>($"/v1/accounts/{Trader.Address}/state");
        return state.GetProperty("current").ValueKind == JsonValueKind.Null ? null : state.GetProperty("current").GetProperty("state").GetString();
    }

    protected async Task DropEthPriceOnChainAAsync(decimal usd)
    {
        var a = _chains[0];
        var owner = await DevnetSender.CreateAsync(a.RpcUrl, DevAccounts.Deployer.PrivateKey, a.ChainId);
        await owner.SendAsync(a.Protocol.SpotFeed("ETH"), new SetAnswerFunction { Answer = ReferenceProtocolDeployer.ToFeedUnits(usd) }, "drop ETH");
        await owner.VerifyAsync();
    }

    /// <summary>Cross-margin health from the config's own numbers: collateral x price x weight over notional x maintenance.</summary>
    protected RiskConfig Risk => App.Services.GetRequiredService<RiskConfig>();

    protected static async Task WaitAsync(Func<Task<bool>> condition, string what, int seconds = 60)
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

    protected static decimal Number(JsonElement element) => element.ValueKind == JsonValueKind.Number
        ? element.GetDecimal()
        : decimal.Parse(element.GetString()!, CultureInfo.InvariantCulture);

    protected static JsonElement Method(JsonElement health, string name) =>
        health.GetProperty("methods").EnumerateArray().Single(m => m.GetProperty("method").GetString() == name);

    protected static BigInteger Wei(long whole) => DemoSeeder.Units(whole, 18);
}
