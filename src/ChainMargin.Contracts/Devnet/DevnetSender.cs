using System.Numerics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Nethereum.Contracts;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Signer;
using Nethereum.Util;
using Nethereum.Web3;
using Nethereum.Web3.Accounts;
using Transaction1559 = Nethereum.Model.Transaction1559;

namespace ChainMargin.Contracts.Devnet;

/// <summary>
/// Sends many transactions from one key quickly, for devnet set-up. Transactions are signed here (nonces counted
/// locally, fixed gas limits and fees, hashes and CREATE addresses computed locally) and queued; <see cref="FlushAsync"/>
/// sends the queue as one JSON-RPC batch, and <see cref="VerifyAsync"/> waits until every transaction is mined and
/// checks that none reverted. Nonce order makes the node execute them in the order they were queued, so a queued call
/// can use a contract queued before it.
/// </summary>
public sealed class DevnetSender
{
    public static readonly BigInteger DeployGas = 8_000_000;
    public static readonly BigInteger CallGas = 1_000_000;

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(60) };
    private static readonly Transaction1559Signer Signer = new();

    private readonly Uri _rpcUrl;
    private readonly EthECKey _key;
    private readonly BigInteger _chainId;
    private readonly BigInteger _maxFee;
    private readonly BigInteger _priorityFee;
    private readonly List<JsonObject> _queue = [];
    private readonly List<string> _queueLabels = [];
    private readonly List<(string Hash, string Label, string Raw)> _unverified = [];
    private BigInteger _nonce;
    private long _requestId;

    private DevnetSender(string rpcUrl, Account account, BigInteger nonce, BigInteger gasPrice)
    {
        _rpcUrl = new Uri(rpcUrl);
        Web3 = new Web3(account, rpcUrl);
        Address = account.Address.ToLowerInvariant();
        _key = new EthECKey(account.PrivateKey);
        _chainId = account.ChainId ?? throw new ArgumentException("the account needs a chain id", nameof(account));
        _nonce = nonce;
        // Twice the current price plus a tip leaves room for the base fee to rise while the batch is mined.
        _priorityFee = 1_000_000_000;
        _maxFee = (gasPrice * 2) + _priorityFee;
    }

    /// <summary>A Nethereum client for the same node and key, for reads.</summary>
    public Web3 Web3 { get; }

    public string Address { get; }

    public BigInteger NextNonce => _nonce;

    public static async Task<DevnetSender> CreateAsync(string rpcUrl, string privateKey, ulong chainId, CancellationToken cancellationToken = default)
    {
        // Selects Nethereum's libsecp256k1 signer (NBitcoin.Secp256k1) over its BouncyCastle one for the process: the
        // same deterministic, low-s signatures, about four times faster, which is most of a deployment's CPU time.
        EthECKey.SignRecoverable = true;
        var account = new Account(privateKey, chainId);
        var web3 = new Web3(rpcUrl);
        var nonceTask = web3.Eth.Transactions.GetTransactionCount.SendRequestAsync(account.Address, BlockParameter.CreatePending());
        var priceTask = web3.Eth.GasPrice.SendRequestAsync();
        await Task.WhenAll(nonceTask, priceTask).WaitAsync(cancellationToken).ConfigureAwait(false);
        return new DevnetSender(rpcUrl, account, (await nonceTask.ConfigureAwait(false)).Value, (await priceTask.ConfigureAwait(false)).Value);
    }

    /// <summary>Queues a deployment; returns the address the contract will get (CREATE: sender and nonce).</summary>
    public string QueueDeployment<TDeployment>(TDeployment deployment, string label)
        where TDeployment : ContractDeploymentMessage, new()
    {
        var address = ContractUtils.CalculateContractAddress(Address, _nonce).ToLowerInvariant();
        var input = deployment.CreateTransactionInput();
        Queue(null, input.Data, DeployGas, label);
        return address;
    }

    /// <summary>Queues a call to <paramref name="contract"/>; returns its transaction hash.</summary>
    public string QueueCall<TFunction>(string contract, TFunction function, string label)
        where TFunction : FunctionMessage, new()
    {
        ArgumentNullException.ThrowIfNull(function);
        var input = function.CreateTransactionInput(contract);
        return Queue(contract, input.Data, function.Gas is { } gas && gas > 0 ? gas : CallGas, label);
    }

    /// <summary>
    /// Signs a call with an explicit nonce without queueing or sending it, e.g. for anvil_reorg to put into a
    /// replacement block. The sender's own nonce count is not touched.
    /// </summary>
    public string SignCall<TFunction>(string contract, TFunction function, BigInteger nonce)
        where TFunction : FunctionMessage, new()
    {
        ArgumentNullException.ThrowIfNull(function);
        var input = function.CreateTransactionInput(contract);
        return Sign(nonce, contract, input.Data, function.Gas is { } gas && gas > 0 ? gas : CallGas);
    }

    /// <summary>Queues a raw JSON-RPC request (anvil_setCode, ...), sent in order with the transactions.</summary>
    public void QueueRpc(string method, params object[] parameters) => Enqueue(method, JsonSerializer.SerializeToNode(parameters)!, method);

    /// <summary>Queues and sends a deployment at once.</summary>
    public async Task<string> DeployAsync<TDeployment>(TDeployment deployment, string label, CancellationToken cancellationToken = default)
        where TDeployment : ContractDeploymentMessage, new()
    {
        var address = QueueDeployment(deployment, label);
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        return address;
    }

    /// <summary>Queues and sends a call at once; returns its transaction hash.</summary>
    public async Task<string> SendAsync<TFunction>(string contract, TFunction function, string label, CancellationToken cancellationToken = default)
        where TFunction : FunctionMessage, new()
    {
        var hash = QueueCall(contract, function, label);
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        return hash;
    }

    /// <summary>Sends everything queued as one JSON-RPC batch; throws naming the first request the node refused.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        if (_queue.Count == 0)
        {
            return;
        }

        var batch = new JsonArray([.. _queue]);
        var labels = _queueLabels.ToArray();
        _queue.Clear();
        _queueLabels.Clear();
        var responses = await PostAsync(batch, cancellationToken).ConfigureAwait(false);
        var byId = responses.AsArray().ToDictionary(r => r!["id"]!.GetValue<long>(), r => r!);
        for (var i = 0; i < labels.Length; i++)
        {
            var id = batch[i]!["id"]!.GetValue<long>();
            if (!byId.TryGetValue(id, out var response))
            {
                throw new InvalidOperationException($"{labels[i]}: the node sent no response");
            }

            if (response["error"] is { } error)
            {
                throw new InvalidOperationException($"{labels[i]}: the node refused it: {error.ToJsonString()}");
            }
        }
    }

    /// <summary>
    /// Flushes, then waits until every transaction sent so far is mined and checks none reverted. With automine
    /// every transaction is mined on arrival; if some still wait (a full block, or automine off), a block is mined.
    /// </summary>
    public async Task VerifyAsync(CancellationToken cancellationToken = default)
    {
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        var pending = _unverified.ToList();
        _unverified.Clear();
        var deadline = Environment.TickCount64 + 60_000;
        var stuckAfter = Environment.TickCount64 + 5_000;
        var nextMine = Environment.TickCount64 + 500;
        while (pending.Count > 0)
        {
            var batch = new JsonArray();
            foreach (var (hash, _, _) in pending)
            {
                batch.Add(Request("eth_getTransactionReceipt", new JsonArray(hash)));
            }

            var responses = (await PostAsync(batch, cancellationToken).ConfigureAwait(false)).AsArray()
                .ToDictionary(r => r!["id"]!.GetValue<long>(), r => r!["result"]);
            var stillPending = new List<(string Hash, string Label, string Raw)>();
            for (var i = 0; i < pending.Count; i++)
            {
                var receipt = responses.GetValueOrDefault(batch[i]!["id"]!.GetValue<long>());
                if (receipt is null)
                {
                    stillPending.Add(pending[i]);
                }
                else if (receipt["status"]?.GetValue<string>() != "0x1")
                {
                    throw new InvalidOperationException($"{pending[i].Label}: transaction {pending[i].Hash} reverted");
                }
            }

            pending = stillPending;
            if (pending.Count == 0)
            {
                break;
            }

            if (Environment.TickCount64 > deadline)
            {
                throw new TimeoutException($"{pending[0].Label}: transaction {pending[0].Hash} was not mined within 60 s");
            }

            if (Environment.TickCount64 > nextMine)
            {
                await ResendForgottenAsync(pending, Environment.TickCount64 > stuckAfter, cancellationToken).ConfigureAwait(false);
                await PostAsync(new JsonArray(Request("evm_mine", new JsonArray())), cancellationToken).ConfigureAwait(false);
                nextMine = Environment.TickCount64 + 500;
            }

            await Task.Delay(5, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A transaction the node accepted but no longer knows (seen once in CI: never mined, not in the pool) is sent
    /// again, the same signed bytes, so it cannot execute twice. Once <paramref name="stuck"/> (five seconds of blocks
    /// mined without them), the node's pool is emptied and they are sent again, one at a time in nonce order: anvil once
    /// kept a transaction "queued" with the account's current nonce through 100 mined blocks (a test fixture's deploy
    /// on a loaded machine), apparently filed behind a lower nonce that arrived after it; anvil_dropTransaction does not
    /// reach the queued part of the pool, and a resend alone is refused as already imported. Emptying the pool, then
    /// resending, mined it (tried on that very node). Other senders' transactions dropped with it are unknown to the
    /// node afterwards, which their own verification resends.
    /// </summary>
    private async Task ResendForgottenAsync(List<(string Hash, string Label, string Raw)> pending, bool stuck, CancellationToken cancellationToken)
    {
        if (stuck)
        {
            await PostAsync(new JsonArray(Request("anvil_dropAllTransactions", new JsonArray())), cancellationToken).ConfigureAwait(false);
            foreach (var (_, _, raw) in pending)
            {
                await PostAsync(new JsonArray(Request("eth_sendRawTransaction", new JsonArray(raw))), cancellationToken).ConfigureAwait(false);
            }

            return;
        }

        var lookups = new JsonArray();
        foreach (var (hash, _, _) in pending)
        {
            lookups.Add(Request("eth_getTransactionByHash", new JsonArray(hash)));
        }

        var known = (await PostAsync(lookups, cancellationToken).ConfigureAwait(false)).AsArray()
            .ToDictionary(r => r!["id"]!.GetValue<long>(), r => r!["result"]);
        var resend = new JsonArray();
        for (var i = 0; i < pending.Count; i++)
        {
            if (known.GetValueOrDefault(lookups[i]!["id"]!.GetValue<long>()) is null)
            {
                resend.Add(Request("eth_sendRawTransaction", new JsonArray(pending[i].Raw)));
            }
        }

        if (resend.Count > 0)
        {
            // An error here ("already known", "nonce too low") means the node has it after all: the receipts decide.
            await PostAsync(resend, cancellationToken).ConfigureAwait(false);
        }
    }

    private string Queue(string? to, string data, BigInteger gas, string label)
    {
        var raw = Sign(_nonce, to, data, gas);
        var hash = Sha3Keccack.Current.CalculateHash(raw.HexToByteArray()).ToHex(prefix: true);
        _nonce++;
        Enqueue("eth_sendRawTransaction", new JsonArray(raw), label);
        _unverified.Add((hash, label, raw));
        return hash;
    }

    private string Sign(BigInteger nonce, string? to, string data, BigInteger gas)
    {
        var transaction = new Transaction1559(_chainId, nonce, _priorityFee, _maxFee, gas, to ?? "", BigInteger.Zero, data, []);
        return Signer.SignTransaction(_key, transaction).EnsureHexPrefix();
    }

    private void Enqueue(string method, JsonNode parameters, string label)
    {
        _queue.Add(Request(method, parameters));
        _queueLabels.Add(label);
    }

    private JsonObject Request(string method, JsonNode parameters) => new()
    {
        ["jsonrpc"] = "2.0",
        ["id"] = Interlocked.Increment(ref _requestId),
        ["method"] = method,
        ["params"] = parameters,
    };

    private async Task<JsonNode> PostAsync(JsonArray batch, CancellationToken cancellationToken)
    {
        using var content = new StringContent(batch.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await Http.PostAsync(_rpcUrl, content, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        var node = JsonNode.Parse(body) ?? throw new InvalidOperationException("empty JSON-RPC response");
        return node is JsonArray ? node : new JsonArray(node);
    }
}
