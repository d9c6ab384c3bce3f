using System.Numerics;
using System.Text.Json;
using ChainMargin.Contracts.Aave;
using ChainMargin.Contracts.Multicall;
using ChainMargin.Core;
using ChainMargin.Indexing.Decoding;
using ChainMargin.Indexing.Rpc;
using Nethereum.Contracts;

namespace ChainMargin.Indexing.Aave;

/// <summary>
/// Reads what events do not carry, pinned to one block: each reserve's getReserveData (configuration bitmap, indices,
/// rates, last update), the e-mode categories in use, and AaveOracle prices (assets and e-mode price sources), plus
/// the block's timestamp. Every call is pinned to an explicit block number, so the snapshot is consistent. With a
/// Multicall3 address, each of the two rounds is one eth_call of aggregate3 (allowFailure, so one missing price does
/// not hide the others); without one, each round is a JSON-RPC batch of plain eth_calls (same answers).
/// </summary>
public sealed class AaveV3MarketReader(JsonRpcClient rpc, EvmAddress pool, EvmAddress oracle, EvmAddress? multicall3 = null)
{
    public async Task<AaveV3MarketState> ReadAsync(
        long block, IReadOnlyList<EvmAddress> assets, IEnumerable<int> extraEModeCategories, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(assets);
        var blockTag = Hex.FromLong(block);
        var (header, reserveAnswers) = await CallManyAsync(
            assets.Select(a => (pool, new PoolGetReserveDataFunction { Asset = a.Value }.GetCallData())).ToList(), blockTag, withHeader: true, cancellationToken)
            .ConfigureAwait(false);
        var timestamp = Hex.ToLong(header!.Value.GetProperty("timestamp").GetString()!);
        var hash = header.Value.GetProperty("hash").GetString()!;
        var reserves = assets.Select((a, i) => (Asset: a, Data: AaveV3Abi.DecodeReserveData(
            reserveAnswers[i] ?? throw new InvalidOperationException($"getReserveData({a}) reverted at block {block}")))).ToList();

        var categories = reserves
            .Select(r => (int)((r.Data.Configuration >> 168) & 0xff))
            .Concat(extraEModeCategories)
            .Where(c => c != 0)
            .Distinct()
            .Order()
            .ToList();
        var (_, categoryAnswers) = await CallManyAsync(
            categories.Select(c => (pool, new PoolGetEModeCategoryDataFunction { Id = (byte)c }.GetCallData())).ToList(), blockTag, withHeader: false, cancellationToken)
            .ConfigureAwait(false);
        var eModes = categories.Select((c, i) => AaveV3Abi.DecodeEModeCategory(
            c, categoryAnswers[i] ?? throw new InvalidOperationException($"getEModeCategoryData({c}) reverted at block {block}"))).ToList();

        // One getAssetPrice per key: AaveOracle reverts for an asset without a source (and no fallback), and that
        // asset alone must carry the reason.
        var priceKeys = assets.Concat(eModes.Select(e => e.PriceSource).Where(p => p != EvmAddress.Zero)).Distinct().ToList();
        var (_, priceAnswers) = await CallManyAsync(
            priceKeys.Select(k => (oracle, new GetAssetPriceFunction { Asset = k.Value }.GetCallData())).ToList(), blockTag, withHeader: false, cancellationToken)
            .ConfigureAwait(false);
        var prices = new Dictionary<EvmAddress, (BigInteger? Price, string? Reason)>();
        for (var i = 0; i < priceKeys.Count; i++)
        {
            var answer = priceAnswers[i];
            var price = answer is null ? BigInteger.Zero : AaveV3Abi.Word(answer, 0);
            prices[priceKeys[i]] = answer is null
                ? (null, $"AaveOracle.getAssetPrice({priceKeys[i]}) reverted at block {block}")
                : price.IsZero ? (null, "the oracle returned 0") : (price, null);
        }

        return new AaveV3MarketState(
            block, hash, timestamp,
            reserves.Select(r => new AaveV3ReserveState(r.Asset, r.Data, prices[r.Asset].Price, prices[r.Asset].Reason)).ToList(),
            eModes.Select(e => new AaveV3EModeState(
                e, e.PriceSource == EvmAddress.Zero ? null : prices[e.PriceSource].Price,
                e.PriceSource == EvmAddress.Zero ? null : prices[e.PriceSource].Reason)).ToList());
    }

    /// <summary>
    /// Runs calls at one block: one Multicall3 aggregate3 (allowFailure) when configured, else a JSON-RPC batch of
    /// eth_calls, where a reverting call is asked again alone so that only it fails. A failed call's answer is null.
    /// </summary>
    private async Task<(JsonElement? Header, string?[] Answers)> CallManyAsync(
        List<(EvmAddress To, byte[] Data)> calls, string blockTag, bool withHeader, CancellationToken cancellationToken)
    {
        if (calls.Count == 0 && !withHeader)
        {
            return (null, []);
        }

        var requests = new List<RpcRequest>();
        if (withHeader)
        {
            requests.Add(new RpcRequest("eth_getBlockByNumber", [blockTag, false]));
        }

        if (multicall3 is { } multicall)
        {
            var aggregate = new Aggregate3Function
            {
                Calls = calls.Select(c => new Call3 { Target = c.To.Value, AllowFailure = true, CallData = c.Data }).ToList(),
            };
            requests.Add(Call(multicall, aggregate.GetCallData(), blockTag));
            var results = await rpc.BatchAsync(requests, cancellationToken).ConfigureAwait(false);
            var answer = results[^1].GetString()!;

            // "0x": no Multicall3 code at that block yet (a market read from its first blocks); plain calls below.
            if (answer != "0x")
            {
                var decoded = AaveV3Abi.DecodeMulticall3Results(answer);
                return (withHeader ? results[0] : null, decoded.Select(d => d.Success ? d.ReturnData : null).ToArray());
            }

            requests.RemoveAt(requests.Count - 1);
        }

        requests.AddRange(calls.Select(c => Call(c.To, c.Data, blockTag)));
        try
        {
            var results = await rpc.BatchAsync(requests, cancellationToken).ConfigureAwait(false);
            return (withHeader ? results[0] : null, results.Skip(withHeader ? 1 : 0).Select(r => r.GetString()).ToArray());
        }
        catch (RpcNodeException)
        {
            // A batch fails as a whole when one call reverts: ask each alone.
        }

        JsonElement? header = withHeader ? await rpc.CallAsync("eth_getBlockByNumber", [blockTag, false], cancellationToken).ConfigureAwait(false) : null;
        var answers = new string?[calls.Count];
        for (var i = 0; i < calls.Count; i++)
        {
            try
            {
                var one = await rpc.BatchAsync([Call(calls[i].To, calls[i].Data, blockTag)], cancellationToken).ConfigureAwait(false);
                answers[i] = one[0].GetString();
            }
            catch (RpcNodeException)
            {
                answers[i] = null;
            }
        }

        return (header, answers);
    }

    /// <summary>Pool.getUserAccountData for several users at one block, in one batch (the venue's own answer).</summary>
    public async Task<IReadOnlyList<UserAccountDataOutput>> ReadAccountDataAsync(
        IReadOnlyList<EvmAddress> users, long block, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(users);
        var blockTag = Hex.FromLong(block);
        var results = await rpc.BatchAsync(
            users.Select(u => Call(pool, new PoolGetUserAccountDataFunction { User = u.Value }, blockTag)).ToList(),
            cancellationToken).ConfigureAwait(false);
        return results.Select(r =>
        {
            var hex = r.GetString()!;
            return new UserAccountDataOutput
            {
                TotalCollateralBase = AaveV3Abi.Word(hex, 0),
                TotalDebtBase = AaveV3Abi.Word(hex, 1),
                AvailableBorrowsBase = AaveV3Abi.Word(hex, 2),
                CurrentLiquidationThreshold = AaveV3Abi.Word(hex, 3),
                Ltv = AaveV3Abi.Word(hex, 4),
                HealthFactor = AaveV3Abi.Word(hex, 5),
            };
        }).ToList();
    }

    /// <summary>Pool.getUserConfiguration at a block (to audit the event-built bitmap).</summary>
    public async Task<BigInteger> ReadUserConfigurationAsync(EvmAddress user, long block, CancellationToken cancellationToken)
    {
        var result = await rpc.BatchAsync([Call(pool, new PoolGetUserConfigurationFunction { User = user.Value }, Hex.FromLong(block))], cancellationToken)
            .ConfigureAwait(false);
        return AaveV3Abi.Word(result[0].GetString()!, 0);
    }

    private static RpcRequest Call<TFunction>(EvmAddress to, TFunction message, string blockTag)
        where TFunction : FunctionMessage, new() => Call(to, message.GetCallData(), blockTag);

    private static RpcRequest Call(EvmAddress to, byte[] data, string blockTag) =>
        new("eth_call", [new Dictionary<string, string> { ["to"] = to.Value, ["data"] = "0x" + Convert.ToHexStringLower(data) }, blockTag]);
}

/// <summary>The market at one block: reserves with their stored data and price, e-mode categories with their price.</summary>
public sealed record AaveV3MarketState(
    long BlockNumber, string BlockHash, long Timestamp, IReadOnlyList<AaveV3ReserveState> Reserves, IReadOnlyList<AaveV3EModeState> EModeCategories);

public sealed record AaveV3ReserveState(EvmAddress Asset, AaveV3ReserveData Data, BigInteger? Price, string? PriceReason);

public sealed record AaveV3EModeState(AaveV3EModeCategoryData Category, BigInteger? PriceSourcePrice, string? PriceReason);
