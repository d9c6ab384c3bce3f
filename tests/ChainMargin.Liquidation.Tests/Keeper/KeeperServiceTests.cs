using ChainMargin.Contracts.Devnet;
using ChainMargin.Core;
using ChainMargin.Liquidation.Keeper;

namespace ChainMargin.Liquidation.Tests.Keeper;

/// <summary>
/// The keeper against a real anvil chain with the reference protocol and a real PostgreSQL: what is sent, what is
/// not, and that nothing is sent twice. Every test ends by scanning the captured log lines for key material.
/// </summary>
public sealed class KeeperServiceTests(KeeperChainFixture chain) : IClassFixture<KeeperChainFixture>
{
    private static readonly string[] Keys = [DevAccounts.RiskSigner.PrivateKey, DevAccounts.Keeper.PrivateKey, DevAccounts.Traders[5].PrivateKey];

    private readonly CapturingLogger _logs = new();

    private static KeeperOptions Live => new() { DryRun = false, MinProfitUsd = 0, ReceiptPollMilliseconds = 20, FollowTimeoutSeconds = 30 };

    [Fact]
    public async Task ProcessAsync_TwoKeepersOnOneDatabaseAndOneIntent_ExactlyOneTransactionIsSent()
    {
        var trader = DevAccounts.Traders[0];
        await chain.OpenPositionsAsync(trader);
        var candidate = await chain.CandidateAsync(trader);
        var nonceBefore = await chain.NonceAsync(DevAccounts.Keeper.Address);
        var (a, _) = chain.NewKeeper(Live, FixedKeys.Devnet, _logs);
        var (b, _) = chain.NewKeeper(Live, FixedKeys.Devnet, _logs);
        using (a)
        using (b)
        {
            var results = await Task.WhenAll(Task.Run(() => a.ProcessAsync(candidate, default)), Task.Run(() => b.ProcessAsync(candidate, default)));

            Assert.Equal(1, a.Broadcasts + b.Broadcasts);
            Assert.Equal(nonceBefore + 1, await chain.NonceAsync(DevAccounts.Keeper.Address));
            Assert.All(results, r => Assert.Equal(results[0]!.Id, r!.Id));
            // The keeper that sent follows the receipt to mined; the other reports the same intent as it finds it
            // (possibly already mined by then). Exactly one broadcast is asserted above.
            var settled = results.First(r => r!.State == IntentStates.Mined)!;
            Assert.NotNull(settled.MinedBlock);
            Assert.Empty(await chain.OpenMarketsAsync(trader.Address));
            Assert.Equal(0, await chain.VaultBalanceAsync(trader.Address, chain.Protocol.Weth));
        }

        _logs.AssertNoKeyMaterial(Keys);
    }

    [Fact]
    public async Task ProcessAsync_SimulationReverts_IntentFailsWithTheReasonAndNothingIsSent()
    {
        // Attested by a key the Liquidator does not trust: eth_call reverts "bad signature".
        var keys = new FixedKeys(DevAccounts.Traders[5].PrivateKey, DevAccounts.Keeper.PrivateKey);
        var candidate = await chain.CandidateAsync(DevAccounts.Traders[1]);
        var nonceBefore = await chain.NonceAsync(DevAccounts.Keeper.Address);
        var (keeper, _) = chain.NewKeeper(Live, keys, _logs);
        using (keeper)
        {
            var intent = await keeper.ProcessAsync(candidate, default);

            Assert.Equal(IntentStates.Failed, intent!.State);
            Assert.Equal("simulation reverted: bad signature", intent.Reason);
            Assert.Null(intent.RawTx);
            Assert.Equal(0, keeper.Broadcasts);
            Assert.Equal(nonceBefore, await chain.NonceAsync(DevAccounts.Keeper.Address));
        }

        _logs.AssertNoKeyMaterial(Keys);
    }

    [Fact]
    public async Task ProcessAsync_FeeAboveTheChainsCap_NotSentAndAlerted()
    {
        var options = Live;
        options.MaxFeeGwei[KeeperChainFixture.Chain.ToString(System.Globalization.CultureInfo.InvariantCulture)] = 0.000001m;
        var candidate = await chain.CandidateAsync(DevAccounts.Traders[2]);
        var nonceBefore = await chain.NonceAsync(DevAccounts.Keeper.Address);
        var (keeper, _) = chain.NewKeeper(options, FixedKeys.Devnet, _logs);
        var alerts = new ChainMargin.Liquidation.Alerts.AlertLog(TimeProvider.System);
        keeper.Alerts = alerts;
        using (keeper)
        {
            var intent = await keeper.ProcessAsync(candidate, default);

            Assert.Equal((IntentStates.Skipped, "fee above cap"), (intent!.State, intent.Reason));
            var alert = Assert.Single(alerts.Page(true, 1, 10).Items);
            Assert.Equal((ChainMargin.Liquidation.Alerts.AlertKinds.KeeperFeeCap, KeeperChainFixture.Chain), (alert.Kind, alert.Chain!.Value.Value));
            Assert.Equal(0, keeper.Broadcasts);
            Assert.Equal(nonceBefore, await chain.NonceAsync(DevAccounts.Keeper.Address));
            Assert.Contains(_logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("ALERT", StringComparison.Ordinal) && l.Contains("above the cap", StringComparison.Ordinal));
        }

        _logs.AssertNoKeyMaterial(Keys);
    }

    [Fact]
    public async Task ProcessAsync_KilledRightAfterSending_NewInstanceFindsTheTransactionAndDoesNotSendAgain()
    {
        var trader = DevAccounts.Traders[3];
        await chain.OpenPositionsAsync(trader);
        var candidate = await chain.CandidateAsync(trader);
        var nonceBefore = await chain.NonceAsync(DevAccounts.Keeper.Address);
        await chain.Rpc.SetAutomineAsync(false);
        try
        {
            // The first keeper sends; its transaction waits in the pool. It is stopped as soon as "sent" is stored.
            var (first, store) = chain.NewKeeper(Live, FixedKeys.Devnet, _logs);
            using var kill = new CancellationTokenSource();
            var run = Task.Run(() => first.ProcessAsync(candidate, kill.Token));
            var key = new IntentKey(KeeperChainFixture.Chain, KeeperService.Protocol, trader.Address, candidate.Blocks.For(candidate.Chain)!.Value.Number);
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while ((await store.GetAsync(key, default))?.State != IntentStates.Sent)
            {
                Assert.True(DateTime.UtcNow < deadline, "the first keeper did not reach sent");
                await Task.Delay(10);
            }

            await kill.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
            Assert.Equal(1, first.Broadcasts);
            first.Dispose();

            // A new instance over the same store: the intent is taken, and resuming finds the pending transaction.
            var (second, _) = chain.NewKeeper(Live, FixedKeys.Devnet, _logs);
            using (second)
            {
                var again = await second.ProcessAsync(candidate, default);
                Assert.Equal(IntentStates.Sent, again!.State);
                var resume = Task.Run(() => second.ResumeAsync(default));
                await Task.Delay(200);
                await chain.Rpc.MineAsync();
                var settled = Assert.Single(await resume);

                Assert.Equal(IntentStates.Mined, settled.State);
                Assert.Equal(again.TxHash, settled.TxHash);
                Assert.Equal(0, second.Broadcasts);
                Assert.Equal(nonceBefore + 1, await chain.NonceAsync(DevAccounts.Keeper.Address));
                Assert.Empty(await chain.OpenMarketsAsync(trader.Address));
            }
        }
        finally
        {
            await chain.Rpc.SetAutomineAsync(true);
        }

        _logs.AssertNoKeyMaterial(Keys);
    }

    [Fact]
    public async Task ProcessAsync_DryRunByDefault_RecordsTheSignedTransactionAndSendsNothing()
    {
        var candidate = await chain.CandidateAsync(DevAccounts.Traders[4]);
        var nonceBefore = await chain.NonceAsync(DevAccounts.Keeper.Address);
        var (keeper, _) = chain.NewKeeper(new KeeperOptions(), FixedKeys.Devnet, _logs);
        using (keeper)
        {
            var intent = await keeper.ProcessAsync(candidate, default);

            Assert.Equal((IntentStates.Skipped, "dry-run"), (intent!.State, intent.Reason));
            Assert.StartsWith("0x02", intent.RawTx, StringComparison.Ordinal);
            Assert.Equal("930000000000000000", intent.HealthWad);
            Assert.Equal(KeeperService.AttestationNonce(intent.Key).ToString(System.Globalization.CultureInfo.InvariantCulture), intent.AttestationNonce);
            Assert.Equal(0, keeper.Broadcasts);
            Assert.Equal(nonceBefore, await chain.NonceAsync(DevAccounts.Keeper.Address));
        }

        _logs.AssertNoKeyMaterial(Keys);
    }

    [Fact]
    public async Task ProcessAsync_PriceUnsafe_SkippedWithTheReasonAndNothingSigned()
    {
        var candidate = await chain.CandidateAsync(DevAccounts.Traders[5], priceUnsafe: true);
        var (keeper, _) = chain.NewKeeper(Live, FixedKeys.Devnet, _logs);
        using (keeper)
        {
            var intent = await keeper.ProcessAsync(candidate, default);

            Assert.Equal((IntentStates.Skipped, "price-unsafe"), (intent!.State, intent.Reason));
            Assert.Null(intent.RawTx);
            Assert.Equal(0, keeper.Broadcasts);
        }
    }

    [Fact]
    public async Task ProcessAsync_StuckTransaction_ReplacedWithHigherFeesAndOnlyOneMined()
    {
        var trader = DevAccounts.Traders[4];
        await chain.OpenPositionsAsync(trader);
        var candidate = await chain.CandidateAsync(trader);
        var nonceBefore = await chain.NonceAsync(DevAccounts.Keeper.Address);
        var options = Live;
        options.ReplaceAfterSeconds = 1;
        await chain.Rpc.SetAutomineAsync(false);
        try
        {
            var (keeper, store) = chain.NewKeeper(options, FixedKeys.Devnet, _logs);
            using (keeper)
            {
                var run = Task.Run(() => keeper.ProcessAsync(candidate, default));
                var key = new IntentKey(KeeperChainFixture.Chain, KeeperService.Protocol, trader.Address, candidate.Blocks.For(candidate.Chain)!.Value.Number);
                var deadline = DateTime.UtcNow.AddSeconds(20);
                LiquidationIntent? row;
                while ((row = await store.GetAsync(key, default)) is not { ReplacedHashes.Count: > 0 })
                {
                    Assert.True(DateTime.UtcNow < deadline, "no replacement within 20 s");
                    await Task.Delay(20);
                }

                await chain.Rpc.MineAsync();
                var intent = await run;

                Assert.Equal(IntentStates.Mined, intent!.State);
                Assert.True(keeper.Broadcasts >= 2);
                var first = System.Numerics.BigInteger.Parse(row.MaxFeeWei!, System.Globalization.CultureInfo.InvariantCulture);
                Assert.Equal(nonceBefore + 1, await chain.NonceAsync(DevAccounts.Keeper.Address));
                Assert.Contains(row.ReplacedHashes[0], intent.ReplacedHashes);
                Assert.True(System.Numerics.BigInteger.Parse(intent.MaxFeeWei!, System.Globalization.CultureInfo.InvariantCulture) >= first);
            }
        }
        finally
        {
            await chain.Rpc.SetAutomineAsync(true);
        }

        _logs.AssertNoKeyMaterial(Keys);
    }

    [Fact]
    public async Task ProcessAsync_NonceUsedBehindTheKeepersBack_ResyncsAndSends()
    {
        var (keeper, _) = chain.NewKeeper(Live, FixedKeys.Devnet, _logs);
        using (keeper)
        {
            // The keeper learns its nonce on a liquidation of an account with nothing to seize (no other test uses it)...
            var first = await keeper.ProcessAsync(await chain.CandidateAsync(DevAccounts.Deployer, health: 0.5m), default);
            Assert.Equal(IntentStates.Mined, first!.State);

            // ...then the same key sends a transaction elsewhere, so the keeper's next nonce is taken.
            var other = await DevnetSender.CreateAsync(chain.RpcUrl, DevAccounts.Keeper.PrivateKey, KeeperChainFixture.Chain);
            await other.SendAsync(chain.Protocol.Weth, new ChainMargin.Contracts.Erc20.ApproveFunction { Spender = chain.Protocol.Vault, Amount = 1 }, "approve");
            await other.VerifyAsync();

            var trader = DevAccounts.Traders[5];
            await chain.OpenPositionsAsync(trader);
            var second = await keeper.ProcessAsync(await chain.CandidateAsync(trader), default);

            Assert.Equal(IntentStates.Mined, second!.State);
            Assert.Equal(first.TxNonce + 2, second.TxNonce);
            Assert.Empty(await chain.OpenMarketsAsync(trader.Address));
        }

        _logs.AssertNoKeyMaterial(Keys);
    }

    [Fact]
    public async Task ProcessAsync_AttestationPastItsDeadlineOnChain_RejectedByTheSimulationAndNotSent()
    {
        var trader = DevAccounts.Traders[2];
        await chain.OpenPositionsAsync(trader);
        var candidate = await chain.CandidateAsync(trader);
        var nonceBefore = await chain.NonceAsync(DevAccounts.Keeper.Address);

        // The keeper's clock is an hour behind the chain's: the deadline it signs (its now + 120 s) has passed on-chain.
        var (keeper, _) = chain.NewKeeper(Live, FixedKeys.Devnet, _logs, new ShiftedClock(TimeSpan.FromHours(-1)));
        using (keeper)
        {
            var intent = await keeper.ProcessAsync(candidate, default);

            Assert.Equal((IntentStates.Failed, "simulation reverted: expired"), (intent!.State, intent.Reason));
            Assert.Null(intent.RawTx);
            Assert.Equal(0, keeper.Broadcasts);
        }

        Assert.Equal(nonceBefore, await chain.NonceAsync(DevAccounts.Keeper.Address));
        Assert.NotEmpty(await chain.OpenMarketsAsync(trader.Address));
        _logs.AssertNoKeyMaterial(Keys);
    }

    [Fact]
    public async Task Liquidate_TheKeepersMinedAttestationReplayed_RevertsOnChainAndSeizesNothing()
    {
        var trader = DevAccounts.Traders[1];
        await chain.OpenPositionsAsync(trader);
        var (keeper, _) = chain.NewKeeper(Live, FixedKeys.Devnet, _logs);
        LiquidationIntent mined;
        using (keeper)
        {
            mined = (await keeper.ProcessAsync(await chain.CandidateAsync(trader), default))!;
        }

        Assert.Equal(IntentStates.Mined, mined.State);
        Assert.Equal(0, await chain.VaultBalanceAsync(trader.Address, chain.Protocol.Weth));

        // The account holds positions again; the keeper's own attestation and signature, sent again by someone else.
        await chain.OpenPositionsAsync(trader);
        var data = ((Nethereum.Model.Transaction1559)Nethereum.Model.TransactionFactory.CreateTransaction(mined.RawTx!)).Data;
        data = data.StartsWith("0x", StringComparison.Ordinal) ? data : "0x" + data;
        var replayer = DevAccounts.InsuranceFund;
        using var rpc = new KeeperRpc(chain.RpcUrl);
        var simulated = await Assert.ThrowsAsync<RpcErrorException>(() => rpc.EthCallAsync(replayer.Address, chain.Protocol.Liquidator, data, default));
        Assert.Equal("replayed", simulated.RevertReason);

        var web3 = new Nethereum.Web3.Web3(new Nethereum.Web3.Accounts.Account(replayer.PrivateKey, KeeperChainFixture.Chain), chain.RpcUrl);
        var receipt = await web3.Eth.TransactionManager.SendTransactionAndWaitForReceiptAsync(new Nethereum.RPC.Eth.DTOs.TransactionInput(
            data, chain.Protocol.Liquidator, replayer.Address, new Nethereum.Hex.HexTypes.HexBigInteger(600_000), new Nethereum.Hex.HexTypes.HexBigInteger(0)));

        Assert.Equal(0, (int)receipt.Status.Value);
        Assert.Equal(System.Numerics.BigInteger.Pow(10, 18) * 4, await chain.VaultBalanceAsync(trader.Address, chain.Protocol.Weth));
        Assert.NotEmpty(await chain.OpenMarketsAsync(trader.Address));
        _logs.AssertNoKeyMaterial(Keys);
    }

    [Fact]
    public void SigningKey_PrintsItsAddressOnly()
    {
        var key = new SigningKey(DevAccounts.Keeper.PrivateKey);
        Assert.Equal("key of " + DevAccounts.Keeper.Address, key.ToString());
        var bad = Assert.Throws<FormatException>(() => new SigningKey("0x1234zz"));
        Assert.DoesNotContain("1234zz", bad.Message, StringComparison.Ordinal);
    }
}

/// <summary>The system clock moved by a fixed amount (a keeper whose clock disagrees with the chain's).</summary>
internal sealed class ShiftedClock(TimeSpan shift) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + shift;
}
