using System.Numerics;
using ChainMargin.Contracts.Aave;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Core;
using ChainMargin.Host.Keeper;
using ChainMargin.Liquidation.Keeper;
using ChainMargin.Risk.Aave;
using ChainMargin.Storage.Intents;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;
using Xunit.Abstractions;
using IntentStates = ChainMargin.Core.IntentStates;

namespace ChainMargin.Aave.Tests;

/// <summary>
/// The keeper's Aave V3 path against the real Pool on anvil, with the account read from the persisted state: what it
/// refuses to send (an unsafe price, a keeper without the debt token) and the dry run that records the signed
/// liquidationCall without sending it. Nothing reaches the chain in any of them.
/// </summary>
public sealed class AaveV3KeeperTests(ITestOutputHelper output)
{
    [Fact]
    public async Task ProcessAaveV3Async_UnsafePriceNoDebtTokenAndDryRun_SendNothing()
    {
        await using var m = await AaveTestMarket.StartAsync(31_414, output);
        await using var rig = await AaveStoreRig.StartAsync(m);
        await m.AddUserAsync("dave", ("USDC", 100_000m));
        await m.AddUserAsync("bob", ("WETH", 10m));
        await m.SupplyAsync("dave", "USDC", 100_000m);
        await m.SupplyAsync("bob", "WETH", 10m);
        await m.BorrowAsync("bob", "USDC", 20_000m);
        await m.SetPriceAsync(m.Reserve("WETH").Asset, 2_000_0000_0000);
        var bob = m.Address("bob");
        var chain = new ChainId(m.Node.ChainId);

        await using var intents = new PostgresIntentStore(rig.ConnectionString, TimeProvider.System);
        var keeperKey = DevChain.KeyFor("empty-keeper");
        var options = new KeeperOptions { Enabled = true, DryRun = true, MinProfitUsd = 0 };
        using var keeper = new KeeperService(
            options, [], intents, new EnvironmentKeySource(_ => keeperKey), TimeProvider.System, NullLogger<KeeperService>.Instance);
        keeper.AddAaveV3Chain(new AaveV3KeeperChain(chain.Value, m.Node.RpcUrl, m.Deployment.Pool));

        async Task<LiquidationIntent> ProcessAsync(string step, string? priceUnsafe)
        {
            var state = await rig.AssertStoreMatchesPoolAsync(step);
            var target = new AaveV3LiquidationTarget(
                bob, chain, state.Checkpoint!.Value, AaveV3StoredInputs.Market(state), AaveV3StoredInputs.Users(state).Single(u => u.User == bob), priceUnsafe, 2_000m);
            Assert.True(AaveV3AccountCalculator.Calculate(target.Market, target.Account).Data!.IsLiquidatable);
            return (await keeper.ProcessAaveV3Async(target, CancellationToken.None))!;
        }

        // An unsafe price pauses the liquidation before anything else.
        var paused = await ProcessAsync("WETH at 2,000", "ETH feed stale");
        Assert.Equal(IntentStates.Skipped, paused.State);
        Assert.Equal("price-unsafe: ETH feed stale", paused.Reason);

        // A keeper without USDC cannot repay: skipped, with what it has and what it would need.
        await m.Chain.FundAsync(DevChain.AddressOf(keeperKey), BigInteger.Pow(10, 20));
        await m.JumpAsync(1);
        var poor = await ProcessAsync("keeper funded with gas only", null);
        Assert.Equal(IntentStates.Skipped, poor.State);
        Assert.StartsWith("insufficient debt token: the keeper holds 0 of " + m.Reserve("USDC").Asset.Value, poor.Reason, StringComparison.Ordinal);

        // With USDC and the allowance, the dry run signs the liquidationCall and keeps it in the intent, unsent.
        var keeperAddress = DevChain.AddressOf(keeperKey);
        await m.Admin.SendAsync(m.Reserve("USDC").Asset.Value, new MintableErc20MintFunction { Account = keeperAddress, Value = m.Units("USDC", 50_000m) });
        await m.Chain.ImpersonateAsync(keeperAddress);
        await AaveV3Transactor.NodeSigned(m.Node.RpcUrl, keeperAddress)
            .SendAsync(m.Reserve("USDC").Asset.Value, new Erc20ApproveFunction { Spender = m.Deployment.Pool.Value, Amount = AaveTestMarket.MaxUint });
        var debtBefore = (await rig.AssertStoreMatchesPoolAsync("keeper approved")).Balances.Single(b => b.User == bob && b.ScaledVariableDebt > 0);
        var dry = await ProcessAsync("dry run", null);
        Assert.Equal(IntentStates.Skipped, dry.State);
        Assert.Equal("dry-run", dry.Reason);
        Assert.NotNull(dry.RawTx);
        Assert.False(string.IsNullOrEmpty(dry.TxHash));
        Assert.Equal(0, keeper.Broadcasts);

        // Nothing was sent: the next state still has bob's whole debt.
        var after = await rig.AssertStoreMatchesPoolAsync("after the dry run");
        Assert.Equal(debtBefore.ScaledVariableDebt, after.Balances.Single(b => b.User == bob && b.ReserveId == debtBefore.ReserveId).ScaledVariableDebt);
        Assert.Equal(3, (await intents.ListAsync(chain.Value, CancellationToken.None)).Count);
    }
}
