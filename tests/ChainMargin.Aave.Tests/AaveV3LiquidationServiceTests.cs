using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using ChainMargin.Contracts.Aave;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Core;
using ChainMargin.Host.Aave;
using ChainMargin.Host.Composition;
using ChainMargin.Host.Keeper;
using ChainMargin.Indexing;
using ChainMargin.Liquidation.Flagging;
using ChainMargin.Liquidation.Keeper;
using ChainMargin.Risk;
using ChainMargin.Risk.Aave;
using ChainMargin.Storage.Intents;
using ChainMargin.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Nethereum.Contracts;
using Nethereum.Web3;
using Xunit;
using Xunit.Abstractions;
using IntentStates = ChainMargin.Core.IntentStates;

namespace ChainMargin.Aave.Tests;

/// <summary>
/// The running service on an Aave-only chain with PostgreSQL: a borrower who uses nothing but Aave is flagged by the
/// fast path when WETH falls (Aave's own health below 1), and the keeper liquidates him on-chain with
/// liquidationCall: first refused for want of an allowance (a clear reason, nothing sent), then, once the keeper has
/// approved the Pool, mined, repaying at most the close factor of the debt and seizing WETH.
/// </summary>
[Collection(ServiceTestGroup.Name)]
public sealed class AaveV3LiquidationServiceTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const ulong ChainIdValue = 31_413;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cm-aave-keeper-" + Guid.NewGuid().ToString("N"));
    private AaveTestMarket _m = null!;
    private PostgresDatabase _postgres = null!;
    private WebApplication _app = null!;
    private int _port;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        _m = await AaveTestMarket.StartAsync(ChainIdValue, output);
        _postgres = await PostgresDatabase.CreateAsync("cm_aave_keeper");
        var chains = new JsonObject
        {
            ["Chains"] = new JsonArray(new JsonObject
            {
                ["Name"] = "aave",
                ["ChainId"] = ChainIdValue,
                ["RpcUrls"] = new JsonArray(_m.Node.RpcUrl),
                ["StartBlock"] = 0,
                ["Confirmations"] = 0,
                ["Contracts"] = new JsonObject
                {
                    ["AaveV3"] = new JsonObject
                    {
                        ["Pool"] = _m.Deployment.Pool.Value,
                        ["PoolConfigurator"] = _m.Deployment.PoolConfigurator.Value,
                        ["Oracle"] = _m.Deployment.Oracle.Value,
                        ["StartBlock"] = _m.Deployment.FirstBlock,
                    },
                },
            }),
        };
        var file = Path.Combine(_dir, "chains.json");
        await File.WriteAllTextAsync(file, chains.ToJsonString());
        _port = AnvilNode.FreePort();
        _app = AppFactory.Build(
        [
            $"--Api:Urls=http://127.0.0.1:{_port}",
            "--Storage:Provider=postgres",
            $"--Storage:ConnectionString={_postgres.ConnectionString}",
            "--Margin:FastPath=true",
            "--Margin:SweepCron=0 0 1 1 *",
        ], file);
    }

    public async Task DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _m.DisposeAsync();
        await _postgres.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task PriceDrop_AaveOnlyAccountFlaggedByTheFastPath_AndLiquidatedWithinTheCloseFactor()
    {
        // Dave provides USDC; bob supplies 10 WETH (3,000 USD, threshold 82.5%) and borrows 20,000 USDC: health 1.24.
        await _m.AddUserAsync("dave", ("USDC", 100_000m));
        await _m.AddUserAsync("bob", ("WETH", 10m));
        await _m.SupplyAsync("dave", "USDC", 100_000m);
        await _m.SupplyAsync("bob", "WETH", 10m);
        await _m.BorrowAsync("bob", "USDC", 20_000m);
        var bob = _m.Address("bob");
        var usdc = _m.Reserve("USDC");
        var weth = _m.Reserve("WETH");

        // The keeper holds USDC to repay with, but has not approved the Pool yet.
        var keeperAddress = DevAccounts.Keeper.Address;
        await _m.Admin.SendAsync(usdc.Asset.Value, new MintableErc20MintFunction { Account = keeperAddress, Value = _m.Units("USDC", 50_000m) });

        await _app.StartAsync();
        await _app.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<WatcherHostedService>().Single().Started.Task;
        var margin = _app.Services.GetRequiredService<MarginService>();
        var store = _app.Services.GetRequiredService<IChainStore>();
        var head = await _m.LatestBlockAsync();
        await WaitAsync(async () => (await store.GetCheckpointAsync(new ChainId(ChainIdValue), default))?.Block.Number >= head, "the Aave chain to be indexed");
        await margin.RecomputeAsync(null, "test start", default);
        Assert.Equal(AccountStates.Healthy, (await store.GetCurrentAccountStatesAsync(default)).Single(s => s.Account == bob).State);

        var options = new KeeperOptions { Enabled = true, DryRun = false, MinProfitUsd = 0, ReceiptPollMilliseconds = 20 };
        await using var intents = new PostgresIntentStore(_postgres.ConnectionString, TimeProvider.System);
        var keys = new EnvironmentKeySource(name => name == $"CHAINMARGIN_KEEPER_KEY_{ChainIdValue}" ? DevAccounts.Keeper.PrivateKey : null);
        using var keeper = new KeeperService(options, [], intents, keys, TimeProvider.System, NullLogger<KeeperService>.Instance);
        using var runner = new AaveV3KeeperHostedService(
            Options.Create(options), margin, keeper, _app.Services.GetRequiredService<AaveV3VenueService>(), _app.Services.GetRequiredService<IReadOnlyList<ChainOptions>>(),
            _app.Services.GetRequiredService<RiskConfig>(), _app.Services, NullLogger<AaveV3KeeperHostedService>.Instance);
        await runner.StartAsync(CancellationToken.None);
        try
        {
            // WETH falls to 2,350: bob's Aave health drops to about 0.97 (above 0.95: half his debt may be repaid).
            await _m.SetPriceAsync(weth.Asset, 2_350_0000_0000);
            var dropBlock = await _m.LatestBlockAsync();
            AccountStateRecord? flagged = null;
            await WaitAsync(
                async () => (flagged = (await store.GetCurrentAccountStatesAsync(default)).SingleOrDefault(s => s.Account == bob && s.State == AccountStates.Liquidatable)) is not null,
                "bob to be flagged");
            Assert.StartsWith(string.Create(CultureInfo.InvariantCulture, $"block {dropBlock} on chain {ChainIdValue}"), flagged!.Reason, StringComparison.Ordinal);
            Assert.Contains(AaveV3Portfolio.Venue, flagged.Reason, StringComparison.Ordinal);
            Assert.InRange(flagged.Health!.Value, 0.95m, 0.999999m);

            // The venue read the Aave state once in full, then only what each new checkpoint changed.
            var reads = _app.Services.GetRequiredService<AaveV3VenueService>().Reads;
            Assert.True(reads.Changes > 0 && reads.Full >= 1, $"venue reads: {reads.Full} full, {reads.Changes} of changes");

            // The at-risk list shows the Aave-only account, on the Aave chain.
            using (var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_port}") })
            {
                var atRisk = JsonNode.Parse(await http.GetStringAsync(new Uri($"/v1/at-risk?chain={ChainIdValue}", UriKind.Relative)))!;
                Assert.Contains(atRisk["items"]!.AsArray(), i => string.Equals((string?)i!["account"], bob.Value, StringComparison.OrdinalIgnoreCase) && (string?)i["state"] == AccountStates.Liquidatable);
            }

            // Without an allowance the keeper does not try: the intent is skipped with the reason, nothing is sent.
            LiquidationIntent? refused = null;
            await WaitAsync(async () => (refused = (await intents.ListAsync(ChainIdValue, default)) is [var first, ..] ? first : null) is { State: IntentStates.Skipped }, "the first intent to settle");
            Assert.Equal(KeeperService.AaveV3Protocol, refused!.Key.Protocol);
            Assert.StartsWith("insufficient allowance", refused.Reason, StringComparison.Ordinal);
            Assert.Equal(0, keeper.Broadcasts);

            // The keeper approves the Pool; the next recompute (a sweep) at the new checkpoint liquidates.
            var keeperTx = AaveV3Transactor.NodeSigned(_m.Node.RpcUrl, keeperAddress);
            await keeperTx.SendAsync(usdc.Asset.Value, new Erc20ApproveFunction { Spender = _m.Deployment.Pool.Value, Amount = AaveTestMarket.MaxUint });
            var approved = await _m.LatestBlockAsync();
            await WaitAsync(async () => (await store.GetCheckpointAsync(new ChainId(ChainIdValue), default))!.Block.Number >= approved, "the approval block to be indexed");
            var debtBefore = await BalanceAsync(usdc.VariableDebtToken, bob);
            var collateralBefore = await BalanceAsync(weth.AToken, bob);
            var keeperWethBefore = await BalanceAsync(weth.Asset, EvmAddress.Parse(keeperAddress));
            var swept = await margin.RecomputeShardAsync(0, 1, "sweep shard 0/1", default);
            Assert.Contains(swept, r => r.Account == bob);
            var shards = 4;
            Assert.Contains(await margin.RecomputeShardAsync(MarginService.ShardOf(bob, shards), shards, "sweep", default), r => r.Account == bob);

            LiquidationIntent? mined = null;
            await WaitAsync(
                async () => (mined = (await intents.ListAsync(ChainIdValue, default)).FirstOrDefault(i => i.Id != refused.Id && i.State is IntentStates.Mined or IntentStates.Failed or IntentStates.Skipped)) is not null,
                "the liquidation to be mined");
            Assert.True(mined!.State == IntentStates.Mined, $"{mined.State}: {mined.Reason}");
            Assert.True(BigInteger.Parse(mined.HealthWad!, CultureInfo.InvariantCulture) < AaveV3Math.Wad);

            // On the chain: the LiquidationCall repaid at most half of bob's debt at that block and seized his WETH.
            var receipt = await new Web3(_m.Node.RpcUrl).Eth.Transactions.GetTransactionReceipt.SendRequestAsync(mined.TxHash);
            var call = receipt.DecodeAllEvents<LiquidationCallEvent>().Single().Event;
            var debtAfter = await BalanceAsync(usdc.VariableDebtToken, bob);
            var collateralAfter = await BalanceAsync(weth.AToken, bob);
            var debtAtLiquidation = debtAfter + call.DebtToCover;
            Assert.Equal(bob.Value, call.User, ignoreCase: true);
            Assert.Equal(weth.Asset.Value, call.CollateralAsset, ignoreCase: true);
            Assert.Equal(usdc.Asset.Value, call.DebtAsset, ignoreCase: true);
            Assert.True(call.DebtToCover <= AaveV3Math.PercentMul(debtAtLiquidation, AaveV3LiquidationRules.DefaultCloseFactor), $"repaid {call.DebtToCover} of {debtAtLiquidation}");
            Assert.True(call.DebtToCover * 100 > debtAtLiquidation * 49, $"repaid {call.DebtToCover} of {debtAtLiquidation}: the close factor allows half");
            Assert.True(debtAfter < debtBefore);
            Assert.True(collateralBefore - collateralAfter >= call.LiquidatedCollateralAmount);
            Assert.Equal(keeperWethBefore + call.LiquidatedCollateralAmount, await BalanceAsync(weth.Asset, EvmAddress.Parse(keeperAddress)));
            Assert.False(call.ReceiveAToken);
            output.WriteLine($"liquidated bob: repaid {call.DebtToCover} of {debtAtLiquidation} USDC units, seized {call.LiquidatedCollateralAmount} WETH units; {mined.Reason}");
        }
        finally
        {
            await runner.StopAsync(CancellationToken.None);
        }
    }

    private async Task<BigInteger> BalanceAsync(EvmAddress token, EvmAddress owner) =>
        await new Web3(_m.Node.RpcUrl).Eth.GetContractQueryHandler<Erc20BalanceOfFunction>()
            .QueryAsync<BigInteger>(token.Value, new Erc20BalanceOfFunction { Account = owner.Value });

    private static async Task WaitAsync(Func<Task<bool>> condition, string what, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"waited {seconds} s for {what}");
            await Task.Delay(50);
        }
    }
}

/// <summary>Pool's LiquidationCall event (V3.0.2), to read what the chain executed.</summary>
[Nethereum.ABI.FunctionEncoding.Attributes.Event("LiquidationCall")]
public sealed class LiquidationCallEvent : Nethereum.ABI.FunctionEncoding.Attributes.IEventDTO
{
    [Nethereum.ABI.FunctionEncoding.Attributes.Parameter("address", "collateralAsset", 1, true)]
    public string CollateralAsset { get; set; } = "";

    [Nethereum.ABI.FunctionEncoding.Attributes.Parameter("address", "debtAsset", 2, true)]
    public string DebtAsset { get; set; } = "";

    [Nethereum.ABI.FunctionEncoding.Attributes.Parameter("address", "user", 3, true)]
    public string User { get; set; } = "";

    [Nethereum.ABI.FunctionEncoding.Attributes.Parameter("uint256", "debtToCover", 4, false)]
    public BigInteger DebtToCover { get; set; }

    [Nethereum.ABI.FunctionEncoding.Attributes.Parameter("uint256", "liquidatedCollateralAmount", 5, false)]
    public BigInteger LiquidatedCollateralAmount { get; set; }

    [Nethereum.ABI.FunctionEncoding.Attributes.Parameter("address", "liquidator", 6, false)]
    public string Liquidator { get; set; } = "";

    [Nethereum.ABI.FunctionEncoding.Attributes.Parameter("bool", "receiveAToken", 7, false)]
    public bool ReceiveAToken { get; set; }
}
