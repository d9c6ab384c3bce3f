using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Contracts.Erc20;
using ChainMargin.Contracts.Reference;
using Nethereum.Contracts;
using Nethereum.Hex.HexConvertors.Extensions;

namespace ChainMargin.Bench;

/// <summary>A local anvil chain holding the seeded vault deposits, and where they are.</summary>
internal sealed class SeededChain : IAsyncDisposable
{
    public SeededChain(AnvilNode node, DeployedProtocol protocol, long firstBlock, long lastBlock, int events, TimeSpan seedTime)
    {
        Node = node;
        Protocol = protocol;
        FirstBlock = firstBlock;
        LastBlock = lastBlock;
        Events = events;
        SeedTime = seedTime;
    }

    public AnvilNode Node { get; }

    public DeployedProtocol Protocol { get; }

    /// <summary>The first block holding a seeded deposit (the watcher's start block).</summary>
    public long FirstBlock { get; }

    public long LastBlock { get; }

    public int Events { get; }

    public TimeSpan SeedTime { get; }

    public ValueTask DisposeAsync() => Node.DisposeAsync();
}

/// <summary>
/// Seeds vault Deposited events fast: anvil runs with --auto-impersonate, so the depositors are plain addresses with
/// no keys and nothing is signed here; automine is off and each block is one JSON-RPC batch of eth_sendTransaction
/// (explicit nonce and gas, so anvil neither looks them up nor estimates) followed by evm_mine.
/// </summary>
internal static class IndexingSeeder
{
    public const ulong ChainId = 48_901;

    public static async Task<SeededChain> SeedAsync(int events, int perBlock, int accounts, CancellationToken cancellationToken)
    {
        var started = Stopwatch.StartNew();
        var node = await AnvilNode.StartAsync(ChainId, extraArgs: "--auto-impersonate", cancellationToken: cancellationToken).ConfigureAwait(false);
        try
        {
            var protocol = await ReferenceProtocolDeployer.DeployAsync(node.RpcUrl, AnvilNode.DeployerKey, ChainId, cancellationToken: cancellationToken)
                .ConfigureAwait(false);
            using var rpc = new AnvilBatch(new Uri(node.RpcUrl));
            await rpc.CallAsync([Request("evm_setAutomine", false), Request("evm_setBlockGasLimit", "0x2540be400")], cancellationToken).ConfigureAwait(false);

            var tokens = new[] { protocol.Usdc, protocol.Wbtc, protocol.Weth };
            var depositors = Enumerable.Range(0, accounts).Select(Depositor).ToArray();

            // Gas money and tokens for every depositor, and the vault's allowance: nonces 0 and 1, one block.
            // anvil may answer the calls of one batch concurrently: what must come first is sent first, and every
            // evm_mine goes alone after its block's batch.
            await rpc.CallAsync(depositors.Select(d => Request("anvil_setBalance", d, "0x3635c9adc5dea00000")), cancellationToken).ConfigureAwait(false);
            var setup = new List<JsonObject>();
            for (var i = 0; i < accounts; i++)
            {
                var token = tokens[i % tokens.Length];
                setup.Add(Send(depositors[i], token, new MintFunction { To = depositors[i], Amount = BigInteger.Pow(10, 30) }.GetCallData().ToHex(true), 0));
                setup.Add(Send(depositors[i], token, new ApproveFunction { Spender = protocol.Vault, Amount = BigInteger.Pow(10, 30) }.GetCallData().ToHex(true), 1));
            }

            await rpc.CallAsync(setup, cancellationToken).ConfigureAwait(false);
            await rpc.CallAsync([Request("evm_mine")], cancellationToken).ConfigureAwait(false);

            // Deposit calldata depends only on the token: three templates.
            var deposits = tokens.Select(t => new DepositFunction { Token = t, Amount = 1_000_000 }.GetCallData().ToHex(true)).ToArray();
            var firstBlock = await rpc.BlockNumberAsync(cancellationToken).ConfigureAwait(false) + 1;
            for (var sent = 0; sent < events; sent += perBlock)
            {
                var batch = new List<JsonObject>(perBlock);
                for (var k = sent; k < Math.Min(events, sent + perBlock); k++)
                {
                    var account = k % accounts;
                    batch.Add(Send(depositors[account], protocol.Vault, deposits[account % tokens.Length], 2 + (k / accounts)));
                }

                await rpc.CallAsync(batch, cancellationToken).ConfigureAwait(false);
                await rpc.CallAsync([Request("evm_mine")], cancellationToken).ConfigureAwait(false);
            }

            var lastBlock = await rpc.BlockNumberAsync(cancellationToken).ConfigureAwait(false);
            var pending = await rpc.CallAsync([Request("txpool_status")], cancellationToken).ConfigureAwait(false);
            var left = pending[0]?["result"]?["pending"]?.GetValue<string>();
            if (left is not null && left != "0x0")
            {
                throw new InvalidOperationException($"seeding left {left} transactions unmined (block gas limit?)");
            }

            return new SeededChain(node, protocol, firstBlock, lastBlock, events, started.Elapsed);
        }
        catch
        {
            await node.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>A depositor address with no key (anvil impersonates it); far from precompiles and dev accounts.</summary>
    private static string Depositor(int index) => "0xc0ffee" + index.ToString("x34", CultureInfo.InvariantCulture);

    private static JsonObject Send(string from, string to, string data, long nonce) => AnvilBatch.SendTransaction(from, to, data, nonce, 200_000);

    private static JsonObject Request(string method, params JsonNode?[] parameters) => AnvilBatch.Request(method, parameters);
}
