using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Contracts.Erc20;
using ChainMargin.Contracts.Reference;
using ChainMargin.Host.Devnet;
using ChainMargin.Indexing.Decoding;
using ChainMargin.Testing;
using Nethereum.Contracts;
using Nethereum.Hex.HexConvertors.Extensions;

namespace ChainMargin.EndToEnd.Tests.Indexer;

/// <summary>
/// One anvil chain with the reference protocol and a few thousand logs spread over a couple of hundred blocks
/// (deposits of three tokens by many accounts, withdrawals, price rounds), and the result of a clean, uninterrupted
/// `chainmargin backfill` of it into PostgreSQL: the reference every crashed or taken-over run must equal.
/// </summary>
public sealed class SeededChainFixture : IAsyncLifetime, IDisposable
{
    public const ulong ChainId = 64_071;

    public const string ChainName = "crash";

    /// <summary>Seeded blocks after the deployment; with <see cref="CommitBlocks"/> they make about twenty commits.</summary>
    public const int SeededBlocks = 200;

    public const int CommitBlocks = 10;

    private const int DepositsPerBlock = 16;
    private const int Depositors = 40;

    private AnvilNode? _node;
    private AnvilBatch? _rpc;
    private DeployedProtocol? _protocol;
    private string? _directory;

    public AnvilNode Node => _node ?? throw new InvalidOperationException("not initialised");

    public DeployedProtocol Protocol => _protocol ?? throw new InvalidOperationException("not initialised");

    public long Head { get; private set; }

    /// <summary>
    /// Admin and bookkeeping events of the watched contracts that carry no fact: the indexer skips them by design (every
    /// other log is stored, as a fact or as a rejected log with its reason).
    /// </summary>
    private static readonly HashSet<string> SkippedEvents = new(
        new[]
        {
            "NewRound(uint256,address,uint256)", "OwnershipTransferred(address,address)", "BadDebt(address,address,uint256)",
            "InsuranceFunded(address,address,uint256)", "MarketSet(address,bool)", "CollateralListed(address)", "LiquidatorSet(address)",
            "Transfer(address,address,uint256)", "Approval(address,address,uint256)",
        }.Select(EventDecoder.Topic),
        StringComparer.OrdinalIgnoreCase);

    /// <summary>Every (block hash, log index) the watched contracts logged that carries a fact, sorted: what a complete index holds once.</summary>
    public IReadOnlyList<string> ChainLogKeys { get; private set; } = [];

    /// <summary>The checksum text (row count and digest per table) of the clean run.</summary>
    public string CleanChecksum { get; private set; } = "";

    public async Task InitializeAsync()
    {
        _directory = Directory.CreateTempSubdirectory("cm-crash-").FullName;
        _node = await AnvilNode.StartAsync(ChainId, extraArgs: "--auto-impersonate");
        _rpc = new AnvilBatch(new Uri(_node.RpcUrl), TimeSpan.FromMinutes(2));
        _protocol = await ReferenceProtocolDeployer.DeployAsync(Node.RpcUrl, AnvilNode.DeployerKey, ChainId);
        await SeedAsync();
        Head = await BlockNumberAsync();
        ChainLogKeys = await ChainLogKeysAsync();

        await using var database = await PostgresDatabase.CreateAsync("cm_clean");
        await using (var clean = IndexerProcess.Start(ChainsFile(Node.RpcUrl), database.ConnectionString))
        {
            var code = await clean.WaitForExitAsync(TimeSpan.FromMinutes(3));
            Assert.True(code == 0, "the clean backfill failed:\n" + clean.Output);
        }

        var index = new IndexDatabase(database.ConnectionString);
        Assert.Equal(Head, await index.CheckpointAsync(ChainId));
        IndexDatabase.AssertSameKeys(ChainLogKeys, await index.FactKeysAsync(ChainId));
        CleanChecksum = await index.ChecksumAsync(ChainId);

        // The chains file names Multicall3: the first commit stored the feeds' state read at its last block, then every
        // commit inside the finality window (the backfill spans between read nothing), the checkpoint's among them.
        Assert.True(await index.ScalarAsync<long>("select count(distinct block_number) from feed_states where chain_id = @chain and answer is not null", ChainId) >= 2);
        Assert.True(await index.ScalarAsync<long>($"select count(*) from feed_states where chain_id = @chain and answer is not null and block_number = {Head}", ChainId) > 0);
    }

    public void Dispose() => _rpc?.Dispose();

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }

        if (_directory is not null)
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    /// <summary>Writes a chains file for the `chainmargin` process that reaches the chain through <paramref name="rpcUrl"/>.</summary>
    public string ChainsFile(string rpcUrl)
    {
        var file = Path.Combine(_directory!, "chains-" + Guid.NewGuid().ToString("N") + ".json");
        File.WriteAllText(file, Devnet.ChainsJson([new DevnetChain(ChainName, ChainId, new Uri(rpcUrl).Port)], [Protocol]));
        return file;
    }

    /// <summary>The block a span committed by the watcher ends at: spans are [0, 9], [10, 19], ... from start block 0.</summary>
    public static long SpanEnd(int span) => ((long)span * CommitBlocks) + CommitBlocks - 1;

    /// <summary>
    /// Blocks of one JSON-RPC batch of impersonated transactions each (no signing: anvil runs with --auto-impersonate),
    /// mined one by one, so the chain is seeded in seconds.
    /// </summary>
    private async Task SeedAsync()
    {
        var rpc = _rpc!;
        await rpc.CallAsync([Request("evm_setAutomine", false)]);
        var tokens = new[] { Protocol.Usdc, Protocol.Wbtc, Protocol.Weth };
        var depositors = Enumerable.Range(0, Depositors).Select(i => "0xdecaf0" + i.ToString("x34", CultureInfo.InvariantCulture)).ToArray();
        var nonces = depositors.ToDictionary(d => d, _ => 0L);
        nonces[Protocol.Deployer] = await NonceAsync(rpc, Protocol.Deployer);

        await rpc.CallAsync(depositors.Select(d => Request("anvil_setBalance", d, "0x3635c9adc5dea00000")));
        var setup = new List<JsonObject>();
        for (var i = 0; i < Depositors; i++)
        {
            var token = tokens[i % tokens.Length];
            setup.Add(Send(nonces, depositors[i], token, new MintFunction { To = depositors[i], Amount = BigInteger.Pow(10, 30) }.GetCallData().ToHex(true)));
            setup.Add(Send(nonces, depositors[i], token, new ApproveFunction { Spender = Protocol.Vault, Amount = BigInteger.Pow(10, 30) }.GetCallData().ToHex(true)));
        }

        await rpc.CallAsync(setup);
        await rpc.CallAsync([Request("evm_mine")]);

        var ethFeed = Protocol.SpotFeed("ETH");
        for (var block = 0; block < SeededBlocks; block++)
        {
            var batch = new List<JsonObject>();
            for (var k = 0; k < DepositsPerBlock; k++)
            {
                var account = ((block * DepositsPerBlock) + k) % Depositors;
                var amount = 1_000_000 + (block * 1_000) + k;
                batch.Add(Send(nonces, depositors[account], Protocol.Vault, new DepositFunction { Token = tokens[account % tokens.Length], Amount = amount }.GetCallData().ToHex(true)));
            }

            if (block % 4 == 3)
            {
                for (var k = 0; k < 4; k++)
                {
                    var account = (block + (k * 7)) % Depositors;
                    batch.Add(Send(nonces, depositors[account], Protocol.Vault, new WithdrawFunction { Token = tokens[account % tokens.Length], Amount = 1_000 + block }.GetCallData().ToHex(true)));
                }
            }

            if (block % 10 == 5)
            {
                batch.Add(Send(nonces, Protocol.Deployer, ethFeed, new SetAnswerFunction { Answer = new BigInteger(3_000_00000000L + (block * 1_000_000L)) }.GetCallData().ToHex(true)));
            }

            await rpc.CallAsync(batch);
            await rpc.CallAsync([Request("evm_mine")]);
        }

        var pending = await rpc.CallAsync([Request("txpool_status")]);
        Assert.Equal("0x0", pending[0]?["result"]?["pending"]?.GetValue<string>());
        await rpc.CallAsync([Request("evm_setAutomine", true)]);
    }

    private async Task<List<string>> ChainLogKeysAsync()
    {
        string[] addresses = [Protocol.Vault, Protocol.PerpMarket, Protocol.OptionMarket, .. Protocol.Feeds.Select(f => f.Address)];
        var filter = new JsonObject
        {
            ["fromBlock"] = "0x0",
            ["toBlock"] = "0x" + Head.ToString("x", CultureInfo.InvariantCulture),
            ["address"] = new JsonArray([.. addresses.Select(a => (JsonNode)a.ToLowerInvariant())]),
        };
        var rpc = _rpc!;
        var answer = await rpc.CallAsync([Request("eth_getLogs", filter)]);
        var keys = answer[0]!["result"]!.AsArray()
            .Where(log => !SkippedEvents.Contains(log!["topics"]![0]!.GetValue<string>()))
            .Select(log => log!["blockHash"]!.GetValue<string>().ToLowerInvariant() + ":" +
                           long.Parse(log["logIndex"]!.GetValue<string>().AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture))
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.True(keys.Count > SeededBlocks * DepositsPerBlock, $"the chain has only {keys.Count} logs");
        return keys;
    }

    private Task<long> BlockNumberAsync() => _rpc!.BlockNumberAsync();

    private static async Task<long> NonceAsync(AnvilBatch rpc, string address)
    {
        var answer = await rpc.CallAsync([Request("eth_getTransactionCount", address, "latest")]);
        return long.Parse(answer[0]!["result"]!.GetValue<string>().AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }

    private static JsonObject Send(Dictionary<string, long> nonces, string from, string to, string data) =>
        AnvilBatch.SendTransaction(from, to, data, nonces[from]++, 200_000);

    private static JsonObject Request(string method, params JsonNode?[] parameters) => AnvilBatch.Request(method, parameters);
}
