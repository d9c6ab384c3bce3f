using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Contracts.Erc20;
using ChainMargin.Contracts.Reference;
using Nethereum.Contracts;
using Nethereum.Hex.HexConvertors.Extensions;

namespace ChainMargin.Bench;

/// <summary>
/// The keeper benchmark's chain: anvil (--auto-impersonate) with the reference protocol, and N keyless traders, each
/// with WETH in the vault and a long ETH-PERP opened at the deployment price. 80% are lightly levered (never at risk in
/// the benchmark's price path), 20% spread over leverages whose liquidation prices lie along the path. Automine is off
/// after seeding: the benchmark mines each price update's block itself (evm_mine), so it knows when the block exists.
/// </summary>
internal sealed class KeeperBenchChain : IAsyncDisposable
{
    public const ulong ChainId = 48_902;

    private readonly AnvilBatch _rpc;

    private KeeperBenchChain(AnvilNode node, DeployedProtocol protocol, Uri rpc)
    {
        Node = node;
        Protocol = protocol;
        _rpc = new AnvilBatch(rpc);
    }

    public AnvilNode Node { get; }

    public DeployedProtocol Protocol { get; }

    public Uri Rpc => _rpc.Rpc;

    public static async Task<KeeperBenchChain> SeedAsync(int accounts, int atRiskEvery, CancellationToken cancellationToken)
    {
        var node = await AnvilNode.StartAsync(ChainId, extraArgs: "--auto-impersonate", cancellationToken: cancellationToken).ConfigureAwait(false);
        try
        {
            var protocol = await ReferenceProtocolDeployer.DeployAsync(node.RpcUrl, AnvilNode.DeployerKey, ChainId, cancellationToken: cancellationToken)
                .ConfigureAwait(false);
            var chain = new KeeperBenchChain(node, protocol, new Uri(node.RpcUrl));
            await chain.CallAsync([Request("evm_setAutomine", false), Request("evm_setBlockGasLimit", "0x2540be400")], cancellationToken).ConfigureAwait(false);

            var traders = Enumerable.Range(0, accounts).Select(Trader).ToArray();
            var market = protocol.PerpMarketFor("ETH").MarketId;
            const int perBlock = 500;
            for (var from = 0; from < accounts; from += perBlock)
            {
                var slice = traders[from..Math.Min(accounts, from + perBlock)];
                await chain.CallAsync(slice.Select(t => Request("anvil_setBalance", t, "0x3635c9adc5dea00000")), cancellationToken).ConfigureAwait(false);
                var batch = new List<JsonObject>(slice.Length * 4);
                for (var k = 0; k < slice.Length; k++)
                {
                    var i = from + k;
                    var (collateral, size) = Position(i, atRiskEvery);
                    batch.Add(Send(slice[k], protocol.Weth, new MintFunction { To = slice[k], Amount = collateral }.GetCallData().ToHex(true), 0, 200_000));
                    batch.Add(Send(slice[k], protocol.Weth, new ApproveFunction { Spender = protocol.Vault, Amount = collateral }.GetCallData().ToHex(true), 1, 200_000));
                    batch.Add(Send(slice[k], protocol.Vault, new DepositFunction { Token = protocol.Weth, Amount = collateral }.GetCallData().ToHex(true), 2, 300_000));
                    batch.Add(Send(slice[k], protocol.PerpMarket, new PerpTradeFunction { MarketId = market, SizeDelta = size }.GetCallData().ToHex(true), 3, 500_000));
                }

                await chain.CallAsync(batch, cancellationToken).ConfigureAwait(false);
                await chain.CallAsync([Request("evm_mine")], cancellationToken).ConfigureAwait(false);
            }

            var pending = await chain.CallAsync([Request("txpool_status")], cancellationToken).ConfigureAwait(false);
            var left = pending[0]?["result"]?["pending"]?.GetValue<string>();
            if (left is not null && left != "0x0")
            {
                throw new InvalidOperationException($"seeding left {left} transactions unmined");
            }

            return chain;
        }
        catch
        {
            await node.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Trader i's WETH collateral and long ETH-PERP size (18 decimals). Every <paramref name="atRiskEvery"/>-th trader is levered 1.5x to 5.5x: under
    /// portfolio margin (the worst loss of a -15% spot move) such an account falls below maintenance once ETH is under
    /// about L x 3000 / (0.85 (1 + L)), i.e. between about 2,100 and 2,950 USD, along the benchmark's price path. The
    /// others are 0.2x to 1x and stay safe on it.
    /// </summary>
    public static (BigInteger Collateral, BigInteger Size) Position(int i, int atRiskEvery)
    {
        var collateral = BigInteger.Pow(10, 18) * (1 + (i % 7));
        var leverageBps = i % atRiskEvery == 0 ? 15_000 + ((i / atRiskEvery) * 7919 % 40_000) : 2_000 + (i * 31 % 8_000);
        return (collateral, collateral * leverageBps / 10_000);
    }

    public static string Trader(int index) => "0xbeef" + index.ToString("x36", CultureInfo.InvariantCulture);

    /// <summary>Queues the ETH feed's new answer (unmined); the caller mines it.</summary>
    public Task QueuePriceAsync(decimal usd, CancellationToken cancellationToken) =>
        CallAsync(
            [Send(DevAccounts.Deployer.Address, Protocol.SpotFeed("ETH"), new SetAnswerFunction { Answer = ReferenceProtocolDeployer.ToFeedUnits(usd) }.GetCallData().ToHex(true), null, 200_000)],
            cancellationToken);

    /// <summary>
    /// Mines one block now; returns its number and the Stopwatch timestamp of the moment evm_mine returned (the block
    /// is on the node then).
    /// </summary>
    public async Task<(long Block, long MinedAt)> MineAsync(CancellationToken cancellationToken)
    {
        await CallAsync([Request("evm_mine")], cancellationToken).ConfigureAwait(false);
        var minedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        return (await _rpc.BlockNumberAsync(cancellationToken).ConfigureAwait(false), minedAt);
    }

    public ValueTask DisposeAsync()
    {
        _rpc.Dispose();
        return Node.DisposeAsync();
    }

    private static JsonObject Send(string from, string to, string data, long? nonce, long gas) => AnvilBatch.SendTransaction(from, to, data, nonce, gas);

    private static JsonObject Request(string method, params JsonNode?[] parameters) => AnvilBatch.Request(method, parameters);

    private Task<JsonArray> CallAsync(IEnumerable<JsonObject> requests, CancellationToken cancellationToken) => _rpc.CallAsync(requests, cancellationToken);
}
