using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChainMargin.Contracts.Aave;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Core;
using ChainMargin.Host.Aave;
using ChainMargin.Host.Composition;
using ChainMargin.Host.Devnet;
using ChainMargin.Indexing;
using ChainMargin.Indexing.Rpc;
using ChainMargin.Risk;
using ChainMargin.Risk.Aave;
using ChainMargin.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using Xunit.Abstractions;

namespace ChainMargin.Aave.Tests;

/// <summary>
/// The running service with Aave V3 configured on one chain and the reference protocol used on another: a trader
/// supplies WETH and borrows USDC on Aave, then opens an ETH perp on the other chain. The health API shows Aave's own
/// health (equal to Pool.getUserAccountData) beside the cross-chain health, which the perp lowers while Aave's stays.
/// </summary>
[Collection(ServiceTestGroup.Name)]
public sealed class ServiceJoinTests(ITestOutputHelper output) : IAsyncLifetime, IDisposable
{
    private const ulong PerpChainId = 31_471;
    private const ulong AaveChainId = 31_472;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cm-aave-join-" + Guid.NewGuid().ToString("N"));
    private AnvilProtocolFixture _perpChain = null!;
    private AnvilProtocolFixture _aaveChain = null!;
    private AaveDeployment _aave = null!;
    private WebApplication? _app;
    private HttpClient? _http;

    private static DevAccount Trader => DevAccounts.Traders[0];

    private static DevAccount Lender => DevAccounts.Traders[1];

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        var started = await AnvilProtocolFixture.StartAllAsync(PerpChainId, AaveChainId);
        (_perpChain, _aaveChain) = (started[0], started[1]);
        _aave = await AaveV3Deployer.DeployAsync(_aaveChain.RpcUrl, _aaveChain.ChainId, AnvilNode.DeployerKey);
    }

    public void Dispose() => _http?.Dispose();

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        await _perpChain.DisposeAsync();
        await _aaveChain.DisposeAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task HealthApi_ShowsAaveVenueHealth_BesideTheCrossChainHealth()
    {
        // Aave: the lender provides USDC liquidity; the trader supplies 10 WETH (3,000 USD each) and borrows 15,000 USDC.
        var admin = AaveV3Transactor.NodeSigned(_aaveChain.RpcUrl, DevChain.AddressOf(AnvilNode.DeployerKey));
        await SupplyAsync(admin, Lender, "USDC", 100_000m);
        await SupplyAsync(admin, Trader, "WETH", 10m);
        var trader = AaveV3Transactor.NodeSigned(_aaveChain.RpcUrl, Trader.Address);
        var usdc = _aave.Reserve("USDC")!;
        await trader.SendAsync(_aave.Pool.Value, new PoolBorrowFunction
        {
            Asset = usdc.Asset.Value, Amount = Raw(15_000m, usdc.Decimals), InterestRateMode = 2, OnBehalfOf = Trader.Address,
        });

        await StartServiceAsync();
        var user = EvmAddress.Parse(Trader.Address);
        var aaveHead = await HeadAsync(_aaveChain.RpcUrl);
        var service = _app!.Services.GetRequiredService<AaveV3VenueService>();
        await WaitAsync(() => service.Views.TryGetValue(AaveChainId, out var v) && v.Block.Number == aaveHead && CaughtUp(), "Aave read at the head and both chains indexed");

        var before = await HealthAsync();
        var venue = Assert.Single(before.GetProperty("venues").EnumerateArray());
        Assert.Equal(AaveV3Portfolio.Venue, venue.GetProperty("venue").GetString());
        Assert.Equal(aaveHead, venue.GetProperty("asOf").GetProperty("number").GetInt64());

        // The venue's health is the Pool's own answer at that block, as a decimal of the wad.
        using var rpc = new JsonRpcClient([_aaveChain.RpcUrl]);
        var onChain = (await new ChainMargin.Indexing.Aave.AaveV3MarketReader(rpc, _aave.Pool, _aave.Oracle)
            .ReadAccountDataAsync([user], aaveHead, CancellationToken.None))[0];
        var poolHealth = Units.ToReported(Units.ToDouble(onChain.HealthFactor, 18), 6);
        Assert.Equal(poolHealth, Number(venue.GetProperty("health")));
        var detail = venue.GetProperty("detail").GetString()!;
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"totalCollateralBase {onChain.TotalCollateralBase} "), detail, StringComparison.Ordinal);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"availableBorrowsBase {onChain.AvailableBorrowsBase} "), detail, StringComparison.Ordinal);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"healthFactor {onChain.HealthFactor};"), detail, StringComparison.Ordinal);

        // The Aave supply and borrow are in the cross-chain portfolio (WETH collateral, USDC debt on the Aave chain).
        var crossBefore = Method(before, MarginMethods.Cross);
        var positions = crossBefore.GetProperty("positions").EnumerateArray().ToList();
        Assert.Contains(positions, p => p.GetProperty("venue").GetString() == AaveV3Portfolio.Venue && p.GetProperty("kind").GetString() == "debt");
        Assert.Contains(positions, p => p.GetProperty("venue").GetString() == AaveV3Portfolio.Venue && p.GetProperty("kind").GetString() != "debt");
        var healthBefore = Number(crossBefore.GetProperty("health"));

        // A long perp on the other chain adds a requirement that Aave does not see.
        var perpChain = new DevnetChain("perp", _perpChain.ChainId, _perpChain.Node.Port);
        await DemoSeeder.TradePerpAsync(perpChain, _perpChain.Protocol, Trader, "ETH", DemoSeeder.Units(10, 18), CancellationToken.None);
        var perpHead = await HeadAsync(_perpChain.RpcUrl);
        await WaitAsync(() => CaughtUp() && Indexed(PerpChainId) >= perpHead, "the perp to be indexed");

        var after = await HealthAsync();
        var venueAfter = Assert.Single(after.GetProperty("venues").EnumerateArray());
        Assert.Equal(poolHealth, Number(venueAfter.GetProperty("health")));
        var crossAfter = Method(after, MarginMethods.Cross);
        var healthAfter = Number(crossAfter.GetProperty("health"));
        var chains = crossAfter.GetProperty("chains").EnumerateArray().Select(c => c.GetProperty("chain").ToString()).ToList();
        Assert.Contains(AaveChainId.ToString(CultureInfo.InvariantCulture), chains);
        Assert.Contains(PerpChainId.ToString(CultureInfo.InvariantCulture), chains);
        Assert.True(healthAfter < healthBefore, $"the perp should lower the cross-chain health: {healthBefore} -> {healthAfter}");
        Assert.NotEqual(poolHealth, healthAfter);

        // The flagging path (fast path on the perp's block) sees the Aave collateral too: not liquidatable.
        await WaitAsync(() => CurrentStateAsync().GetAwaiter().GetResult() is not null, "the account's state to be recorded");
        Assert.Equal("healthy", await CurrentStateAsync());
        output.WriteLine($"Aave health {poolHealth} (Pool: {onChain.HealthFactor}); cross-chain health {healthBefore} before the perp, {healthAfter} after");
    }

    private async Task SupplyAsync(AaveV3Transactor admin, DevAccount account, string symbol, decimal amount)
    {
        var reserve = _aave.Reserve(symbol)!;
        var raw = Raw(amount, reserve.Decimals);
        var tx = AaveV3Transactor.NodeSigned(_aaveChain.RpcUrl, account.Address);
        await admin.SendAsync(reserve.Asset.Value, new MintableErc20MintFunction { Account = account.Address, Value = raw });
        await tx.SendAsync(reserve.Asset.Value, new Erc20ApproveFunction { Spender = _aave.Pool.Value, Amount = raw });
        await tx.SendAsync(_aave.Pool.Value, new PoolSupplyFunction { Asset = reserve.Asset.Value, Amount = raw, OnBehalfOf = account.Address });
    }

    private async Task StartServiceAsync()
    {
        var chains = new[]
        {
            new DevnetChain("perp", _perpChain.ChainId, _perpChain.Node.Port),
            new DevnetChain("aave", _aaveChain.ChainId, _aaveChain.Node.Port),
        };
        var json = JsonNode.Parse(Devnet.ChainsJson(chains, [_perpChain.Protocol, _aaveChain.Protocol]))!;
        var array = json is JsonArray a ? a : json["Chains"]!.AsArray();
        array[1]!["Contracts"]!["AaveV3"] = new JsonObject
        {
            ["Pool"] = _aave.Pool.Value,
            ["PoolConfigurator"] = _aave.PoolConfigurator.Value,
            ["Oracle"] = _aave.Oracle.Value,
            ["StartBlock"] = _aave.FirstBlock,
        };
        var file = Path.Combine(_dir, "chains.json");
        await File.WriteAllTextAsync(file, json.ToJsonString());

        var port = AnvilNode.FreePort();
        _app = AppFactory.Build(
        [
            $"--Api:Urls=http://127.0.0.1:{port}",
            "--Storage:Provider=sqlite",
            $"--Storage:ConnectionString=Data Source={Path.Combine(_dir, "chainmargin.db")}",
            "--Margin:FastPath=true",
            "--Margin:SweepCron=0 0 1 1 *",
        ], file);
        await _app.StartAsync();
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
    }

    private bool CaughtUp()
    {
        var statuses = _app!.Services.GetRequiredService<ChainStatusRegistry>().All;
        return statuses.Count == 2 && statuses.All(s => s.LagBlocks == 0);
    }

    private long Indexed(ulong chain) =>
        _app!.Services.GetRequiredService<ChainStatusRegistry>().All.Single(s => s.Chain.Value == chain).Indexed?.Number ?? -1;

    private async Task<JsonElement> HealthAsync()
    {
        var response = await _http!.GetAsync(new Uri($"/v1/accounts/{Trader.Address}/health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private async Task<string?> CurrentStateAsync()
    {
        var state = await _http!.GetFromJsonAsync<JsonElement>(new Uri($"/v1/accounts/{Trader.Address}/state", UriKind.Relative));
        var current = state.GetProperty("current");
        return current.ValueKind == JsonValueKind.Null ? null : current.GetProperty("state").GetString();
    }

    private static async Task<long> HeadAsync(string rpcUrl)
    {
        using var rpc = new JsonRpcClient([rpcUrl]);
        var head = await rpc.CallAsync("eth_blockNumber", [], CancellationToken.None);
        return long.Parse(head.GetString()![2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }

    private static async Task WaitAsync(Func<bool> condition, string what, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"waited {seconds} s for {what}");
            }

            await Task.Delay(100);
        }
    }

    private static BigInteger Raw(decimal amount, int decimals) => new(decimal.Truncate(amount * (decimal)Math.Pow(10, Math.Min(decimals, 18))));

    private static decimal Number(JsonElement element) => element.ValueKind == JsonValueKind.Number
        ? element.GetDecimal()
        : decimal.Parse(element.GetString()!, CultureInfo.InvariantCulture);

    private static JsonElement Method(JsonElement health, string name) =>
        health.GetProperty("methods").EnumerateArray().Single(m => m.GetProperty("method").GetString() == name);
}
