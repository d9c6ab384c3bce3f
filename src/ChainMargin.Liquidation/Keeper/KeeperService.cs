using System.Collections.Concurrent;
using System.Globalization;
using System.Numerics;
using System.Text;
using ChainMargin.Contracts.Reference;
using ChainMargin.Core;
using ChainMargin.Liquidation.Alerts;
using Microsoft.Extensions.Logging;
using Nethereum.Contracts;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Model;
using Nethereum.Signer;
using Nethereum.Util;

namespace ChainMargin.Liquidation.Keeper;

/// <summary>A chain the keeper liquidates on: its RPC endpoint and the reference protocol's Liquidator.</summary>
public sealed record KeeperChain(ulong ChainId, string RpcUrl, string Liquidator);

/// <summary>
/// Turns a liquidatable account into at most one liquidation per (chain, protocol, account, trigger block): claims
/// the intent, attests the health with the risk signer's EIP-712 signature, simulates <c>liquidate</c> with eth_call,
/// checks the fee cap and the profit, signs an EIP-1559 transaction and stores it (raw and hash) before sending it,
/// then follows it to a receipt, replacing it with higher fees when it is stuck. Every step is an intent transition
/// guarded by the expected state, so two keepers on one database never both proceed with one intent, and a restarted
/// keeper finds what it signed on the chain instead of sending again.
/// </summary>
public sealed partial class KeeperService : IDisposable
{
    public const string Protocol = "reference";

    /// <summary>The reason a dry run's signed intent is skipped with (its signed transaction is what would be sent).</summary>
    public const string DryRunReason = "dry-run";

    private static readonly BigInteger Gwei = 1_000_000_000;
    private static readonly Transaction1559Signer TxSigner = new();

    private readonly KeeperOptions _options;
    private readonly ILiquidationIntentStore _store;
    private readonly IKeeperKeySource _keys;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly Dictionary<ulong, KeeperChain> _chains;
    private readonly ConcurrentDictionary<ulong, ChainContext> _contexts = new();

    /// <summary>Optional: where fee-cap alerts go (raised while a chain's fee is above its cap, cleared when a send fits).</summary>
    public AlertLog? Alerts { get; set; }

    public KeeperService(
        KeeperOptions options, IEnumerable<KeeperChain> chains, ILiquidationIntentStore store, IKeeperKeySource keys, TimeProvider time,
        ILogger<KeeperService> log, string? owner = null)
    {
        ArgumentNullException.ThrowIfNull(chains);
        _options = options;
        _store = store;
        _keys = keys;
        _time = time;
        _log = log;
        _chains = chains.ToDictionary(c => c.ChainId);
        Owner = owner ?? string.Create(CultureInfo.InvariantCulture, $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}");
    }

    /// <summary>Who claims intents: host, process and instance.</summary>
    public string Owner { get; }

    /// <summary>Transactions this instance broadcast (first sends, rebroadcasts and replacements).</summary>
    public int Broadcasts => _broadcasts;

    private int _broadcasts;

    /// <summary>
    /// Told when an intent is sent (or, in a dry run, signed and kept), mined, dropped or failed: the margin service
    /// moves the account's state (liquidating, resolved, liquidatable) from it.
    /// </summary>
    public Func<LiquidationIntent, CancellationToken, Task>? IntentChanged { get; set; }

    public void Dispose()
    {
        foreach (var context in _contexts.Values)
        {
            context.Dispose();
        }
    }

    /// <summary>
    /// Liquidates the candidate unless an intent for it exists already. Returns the intent as this call left it (or as
    /// another keeper holds it), or null when the chain is not one the keeper serves.
    /// </summary>
    public async Task<LiquidationIntent?> ProcessAsync(LiquidationCandidate candidate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        if (!_chains.TryGetValue(candidate.Chain.Value, out var chain) || candidate.Blocks.For(candidate.Chain) is not { } trigger)
        {
            return null;
        }

        var key = new IntentKey(chain.ChainId, Protocol, candidate.Account.Value, trigger.Number);
        return await ClaimAndRunAsync(key, intent => RunAsync(chain, candidate, intent, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The intent discipline every protocol's liquidation shares: one liquidation in flight per account, chain and
    /// protocol (a later block does not start a second one); the intent row is claimed before anything is built, so two
    /// keepers never both run it; an RPC failure before signing fails the intent, and once signed the intent stays for
    /// the resume to settle.
    /// </summary>
    private async Task<LiquidationIntent?> ClaimAndRunAsync(
        IntentKey key, Func<LiquidationIntent, Task<LiquidationIntent>> run, CancellationToken cancellationToken)
    {
        var open = await _store.OpenIntentsAsync(key.ChainId, key.Account, cancellationToken).ConfigureAwait(false);
        if (open.FirstOrDefault(i => i.Key.Protocol == key.Protocol && i.State is IntentStates.Signed or IntentStates.Sent) is { } inFlight)
        {
            return inFlight;
        }

        var intent = await _store.TryClaimAsync(key, Owner, cancellationToken).ConfigureAwait(false);
        if (intent is null)
        {
            return await _store.GetAsync(key, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            return await run(intent).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RpcErrorException or HttpRequestException or TimeoutException)
        {
            _log.LogWarning("intent {Id}: {Error}", intent.Id, ex.Message);
            var current = await _store.GetAsync(key, cancellationToken).ConfigureAwait(false);
            if (current is { State: IntentStates.Planned or IntentStates.Simulated })
            {
                await _store.TransitionAsync(current.Id, current.State, IntentStates.Failed, new IntentChange { Reason = "rpc error: " + ex.Message }, null, cancellationToken).ConfigureAwait(false);
                return await _store.GetAsync(key, cancellationToken).ConfigureAwait(false);
            }

            return current;
        }
    }

    /// <summary>
    /// The profitability check every protocol's liquidation passes: the bonus minus the gas at its fee cap, in USD, at
    /// least the configured minimum. Returns the skipped intent, or null when the liquidation pays.
    /// </summary>
    private async Task<LiquidationIntent?> SkipIfUnprofitableAsync(
        LiquidationIntent intent, decimal bonusUsd, BigInteger maxGasWei, decimal? nativeUsd, CancellationToken cancellationToken)
    {
        if (nativeUsd is not { } usd)
        {
            return await SkipAsync(intent, IntentStates.Planned, "unprofitable: the gas token's price is unknown", cancellationToken).ConfigureAwait(false);
        }

        var gasUsd = (decimal)maxGasWei / 1e18m * usd;
        if (bonusUsd - gasUsd < _options.MinProfitUsd)
        {
            return await SkipAsync(
                intent, IntentStates.Planned,
                string.Create(CultureInfo.InvariantCulture, $"unprofitable: bonus {bonusUsd:0.##} USD - gas {gasUsd:0.##} USD < {_options.MinProfitUsd} USD"),
                cancellationToken).ConfigureAwait(false);
        }

        return null;
    }

    /// <summary>
    /// Settles what an earlier run (this process or a dead one) left signed or sent on the keeper's chains: a signed
    /// transaction the chain does not know is broadcast (the same bytes, so it cannot execute twice); a sent one is
    /// followed to its receipt.
    /// </summary>
    public async Task<IReadOnlyList<LiquidationIntent>> ResumeAsync(CancellationToken cancellationToken)
    {
        var settled = new List<LiquidationIntent>();
        foreach (var chain in _chains.Values)
        {
            var open = await _store.OpenIntentsAsync(chain.ChainId, null, cancellationToken).ConfigureAwait(false);
            foreach (var intent in open.Where(i => i.State is IntentStates.Signed or IntentStates.Sent))
            {
                var context = Context(chain);
                var current = intent;
                if (current.State == IntentStates.Signed)
                {
                    current = await BroadcastSignedAsync(context, current, cancellationToken).ConfigureAwait(false);
                }

                if (current.State == IntentStates.Sent)
                {
                    current = await FollowAsync(context, current, cancellationToken).ConfigureAwait(false);
                }

                settled.Add(current);
            }
        }

        return settled;
    }

    private async Task<LiquidationIntent> RunAsync(KeeperChain chain, LiquidationCandidate candidate, LiquidationIntent intent, CancellationToken cancellationToken)
    {
        if (candidate.PriceUnsafe)
        {
            // Flagging continues; liquidations wait until every price they depend on is safe again.
            return await SkipAsync(intent, IntentStates.Planned, "price-unsafe", cancellationToken).ConfigureAwait(false);
        }

        if (candidate.Health >= 1m)
        {
            return await SkipAsync(intent, IntentStates.Planned, "not liquidatable", cancellationToken).ConfigureAwait(false);
        }

        var riskSigner = _keys.RiskSigner();
        if (riskSigner is null)
        {
            return await SkipAsync(intent, IntentStates.Planned, "no risk signer key configured", cancellationToken).ConfigureAwait(false);
        }

        var context = Context(chain);
        if (context.Keeper is null)
        {
            return await SkipAsync(intent, IntentStates.Planned, "no keeper key configured for the chain", cancellationToken).ConfigureAwait(false);
        }

        // The attestation: health as a wad (rounded down, never up to 1.0), the block vector, a deadline, and a nonce
        // derived from the intent's key so that two keepers racing on one intent could not both liquidate.
        var healthWad = new BigInteger(decimal.Floor(Math.Max(0m, candidate.Health) * 1_000_000_000_000_000_000m));
        var attestationNonce = AttestationNonce(intent.Key);
        var deadline = _time.GetUtcNow().ToUnixTimeSeconds() + _options.AttestationLifetimeSeconds;
        var attestation = AttestationSigner.Create(candidate.Account, healthWad, candidate.Blocks, deadline, attestationNonce);
        var signed = context.AttestationSigner(riskSigner).Sign(attestation);
        var data = new LiquidateFunction { Attestation = attestation, Signature = signed.Signature }.GetCallData().ToHex(prefix: true);

        // The chain reads are independent, so they go out together (one round trip, not four in a row); they are still
        // judged in order: the fee cap, then the simulation, which stays the last read before signing.
        var latestTask = context.Rpc.LatestBlockAsync(cancellationToken);
        var simulation = context.Rpc.EthCallAsync(context.Keeper.Address, chain.Liquidator, data, cancellationToken);
        var estimate = context.Rpc.EstimateGasAsync(context.Keeper.Address, chain.Liquidator, data, cancellationToken);
        var bonusTask = context.BonusBpsAsync(cancellationToken);
        await Task.WhenAny(Task.WhenAll(latestTask, simulation, estimate, bonusTask)).ConfigureAwait(false);

        // Read on every path, so that a read not needed after an early return never counts as an unobserved fault.
        _ = (simulation.Exception, estimate.Exception, bonusTask.Exception);

        var (baseFee, _, _) = await latestTask.ConfigureAwait(false);
        var priority = ToWei(_options.PriorityFeeGwei);
        var cap = ToWei(_options.MaxFeeGweiFor(chain.ChainId));
        if (baseFee + priority > cap)
        {
            _log.LogWarning(
                "ALERT keeper: chain {Chain} fee {FeeGwei} gwei is above the cap of {CapGwei} gwei; liquidation of {Account} not sent",
                chain.ChainId, ToGwei(baseFee + priority), ToGwei(cap), candidate.Account);
            Alerts?.Raise(new AlertCondition(
                AlertKinds.KeeperFeeCap, FeeCapAlertKey(chain.ChainId),
                string.Create(CultureInfo.InvariantCulture, $"chain {chain.ChainId} fee {ToGwei(baseFee + priority)} gwei is above the cap of {ToGwei(cap)} gwei; liquidations on it are not sent"),
                new ChainId(chain.ChainId), null));
            return await SkipAsync(intent, IntentStates.Planned, "fee above cap", cancellationToken).ConfigureAwait(false);
        }

        Alerts?.Clear(FeeCapAlertKey(chain.ChainId));

        // Twice the base fee leaves room for it to rise for a few blocks; never above the cap.
        var maxFee = BigInteger.Min((baseFee * 2) + priority, cap);

        try
        {
            await simulation.ConfigureAwait(false);
        }
        catch (RpcErrorException revert)
        {
            _log.LogWarning("intent {Id}: simulation of liquidate({Account}) on chain {Chain} reverted: {Reason}", intent.Id, candidate.Account, chain.ChainId, revert.RevertReason);
            await _store.TransitionAsync(intent.Id, IntentStates.Planned, IntentStates.Failed, new IntentChange { Reason = "simulation reverted: " + revert.RevertReason }, null, cancellationToken).ConfigureAwait(false);
            return (await _store.GetAsync(intent.Key, cancellationToken).ConfigureAwait(false))!;
        }

        var gas = (await estimate.ConfigureAwait(false) * 12 / 10) + 10_000;
        var bonusBps = await bonusTask.ConfigureAwait(false);
        var bonusUsd = candidate.SeizableUsd * bonusBps / 10_000m;
        if (await SkipIfUnprofitableAsync(intent, bonusUsd, gas * maxFee, candidate.NativeUsd, cancellationToken).ConfigureAwait(false) is { } unprofitable)
        {
            return unprofitable;
        }

        var simulated = new IntentChange
        {
            HealthWad = healthWad.ToString(CultureInfo.InvariantCulture),
            AttestationNonce = attestationNonce.ToString(CultureInfo.InvariantCulture),
            Keeper = context.Keeper.Address,
        };
        if (!await _store.TransitionAsync(intent.Id, IntentStates.Planned, IntentStates.Simulated, simulated, null, cancellationToken).ConfigureAwait(false))
        {
            return (await _store.GetAsync(intent.Key, cancellationToken).ConfigureAwait(false))!;
        }

        return await SignAndSendAsync(
            context, intent, priority, maxFee, gas, data, chain.Liquidator,
            async hash =>
            {
                // The signed transaction stays in the intent as the record of what would have been sent.
                _log.LogInformation("keeper (dry run): would liquidate {Account} on chain {Chain} with transaction {Hash}", candidate.Account, chain.ChainId, hash);
                return await NotifyAsync(await SkipAsync(intent, IntentStates.Signed, DryRunReason, cancellationToken).ConfigureAwait(false), cancellationToken)
                    .ConfigureAwait(false);
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Signs a simulated intent's transaction, records it as signed, then sends and follows it, or in a dry run hands the
    /// hash to <paramref name="dryRun"/>. Both keepers (reference and Aave V3) end this way. When another attempt moved
    /// the intent first, the stored intent is returned.
    /// </summary>
    private async Task<LiquidationIntent> SignAndSendAsync(
        ChainContext context, LiquidationIntent intent, BigInteger priority, BigInteger maxFee, BigInteger gas, string data, string to,
        Func<string, Task<LiquidationIntent>> dryRun, CancellationToken cancellationToken)
    {
        // A dry run signs with the nonce it would use without taking it: nothing is sent, so the count stays right and
        // dry-run liquidations do not queue behind one another for a nonce read from the node.
        var nonce = _options.DryRun
            ? await context.Nonces.PeekAsync(cancellationToken).ConfigureAwait(false)
            : await context.Nonces.NextAsync(cancellationToken).ConfigureAwait(false);
        var (raw, hash) = Sign(context, nonce, priority, maxFee, gas, data, to);
        var signedChange = new IntentChange
        {
            TxNonce = (long)nonce,
            MaxFeeWei = maxFee.ToString(CultureInfo.InvariantCulture),
            PriorityFeeWei = priority.ToString(CultureInfo.InvariantCulture),
            RawTx = raw,
            TxHash = hash,
        };
        if (!await _store.TransitionAsync(intent.Id, IntentStates.Simulated, IntentStates.Signed, signedChange, null, cancellationToken).ConfigureAwait(false))
        {
            if (!_options.DryRun)
            {
                context.Nonces.Resync();
            }

            return (await _store.GetAsync(intent.Key, cancellationToken).ConfigureAwait(false))!;
        }

        if (_options.DryRun)
        {
            return await dryRun(hash).ConfigureAwait(false);
        }

        var current = (await _store.GetAsync(intent.Key, cancellationToken).ConfigureAwait(false))!;
        current = await BroadcastSignedAsync(context, current, cancellationToken).ConfigureAwait(false);
        return current.State == IntentStates.Sent ? await FollowAsync(context, current, cancellationToken).ConfigureAwait(false) : current;
    }

    /// <summary>Broadcasts a signed intent's transaction and moves it to sent; re-signs once with a fresh nonce on a nonce error.</summary>
    private async Task<LiquidationIntent> BroadcastSignedAsync(ChainContext context, LiquidationIntent intent, CancellationToken cancellationToken)
    {
        var hash = intent.TxHash!;
        if (await context.Rpc.KnowsTransactionAsync(hash, cancellationToken).ConfigureAwait(false))
        {
            await _store.TransitionAsync(intent.Id, IntentStates.Signed, IntentStates.Sent, new IntentChange(), null, cancellationToken).ConfigureAwait(false);
            return await ReloadAndNotifyAsync(intent.Key, cancellationToken).ConfigureAwait(false);
        }

        for (var attempt = 0; ; attempt++)
        {
            try
            {
                Interlocked.Increment(ref _broadcasts);
                await context.Rpc.SendRawAsync(intent.RawTx!, cancellationToken).ConfigureAwait(false);
                _log.LogInformation("intent {Id}: sent liquidation of {Account} on chain {Chain}: {Hash}", intent.Id, intent.Key.Account, intent.Key.ChainId, intent.TxHash);
                await _store.TransitionAsync(intent.Id, IntentStates.Signed, IntentStates.Sent, new IntentChange(), null, cancellationToken).ConfigureAwait(false);
                return await ReloadAndNotifyAsync(intent.Key, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcErrorException error) when (error.RpcMessage.Contains("already known", StringComparison.OrdinalIgnoreCase))
            {
                await _store.TransitionAsync(intent.Id, IntentStates.Signed, IntentStates.Sent, new IntentChange(), null, cancellationToken).ConfigureAwait(false);
                return await ReloadAndNotifyAsync(intent.Key, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcErrorException error) when (NonceManager.IsNonceError(error) && attempt == 0)
            {
                // Our count was wrong (another sender used the key, or the node restarted): read it again and re-sign.
                // The old bytes were refused, so they can never be mined.
                _log.LogWarning("intent {Id}: nonce {Nonce} refused ({Error}); resyncing", intent.Id, intent.TxNonce, error.RpcMessage);
                context.Nonces.Resync();
                var nonce = await context.Nonces.NextAsync(cancellationToken).ConfigureAwait(false);
                var data = DecodeData(intent.RawTx!);
                var (raw, newHash) = Sign(context, nonce, BigInteger.Parse(intent.PriorityFeeWei!, CultureInfo.InvariantCulture), BigInteger.Parse(intent.MaxFeeWei!, CultureInfo.InvariantCulture), data.Gas, data.Data, data.To);
                var change = new IntentChange { TxNonce = (long)nonce, RawTx = raw, TxHash = newHash };
                if (!await _store.TransitionAsync(intent.Id, IntentStates.Signed, IntentStates.Signed, change, intent.TxHash, cancellationToken).ConfigureAwait(false))
                {
                    return (await _store.GetAsync(intent.Key, cancellationToken).ConfigureAwait(false))!;
                }

                intent = (await _store.GetAsync(intent.Key, cancellationToken).ConfigureAwait(false))!;
            }
            catch (RpcErrorException error)
            {
                _log.LogWarning("intent {Id}: the node refused the transaction: {Error}", intent.Id, error.RpcMessage);
                context.Nonces.Resync();
                await _store.TransitionAsync(intent.Id, IntentStates.Signed, IntentStates.Failed, new IntentChange { Reason = "refused by the node: " + error.RpcMessage }, null, cancellationToken).ConfigureAwait(false);
                return await ReloadAndNotifyAsync(intent.Key, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Follows a sent intent until one of its transactions has a receipt, or its nonce is taken by another.</summary>
    private async Task<LiquidationIntent> FollowAsync(ChainContext context, LiquidationIntent intent, CancellationToken cancellationToken)
    {
        var giveUp = _time.GetUtcNow().AddSeconds(_options.FollowTimeoutSeconds);
        var lastSend = _time.GetUtcNow();
        while (_time.GetUtcNow() < giveUp)
        {
            foreach (var hash in intent.AllHashes)
            {
                if (await context.Rpc.ReceiptAsync(hash, cancellationToken).ConfigureAwait(false) is { } receipt)
                {
                    var next = receipt.Succeeded ? IntentStates.Mined : IntentStates.Failed;
                    var change = new IntentChange { MinedBlock = receipt.BlockNumber, TxHash = hash, Reason = receipt.Succeeded ? null : "reverted on-chain" };
                    await _store.TransitionAsync(intent.Id, IntentStates.Sent, next, change, null, cancellationToken).ConfigureAwait(false);
                    _log.LogInformation("intent {Id}: transaction {Hash} {State} in block {Block}", intent.Id, hash, next, receipt.BlockNumber);
                    return await ReloadAndNotifyAsync(intent.Key, cancellationToken).ConfigureAwait(false);
                }
            }

            if (_time.GetUtcNow() - lastSend >= TimeSpan.FromSeconds(_options.ReplaceAfterSeconds))
            {
                lastSend = _time.GetUtcNow();
                intent = await UnstickAsync(context, intent, cancellationToken).ConfigureAwait(false);
                if (intent.State != IntentStates.Sent)
                {
                    return intent;
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(_options.ReceiptPollMilliseconds), _time, cancellationToken).ConfigureAwait(false);
        }

        return intent;
    }

    /// <summary>
    /// A transaction without a receipt for a while: dropped when its nonce is used by a transaction that is not ours,
    /// rebroadcast when the node forgot it, else replaced with fees at least 10% higher (the same nonce, so only one
    /// of them can be mined), within the fee cap.
    /// </summary>
    private async Task<LiquidationIntent> UnstickAsync(ChainContext context, LiquidationIntent intent, CancellationToken cancellationToken)
    {
        var confirmed = await context.Rpc.LatestNonceAsync(intent.Keeper ?? context.Keeper!.Address, cancellationToken).ConfigureAwait(false);
        if (confirmed > intent.TxNonce!.Value)
        {
            // The nonce is used and none of our hashes has a receipt (checked just before): another transaction won.
            foreach (var known in intent.AllHashes)
            {
                if (await context.Rpc.ReceiptAsync(known, cancellationToken).ConfigureAwait(false) is not null)
                {
                    return intent;
                }
            }

            await _store.TransitionAsync(intent.Id, IntentStates.Sent, IntentStates.Dropped, new IntentChange { Reason = "nonce used by another transaction" }, null, cancellationToken).ConfigureAwait(false);
            return await ReloadAndNotifyAsync(intent.Key, cancellationToken).ConfigureAwait(false);
        }

        if (!await context.Rpc.KnowsTransactionAsync(intent.TxHash!, cancellationToken).ConfigureAwait(false))
        {
            try
            {
                Interlocked.Increment(ref _broadcasts);
                await context.Rpc.SendRawAsync(intent.RawTx!, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcErrorException error)
            {
                _log.LogWarning("intent {Id}: rebroadcast refused: {Error}", intent.Id, error.RpcMessage);
            }

            return intent;
        }

        if (context.Keeper is null)
        {
            return intent;
        }

        var oldPriority = BigInteger.Parse(intent.PriorityFeeWei!, CultureInfo.InvariantCulture);
        var oldMax = BigInteger.Parse(intent.MaxFeeWei!, CultureInfo.InvariantCulture);
        var (baseFee, _, _) = await context.Rpc.LatestBlockAsync(cancellationToken).ConfigureAwait(false);
        var priority = (oldPriority * 1125 / 1000) + 1;
        var maxFee = BigInteger.Max((oldMax * 1125 / 1000) + 1, (baseFee * 2) + priority);
        var cap = ToWei(_options.MaxFeeGweiFor(intent.Key.ChainId));
        if (maxFee > cap)
        {
            _log.LogWarning("ALERT keeper: intent {Id} is stuck and its replacement would exceed the fee cap of {CapGwei} gwei; waiting", intent.Id, ToGwei(cap));
            Alerts?.Raise(new AlertCondition(
                AlertKinds.KeeperFeeCap, FeeCapAlertKey(intent.Key.ChainId),
                string.Create(CultureInfo.InvariantCulture, $"intent {intent.Id} is stuck: its replacement would exceed the fee cap of {ToGwei(cap)} gwei"),
                new ChainId(intent.Key.ChainId), null));
            return intent;
        }

        var data = DecodeData(intent.RawTx!);
        var (raw, hash) = Sign(context, intent.TxNonce.Value, priority, maxFee, data.Gas, data.Data, data.To);
        var change = new IntentChange
        {
            RawTx = raw,
            TxHash = hash,
            ReplacedHash = intent.TxHash,
            MaxFeeWei = maxFee.ToString(CultureInfo.InvariantCulture),
            PriorityFeeWei = priority.ToString(CultureInfo.InvariantCulture),
        };
        if (!await _store.TransitionAsync(intent.Id, IntentStates.Sent, IntentStates.Sent, change, intent.TxHash, cancellationToken).ConfigureAwait(false))
        {
            return (await _store.GetAsync(intent.Key, cancellationToken).ConfigureAwait(false))!;
        }

        try
        {
            Interlocked.Increment(ref _broadcasts);
            await context.Rpc.SendRawAsync(raw, cancellationToken).ConfigureAwait(false);
            _log.LogInformation("intent {Id}: replaced {Old} with {New} (max fee {FeeGwei} gwei)", intent.Id, intent.TxHash, hash, ToGwei(maxFee));
        }
        catch (RpcErrorException error)
        {
            _log.LogWarning("intent {Id}: replacement refused: {Error}", intent.Id, error.RpcMessage);
        }

        return (await _store.GetAsync(intent.Key, cancellationToken).ConfigureAwait(false))!;
    }

    private async Task<LiquidationIntent> ReloadAndNotifyAsync(IntentKey key, CancellationToken cancellationToken) =>
        await NotifyAsync((await _store.GetAsync(key, cancellationToken).ConfigureAwait(false))!, cancellationToken).ConfigureAwait(false);

    private async Task<LiquidationIntent> NotifyAsync(LiquidationIntent intent, CancellationToken cancellationToken)
    {
        if (IntentChanged is { } changed)
        {
            try
            {
                await changed(intent, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The account's state is bookkeeping; the liquidation itself goes on.
                _log.LogError("intent {Id}: recording the account's state failed: {Error}", intent.Id, ex.Message);
            }
        }

        return intent;
    }

    private async Task<LiquidationIntent> SkipAsync(LiquidationIntent intent, string expected, string reason, CancellationToken cancellationToken)
    {
        await _store.TransitionAsync(intent.Id, expected, IntentStates.Skipped, new IntentChange { Reason = reason }, null, cancellationToken).ConfigureAwait(false);
        return (await _store.GetAsync(intent.Key, cancellationToken).ConfigureAwait(false))!;
    }

    private static (string Raw, string Hash) Sign(ChainContext context, BigInteger nonce, BigInteger priority, BigInteger maxFee, BigInteger gas, string data, string to)
    {
        var transaction = new Transaction1559(context.Chain.ChainId, nonce, priority, maxFee, gas, to, BigInteger.Zero, data, []);
        var raw = TxSigner.SignTransaction(context.Keeper!.EcKey, transaction).EnsureHexPrefix();
        return (raw, Sha3Keccack.Current.CalculateHash(raw.HexToByteArray()).ToHex(prefix: true));
    }

    private static (BigInteger Gas, string Data, string To) DecodeData(string raw)
    {
        var transaction = (Transaction1559)TransactionFactory.CreateTransaction(raw);
        return (transaction.GasLimit ?? BigInteger.Zero, transaction.Data.EnsureHexPrefix(), transaction.ReceiverAddress);
    }

    /// <summary>keccak256 of the intent key's text, as a uint256: unique per intent, the same for every keeper.</summary>
    public static BigInteger AttestationNonce(IntentKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var text = string.Create(CultureInfo.InvariantCulture, $"chainmargin-liquidation:{key.ChainId}:{key.Protocol}:{key.Account.ToLowerInvariant()}:{key.TriggerBlock}");
        return new BigInteger(Sha3Keccack.Current.CalculateHash(Encoding.UTF8.GetBytes(text)), isUnsigned: true, isBigEndian: true);
    }

    private static BigInteger ToWei(decimal gwei) => new BigInteger(decimal.Floor(gwei * 1_000_000_000m));

    private static decimal ToGwei(BigInteger wei) => (decimal)wei / (decimal)Gwei;

    private static string FeeCapAlertKey(ulong chain) => string.Create(CultureInfo.InvariantCulture, $"keeper:{AlertKinds.KeeperFeeCap}:{chain}");

    private ChainContext Context(KeeperChain chain) => _contexts.GetOrAdd(chain.ChainId, _ => new ChainContext(chain, _keys.Keeper(chain.ChainId)));

    private sealed class ChainContext : IDisposable
    {
        private AttestationSigner? _attestations;
        private BigInteger? _bonusBps;

        public ChainContext(KeeperChain chain, SigningKey? keeper)
        {
            Chain = chain;
            Keeper = keeper;
            Rpc = new KeeperRpc(chain.RpcUrl);
            Nonces = new NonceManager(Rpc, keeper?.Address ?? "0x0000000000000000000000000000000000000000");
        }

        public KeeperChain Chain { get; }

        public SigningKey? Keeper { get; }

        public KeeperRpc Rpc { get; }

        public NonceManager Nonces { get; }

        public AttestationSigner AttestationSigner(SigningKey riskSigner) =>
            _attestations ??= new AttestationSigner(riskSigner.EcKey.GetPrivateKey(), Chain.ChainId, Chain.Liquidator);

        public async Task<decimal> BonusBpsAsync(CancellationToken cancellationToken)
        {
            if (_bonusBps is null)
            {
                var result = await Rpc.CallViewAsync(Chain.Liquidator, new BonusBpsFunction().GetCallData().ToHex(prefix: true), cancellationToken).ConfigureAwait(false);
                _bonusBps = KeeperRpc.Quantity(result);
            }

            return (decimal)_bonusBps.Value;
        }

        public void Dispose()
        {
            Nonces.Dispose();
            Rpc.Dispose();
        }
    }
}
