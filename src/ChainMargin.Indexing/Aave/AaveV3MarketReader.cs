using System.Numerics;
using System.Text.Json;
using ChainMargin.Contracts.Aave;
using ChainMargin.Core;
using ChainMargin.Indexing.Decoding;
using ChainMargin.Indexing.Rpc;
using Nethereum.Contracts;

namespace ChainMargin.Indexing.Aave;

/// <summary>
/// Reads what events do not carry, pinned to one block: each reserve's getReserveData (configuration bitmap, indices,
/// rates, last update), the e-mode categories in use, and AaveOracle prices (assets and e-mode price sources), plus
/// the block's timestamp. Two JSON-RPC batches of eth_call at an explicit block number, so the snapshot is consistent.
/// (A batch of eth_calls at one block gives the same answers as a Multicall3 aggregate at that block; switch to
/// Multicall3 where a provider limits batches.)
/// </summary>
public sealed class AaveV3MarketReader(JsonRpcClient rpc, EvmAddress pool, EvmAddress oracle)
{
    public async Task<AaveV3MarketState> ReadAsync(
        long block, IReadOnlyList<EvmAddress> assets, IEnumerable<int> extraEModeCategories, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(assets);
        var blockTag = Hex.FromLong(block);
        var first = new List<RpcRequest> { new("eth_getBlockByNumber", [blockTag, false]) };
        first.AddRange(assets.Select(a => Call(pool, new PoolGetReserveDataFunction { Asset = a.Value }, blockTag)));
        var firstResults = await rpc.BatchAsync(first, cancellationToken).ConfigureAwait(false);
        var header = firstResults[0];
        var timestamp = Hex.ToLong(header.GetProperty("timestamp").GetString()!);
        var hash = header.GetProperty("hash").GetString()!;
        var reserves = assets.Select((a, i) => (Asset: a, Data: AaveV3Abi.DecodeReserveData(firstResults[i + 1].GetString()!))).ToList();

        var categories = reserves
            .Select(r => (int)((r.Data.Configuration >> 168) & 0xff))
            .Concat(extraEModeCategories)
            .Where(c => c != 0)
            .Distinct()
            .Order()
            .ToList();
        var second = categories.Select(c => Call(pool, new PoolGetEModeCategoryDataFunction { Id = (byte)c }, blockTag)).ToList();
        var categoryResults = await rpc.BatchAsync(second, cancellationToken).ConfigureAwait(false);
        var eModes = categories.Select((c, i) => AaveV3Abi.DecodeEModeCategory(c, categoryResults[i].GetString()!)).ToList();

        var priceKeys = assets.Concat(eModes.Select(e => e.PriceSource).Where(p => p != EvmAddress.Zero)).Distinct().ToList();
        var prices = await PricesAsync(priceKeys, blockTag, cancellationToken).ConfigureAwait(false);

        return new AaveV3MarketState(
            block, hash, timestamp,
            reserves.Select(r => new AaveV3ReserveState(r.Asset, r.Data, prices[r.Asset].Price, prices[r.Asset].Reason)).ToList(),
            eModes.Select(e => new AaveV3EModeState(
                e, e.PriceSource == EvmAddress.Zero ? null : prices[e.PriceSource].Price,
                e.PriceSource == EvmAddress.Zero ? null : prices[e.PriceSource].Reason)).ToList());
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

    /// <summary>
    /// AaveOracle prices. getAssetsPrices reverts as a whole when one asset has no source (and no fallback); then each
    /// price is asked alone so the missing one carries its reason and the others still count.
    /// </summary>
    private async Task<Dictionary<EvmAddress, (BigInteger? Price, string? Reason)>> PricesAsync(
        List<EvmAddress> keys, string blockTag, CancellationToken cancellationToken)
    {
        var result = new Dictionary<EvmAddress, (BigInteger?, string?)>();
        try
        {
            var all = await rpc.BatchAsync(
                [Call(oracle, new GetAssetsPricesFunction { Assets = keys.Select(k => k.Value).ToList() }, blockTag)], cancellationToken)
                .ConfigureAwait(false);
            var prices = AaveV3Abi.DecodeWordArray(all[0].GetString()!);
            for (var i = 0; i < keys.Count; i++)
            {
                result[keys[i]] = prices[i].IsZero ? (null, "the oracle returned 0") : (prices[i], null);
            }

            return result;
        }
        catch (RpcNodeException)
        {
            // fall through to one call per asset
        }

        foreach (var key in keys)
        {
            try
            {
                var one = await rpc.BatchAsync([Call(oracle, new GetAssetPriceFunction { Asset = key.Value }, blockTag)], cancellationToken)
                    .ConfigureAwait(false);
                var price = AaveV3Abi.Word(one[0].GetString()!, 0);
                result[key] = price.IsZero ? (null, "the oracle returned 0") : (price, null);
            }
            catch (RpcNodeException ex)
            {
                result[key] = (null, "AaveOracle.getAssetPrice reverted: " + ex.Message);
            }
        }

        return result;
    }

    private static RpcRequest Call<TFunction>(EvmAddress to, TFunction message, string blockTag)
        where TFunction : FunctionMessage, new() =>
        new("eth_call", [new Dictionary<string, string> { ["to"] = to.Value, ["data"] = "0x" + Convert.ToHexStringLower(message.GetCallData()) }, blockTag]);
}

/// <summary>The market at one block: reserves with their stored data and price, e-mode categories with their price.</summary>
public sealed record AaveV3MarketState(
    long BlockNumber, string BlockHash, long Timestamp, IReadOnlyList<AaveV3ReserveState> Reserves, IReadOnlyList<AaveV3EModeState> EModeCategories);

public sealed record AaveV3ReserveState(EvmAddress Asset, AaveV3ReserveData Data, BigInteger? Price, string? PriceReason);

public sealed record AaveV3EModeState(AaveV3EModeCategoryData Category, BigInteger? PriceSourcePrice, string? PriceReason);
