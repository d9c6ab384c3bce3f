using System.Numerics;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Contracts.Reference;
using ChainMargin.Core;
using ChainMargin.Host.Composition;
using ChainMargin.Host.Devnet;
using ChainMargin.Host.Keeper;
using ChainMargin.Indexing;
using ChainMargin.Liquidation.Flagging;
using ChainMargin.Liquidation.Keeper;
using ChainMargin.Storage.Intents;
using ChainMargin.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChainMargin.Liquidation.Tests.Keeper;

/// <summary>
/// The whole path on real parts: the service indexes an anvil chain into PostgreSQL, a price crash makes the fast path
/// flag the account, and the keeper (reacting to the recompute) attests and liquidates it on-chain; the account's state
/// history shows liquidatable, liquidating (the intent sent), resolved (mined and indexed), then margin's state again.
/// </summary>
public sealed class KeeperPipelineTests : IAsyncLifetime
{
    private const ulong ChainIdValue = 7321;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cm-keeper-" + Guid.NewGuid().ToString("N"));
    private readonly CapturingLogger _logs = new();
    private AnvilProtocolFixture _anvil = null!;
    private PostgresDatabase _postgres = null!;
    private WebApplication _app = null!;

    private static DevAccount Trader => DevAccounts.Traders[0];

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        _anvil = await AnvilProtocolFixture.StartAsync(ChainIdValue);
        var devnet = new DevnetChain("k", ChainIdValue, _anvil.Node.Port);
        await File.WriteAllTextAsync(Path.Combine(_dir, "chains.json"), Devnet.ChainsJson([devnet], [_anvil.Protocol]));

        // 3 WETH against long 10 ETH-PERP at 3000: healthy now, under water after a 20% drop.
        await DemoSeeder.DepositAsync(devnet, _anvil.Protocol, Trader, "WETH", DemoSeeder.Units(3, 18), CancellationToken.None);
        await DemoSeeder.TradePerpAsync(devnet, _anvil.Protocol, Trader, "ETH", DemoSeeder.Units(10, 18), CancellationToken.None);

        _postgres = await PostgresDatabase.CreateAsync("cm_keeper_e2e");
        _app = AppFactory.Build(
        [
            $"--Api:Urls=http://127.0.0.1:{AnvilNode.FreePort()}",
            "--Storage:Provider=postgres",
            $"--Storage:ConnectionString={_postgres.ConnectionString}",
            "--Margin:FastPath=true",
            "--Margin:SweepCron=0 0 1 1 *",
        ], Path.Combine(_dir, "chains.json"), logging: b => b.AddProvider(_logs.Provider));
        await _app.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _anvil.DisposeAsync();
        await _postgres.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task PriceCrash_AccountFlaggedAttestedAndLiquidatedOnChain()
    {
        var margin = _app.Services.GetRequiredService<MarginService>();
        var account = EvmAddress.Parse(Trader.Address);
        await WaitAsync(() => Task.FromResult(_app.Services.GetRequiredService<ChainStatusRegistry>().All.All(s => s.LagBlocks == 0) && margin.Latest(account) is not null), "indexing");
        var before = margin.Latest(account)!;
        Assert.True(margin.Classify(before) != AccountStates.Liquidatable, $"{before.HeadlineMethod} {before.Headline.StatusName} health {before.Headline.Health} equity {before.Headline.Equity} maintenance {before.Headline.Maintenance}");

        var protocol = _anvil.Protocol;
        var web3 = new Nethereum.Web3.Web3(_anvil.RpcUrl);
        async Task<BigInteger> Weth(string owner) => await web3.Eth.GetContractQueryHandler<Contracts.Erc20.BalanceOfFunction>()
            .QueryAsync<BigInteger>(protocol.Weth, new Contracts.Erc20.BalanceOfFunction { Account = owner });
        var keeperBefore = await Weth(DevAccounts.Keeper.Address);
        var insuranceBefore = await Weth(protocol.InsuranceFund);

        // The keeper as the Host runs it, with the test's keys: it reacts to the margin service's recomputes.
        var options = new KeeperOptions { Enabled = true, DryRun = false, MinProfitUsd = 0, ReceiptPollMilliseconds = 20 };
        await using var intents = new PostgresIntentStore(_postgres.ConnectionString, TimeProvider.System);
        using var keeper = new KeeperService(
            options, [new KeeperChain(ChainIdValue, _anvil.RpcUrl, protocol.Liquidator)], intents, FixedKeys.Devnet, TimeProvider.System, _logs.For<KeeperService>());
        using var runner = new KeeperHostedService(Options.Create(options), margin, keeper, _app.Services, _logs.For<KeeperHostedService>());
        await runner.StartAsync(CancellationToken.None);
        try
        {
            var owner = await DevnetSender.CreateAsync(_anvil.RpcUrl, DevAccounts.Deployer.PrivateKey, ChainIdValue);
            await owner.SendAsync(protocol.SpotFeed("ETH"), new SetAnswerFunction { Answer = ReferenceProtocolDeployer.ToFeedUnits(2400m) }, "drop ETH 20%");
            await owner.VerifyAsync();

            LiquidationIntent? mined = null;
            await WaitAsync(
                async () => (mined = (await intents.ListAsync(ChainIdValue, default)).FirstOrDefault(i => i.State is IntentStates.Mined or IntentStates.Failed or IntentStates.Skipped)) is not null,
                "the liquidation to be mined");

            Assert.Equal(IntentStates.Mined, mined!.State);
            Assert.Equal(Trader.Address, mined.Key.Account);
            Assert.True(BigInteger.Parse(mined.HealthWad!, System.Globalization.CultureInfo.InvariantCulture) < AttestationSigner.Wad);

            // The liquidation's block is indexed (the account's positions closed): resolved. The next block that moves
            // a price recomputes it again, and margin decides (no positions: healthy).
            await WaitAsync(() => Task.FromResult(margin.StateOf(account) == AccountStates.Resolved), "the account to be resolved");
            await owner.SendAsync(protocol.SpotFeed("ETH"), new SetAnswerFunction { Answer = ReferenceProtocolDeployer.ToFeedUnits(2450m) }, "move ETH");
            await owner.VerifyAsync();
            await WaitAsync(() => Task.FromResult(margin.StateOf(account) == AccountStates.Healthy), "the account to follow margin again");

            var history = await _app.Services.GetRequiredService<IChainStore>().GetAccountStateHistoryAsync(account, default);
            var tail = history.SkipWhile(h => h.State != AccountStates.Liquidatable).ToArray();
            Assert.Equal([AccountStates.Liquidatable, AccountStates.Liquidating, AccountStates.Resolved, AccountStates.Healthy], tail.Select(h => h.State));
            var (flagged, liquidating, resolved) = (tail[0], tail[1], tail[2]);
            Assert.True(flagged.Health < 1m);
            Assert.Equal($"intent {mined.Id}: liquidation sent on chain {ChainIdValue} in transaction {mined.TxHash}", liquidating.Reason);
            Assert.StartsWith($"intent {mined.Id} mined in block {mined.MinedBlock}", resolved.Reason, StringComparison.Ordinal);
            // Resolved at a block vector that includes the liquidation's block.
            var resolvedAt = long.Parse(resolved.BlockVector.Split(';').Single(b => b.StartsWith($"{ChainIdValue}:", StringComparison.Ordinal)).Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(resolvedAt >= mined.MinedBlock, $"resolved at block {resolvedAt}, mined in {mined.MinedBlock}");
        }
        finally
        {
            await runner.StopAsync(CancellationToken.None);
        }

        // On the chain: the perp is closed, the 3 WETH are seized, bonusBps of them to the keeper and the rest to insurance.
        var seized = DemoSeeder.Units(3, 18);
        var bonus = seized * protocol.BonusBps / 10_000;
        Assert.Equal(keeperBefore + bonus, await Weth(DevAccounts.Keeper.Address));
        Assert.Equal(insuranceBefore + seized - bonus, await Weth(protocol.InsuranceFund));
        Assert.Equal(BigInteger.Zero, await web3.Eth.GetContractQueryHandler<VaultBalanceOfFunction>()
            .QueryAsync<BigInteger>(protocol.Vault, new VaultBalanceOfFunction { Account = Trader.Address, Token = protocol.Weth }));
        Assert.Empty(await web3.Eth.GetContractQueryHandler<OpenMarketsFunction>()
            .QueryAsync<List<BigInteger>>(protocol.PerpMarket, new OpenMarketsFunction { Account = Trader.Address }));
        Assert.Equal(1, runner.Started);
        // Every line the service logged in the run (watcher, margin service, Hangfire, keeper): no key material.
        Assert.Contains(_logs.Lines, l => l.Contains("ChainMargin.Liquidation.Flagging.MarginService", StringComparison.Ordinal));
        _logs.AssertNoKeyMaterial(DevAccounts.RiskSigner.PrivateKey, DevAccounts.Keeper.PrivateKey);
    }

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
