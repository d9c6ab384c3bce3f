using System.Collections.Concurrent;
using System.Globalization;
using System.Numerics;
using ChainMargin.Contracts.Aave;
using ChainMargin.Contracts.Erc20;
using ChainMargin.Core;
using ChainMargin.Risk.Aave;
using Microsoft.Extensions.Logging;
using Nethereum.Contracts;
using Nethereum.Hex.HexConvertors.Extensions;

namespace ChainMargin.Liquidation.Keeper;

/// <summary>A chain where the keeper liquidates on Aave V3: its RPC endpoint and the market's Pool.</summary>
public sealed record AaveV3KeeperChain(ulong ChainId, string RpcUrl, EvmAddress Pool);

/// <summary>
/// An Aave V3 account to liquidate: the venue's state at the trigger block (the watcher's checkpoint) as the
/// calculator reads it, whether a price the liquidation depends on is unsafe (and why), and the USD price of the
/// chain's gas token (null = unknown). <see cref="BaseCurrencyDecimals"/>: AaveOracle's base unit (8 for USD).
/// </summary>
public sealed record AaveV3LiquidationTarget(
    EvmAddress User,
    ChainId Chain,
    BlockRef Trigger,
    AaveV3MarketInput Market,
    AaveV3UserInput Account,
    string? PriceUnsafe,
    decimal? NativeUsd,
    int BaseCurrencyDecimals = 8);

/// <summary>
/// Aave V3 liquidations through the keeper's intent machine: Pool.liquidationCall(collateral, debt, user,
/// debtToCover, receiveAToken = false) with the deployed version's close factor, for the collateral and debt pair that
/// pays the liquidator the most (<see cref="AaveV3LiquidationRules.BestPair"/>). Aave liquidates on its own health
/// factor, so no attestation; everything else is the reference keeper's: one intent per (chain, protocol, account,
/// trigger block), paused on an unsafe price, eth_call simulation right before signing, the fee cap, the profit
/// check, the nonce manager shared with the reference liquidations of the same key, dry run by default, the signed
/// transaction stored before it is sent and followed (and replaced) until mined or dropped. The keeper repays the debt
/// from its own balance: without enough of the debt token, or without an allowance to the Pool, it does not try.
/// </summary>
public sealed partial class KeeperService
{
    public const string AaveV3Protocol = "aave-v3";

    private readonly ConcurrentDictionary<ulong, AaveV3KeeperChain> _aaveChains = new();

    /// <summary>Serves Aave V3 liquidations on the chain (the host adds each chain with a configured market).</summary>
    public void AddAaveV3Chain(AaveV3KeeperChain chain)
    {
        ArgumentNullException.ThrowIfNull(chain);
        _aaveChains[chain.ChainId] = chain;
    }

    /// <summary>
    /// Liquidates the Aave account unless an intent for it exists already; returns the intent as this call left it
    /// (or as another keeper holds it), or null when the chain is not one the keeper serves on Aave.
    /// </summary>
    public async Task<LiquidationIntent?> ProcessAaveV3Async(AaveV3LiquidationTarget target, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (!_aaveChains.TryGetValue(target.Chain.Value, out var chain))
        {
            return null;
        }

        var key = new IntentKey(chain.ChainId, AaveV3Protocol, target.User.Value, target.Trigger.Number);
        return await ClaimAndRunAsync(key, intent => RunAaveV3Async(chain, target, intent, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Settles signed or sent intents on the Aave chains the reference keeper does not serve (it resumes its own chains whole).</summary>
    public async Task<IReadOnlyList<LiquidationIntent>> ResumeAaveV3Async(CancellationToken cancellationToken)
    {
        var settled = new List<LiquidationIntent>();
        foreach (var chain in _aaveChains.Values.Where(c => !_chains.ContainsKey(c.ChainId)))
        {
            var open = await _store.OpenIntentsAsync(chain.ChainId, null, cancellationToken).ConfigureAwait(false);
            foreach (var intent in open.Where(i => i.State is IntentStates.Signed or IntentStates.Sent))
            {
                var context = AaveContext(chain);
                var current = intent.State == IntentStates.Signed ? await BroadcastSignedAsync(context, intent, cancellationToken).ConfigureAwait(false) : intent;
                if (current.State == IntentStates.Sent)
                {
                    current = await FollowAsync(context, current, cancellationToken).ConfigureAwait(false);
                }

                settled.Add(current);
            }
        }

        return settled;
    }

    private async Task<LiquidationIntent> RunAaveV3Async(AaveV3KeeperChain chain, AaveV3LiquidationTarget target, LiquidationIntent intent, CancellationToken cancellationToken)
    {
        if (target.PriceUnsafe is { } unsafeBecause)
        {
            return await SkipAsync(intent, IntentStates.Planned, "price-unsafe: " + unsafeBecause, cancellationToken).ConfigureAwait(false);
        }

        var context = AaveContext(chain);
        if (context.Keeper is null)
        {
            return await SkipAsync(intent, IntentStates.Planned, "no keeper key configured for the chain", cancellationToken).ConfigureAwait(false);
        }

        // Quote for the next block: interest accrues to its timestamp, at least a second after the latest.
        var (baseFee, _, latestTimestamp) = await context.Rpc.LatestBlockAsync(cancellationToken).ConfigureAwait(false);
        var market = target.Market with { BlockTimestamp = Math.Max(target.Market.BlockTimestamp, latestTimestamp + 1) };
        var account = AaveV3AccountCalculator.Calculate(market, target.Account);
        if (account.Data is not { } data)
        {
            return await SkipAsync(intent, IntentStates.Planned, "Aave account unavailable: " + account.UnavailableReason, cancellationToken).ConfigureAwait(false);
        }

        if (!data.IsLiquidatable)
        {
            return await SkipAsync(intent, IntentStates.Planned, string.Create(CultureInfo.InvariantCulture, $"not liquidatable: Aave health factor {data.HealthFactor}"), cancellationToken).ConfigureAwait(false);
        }

        var choice = AaveV3LiquidationRules.BestPair(market, target.Account);
        if (choice is null)
        {
            return await SkipAsync(intent, IntentStates.Planned, "no collateral and debt pair Aave would liquidate", cancellationToken).ConfigureAwait(false);
        }

        var quote = choice.Quote;
        var debtToCover = quote.DebtToRepay;
        var keeper = context.Keeper.Address;
        var balance = KeeperRpc.Quantity(await context.Rpc.CallViewAsync(
            choice.DebtAsset.Value, new BalanceOfFunction { Account = keeper }.GetCallData().ToHex(prefix: true), cancellationToken).ConfigureAwait(false));
        if (balance < debtToCover)
        {
            return await SkipAsync(
                intent, IntentStates.Planned,
                string.Create(CultureInfo.InvariantCulture, $"insufficient debt token: the keeper holds {balance} of {choice.DebtAsset}, the liquidation repays {debtToCover}"),
                cancellationToken).ConfigureAwait(false);
        }

        var allowance = KeeperRpc.Quantity(await context.Rpc.CallViewAsync(
            choice.DebtAsset.Value, new AllowanceFunction { Owner = keeper, Spender = chain.Pool.Value }.GetCallData().ToHex(prefix: true), cancellationToken).ConfigureAwait(false));
        if (allowance < debtToCover)
        {
            return await SkipAsync(
                intent, IntentStates.Planned,
                string.Create(CultureInfo.InvariantCulture, $"insufficient allowance: the keeper allows the Pool {allowance} of {choice.DebtAsset}, the liquidation repays {debtToCover}"),
                cancellationToken).ConfigureAwait(false);
        }

        var priority = ToWei(_options.PriorityFeeGwei);
        var cap = ToWei(_options.MaxFeeGweiFor(chain.ChainId));
        if (baseFee + priority > cap)
        {
            _log.LogWarning(
                "ALERT keeper: chain {Chain} fee {FeeGwei} gwei is above the cap of {CapGwei} gwei; Aave liquidation of {Account} not sent",
                chain.ChainId, ToGwei(baseFee + priority), ToGwei(cap), target.User);
            return await SkipAsync(intent, IntentStates.Planned, "fee above cap", cancellationToken).ConfigureAwait(false);
        }

        var maxFee = BigInteger.Min((baseFee * 2) + priority, cap);
        var call = new PoolLiquidationCallFunction
        {
            CollateralAsset = choice.CollateralAsset.Value, DebtAsset = choice.DebtAsset.Value, User = target.User.Value, DebtToCover = debtToCover, ReceiveAToken = false,
        }.GetCallData().ToHex(prefix: true);
        try
        {
            await context.Rpc.EthCallAsync(keeper, chain.Pool.Value, call, cancellationToken).ConfigureAwait(false);
        }
        catch (RpcErrorException revert)
        {
            _log.LogWarning("intent {Id}: simulation of liquidationCall({Account}) on chain {Chain} reverted: {Reason}", intent.Id, target.User, chain.ChainId, revert.RevertReason);
            await _store.TransitionAsync(intent.Id, IntentStates.Planned, IntentStates.Failed, new IntentChange { Reason = "simulation reverted: " + revert.RevertReason }, null, cancellationToken).ConfigureAwait(false);
            return (await _store.GetAsync(intent.Key, cancellationToken).ConfigureAwait(false))!;
        }

        // Aave's gas use grows with the interest update between estimate and inclusion: a margin on top.
        var gas = (await context.Rpc.EstimateGasAsync(keeper, chain.Pool.Value, call, cancellationToken).ConfigureAwait(false) * 13 / 10) + 20_000;
        var bonusUsd = (decimal)quote.LiquidatorProfitBase / (decimal)BigInteger.Pow(10, target.BaseCurrencyDecimals);
        if (await SkipIfUnprofitableAsync(intent, bonusUsd, gas * maxFee, target.NativeUsd, cancellationToken).ConfigureAwait(false) is { } unprofitable)
        {
            return unprofitable;
        }

        var simulated = new IntentChange
        {
            HealthWad = data.HealthFactor.ToString(CultureInfo.InvariantCulture),
            Keeper = keeper,
            Reason = string.Create(
                CultureInfo.InvariantCulture,
                $"liquidationCall collateral {choice.CollateralAsset} debt {choice.DebtAsset} debtToCover {debtToCover} (close factor {quote.CloseFactor} bp of {quote.UserDebt}; bonus {quote.LiquidationBonus} bp; receives {quote.CollateralToLiquidator})"),
        };
        if (!await _store.TransitionAsync(intent.Id, IntentStates.Planned, IntentStates.Simulated, simulated, null, cancellationToken).ConfigureAwait(false))
        {
            return (await _store.GetAsync(intent.Key, cancellationToken).ConfigureAwait(false))!;
        }

        return await SignAndSendAsync(
            context, intent, priority, maxFee, gas, call, chain.Pool.Value,
            async hash =>
            {
                _log.LogInformation("keeper (dry run): would liquidate {Account} on Aave V3 on chain {Chain} with transaction {Hash}", target.User, chain.ChainId, hash);
                return await SkipAsync(intent, IntentStates.Signed, "dry-run", cancellationToken).ConfigureAwait(false);
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The chain's context, shared with the reference keeper when it serves the chain too (one nonce manager per key).</summary>
    private ChainContext AaveContext(AaveV3KeeperChain chain) =>
        _contexts.GetOrAdd(chain.ChainId, _ => new ChainContext(_chains.GetValueOrDefault(chain.ChainId) ?? new KeeperChain(chain.ChainId, chain.RpcUrl, ""), _keys.Keeper(chain.ChainId)));
}
