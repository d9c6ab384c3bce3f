using System.Numerics;
using Nethereum.Contracts;
using Transaction1559 = Nethereum.Model.Transaction1559;
using Nethereum.JsonRpc.Client;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Signer;
using Nethereum.Util;
using Nethereum.Web3;
using Nethereum.Web3.Accounts;

namespace ChainMargin.Contracts.Devnet;

/// <summary>
/// Sends many transactions from one key quickly: nonces counted locally, fixed gas limits and fees, signed here and
/// sent raw, no receipt awaited per transaction. Anvil automines each one as it arrives, so a later transaction can
/// rely on an earlier one; <see cref="VerifyAsync"/> then checks every receipt at once.
/// </summary>
public sealed class DevnetSender
{
    public static readonly BigInteger DeployGas = 8_000_000;
    public static readonly BigInteger CallGas = 1_000_000;

    private static readonly Transaction1559Signer Signer = new();

    private readonly Account _account;
    private readonly EthECKey _key;
    private readonly BigInteger _chainId;
    private readonly List<(string Hash, string Label)> _sent = [];
    private readonly BigInteger _maxFee;
    private readonly BigInteger _priorityFee;
    private BigInteger _nonce;

    private DevnetSender(Web3 web3, Account account, BigInteger nonce, BigInteger gasPrice)
    {
        Web3 = web3;
        _account = account;
        _key = new EthECKey(account.PrivateKey);
        _chainId = account.ChainId ?? throw new ArgumentException("the account needs a chain id", nameof(account));
        _nonce = nonce;
        // Twice the current price plus a tip leaves room for the base fee to rise while the batch is mined.
        _priorityFee = 1_000_000_000;
        _maxFee = (gasPrice * 2) + _priorityFee;
    }

    public Web3 Web3 { get; }

    public string Address => _account.Address;

    public BigInteger NextNonce => _nonce;

    public static async Task<DevnetSender> CreateAsync(string rpcUrl, string privateKey, ulong chainId, CancellationToken cancellationToken = default)
    {
        var account = new Account(privateKey, chainId);
        var web3 = new Web3(account, rpcUrl);
        var nonceTask = web3.Eth.Transactions.GetTransactionCount.SendRequestAsync(account.Address, BlockParameter.CreatePending());
        var priceTask = web3.Eth.GasPrice.SendRequestAsync();
        await Task.WhenAll(nonceTask, priceTask).WaitAsync(cancellationToken).ConfigureAwait(false);
        return new DevnetSender(web3, account, (await nonceTask.ConfigureAwait(false)).Value, (await priceTask.ConfigureAwait(false)).Value);
    }

    /// <summary>Sends a deployment and returns the address the contract gets (CREATE: sender and nonce).</summary>
    public async Task<string> DeployAsync<TDeployment>(TDeployment deployment, string label, CancellationToken cancellationToken = default)
        where TDeployment : ContractDeploymentMessage, new()
    {
        var address = ContractUtils.CalculateContractAddress(_account.Address, _nonce).ToLowerInvariant();
        var input = deployment.CreateTransactionInput();
        await SendAsync(input, DeployGas, label, cancellationToken).ConfigureAwait(false);
        return address;
    }

    /// <summary>Sends a call to <paramref name="contract"/> and returns its transaction hash.</summary>
    public Task<string> SendAsync<TFunction>(string contract, TFunction function, string label, CancellationToken cancellationToken = default)
        where TFunction : FunctionMessage, new()
    {
        var input = function.CreateTransactionInput(contract);
        return SendAsync(input, function.Gas?.IsZero == false ? function.Gas.Value : CallGas, label, cancellationToken);
    }

    /// <summary>Checks that every transaction sent so far was mined and succeeded; names the first that did not.</summary>
    public async Task VerifyAsync(CancellationToken cancellationToken = default)
    {
        var pending = _sent.ToArray();
        _sent.Clear();
        var receipts = await Task.WhenAll(pending.Select(p => Web3.Eth.Transactions.GetTransactionReceipt.SendRequestAsync(p.Hash)))
            .WaitAsync(cancellationToken).ConfigureAwait(false);

        // anvil mines on send, but under load the receipt can lag the send's answer by a moment: poll briefly.
        for (var attempt = 0; attempt < 100 && receipts.Any(r => r is null); attempt++)
        {
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
            receipts = await Task.WhenAll(pending.Select(p => Web3.Eth.Transactions.GetTransactionReceipt.SendRequestAsync(p.Hash)))
                .WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        for (var i = 0; i < pending.Length; i++)
        {
            if (receipts[i] is null)
            {
                throw new InvalidOperationException($"{pending[i].Label}: transaction {pending[i].Hash} was not mined (is automine off?)");
            }

            if (receipts[i].Status?.Value != 1)
            {
                throw new InvalidOperationException($"{pending[i].Label}: transaction {pending[i].Hash} reverted");
            }
        }
    }

    /// <summary>A raw JSON-RPC call (anvil_*, evm_*), for methods Nethereum has no typed request for.</summary>
    public Task<T> RpcAsync<T>(string method, params object[] parameters) =>
        Web3.Client.SendRequestAsync<T>(new RpcRequest(Guid.NewGuid().ToString("N"), method, parameters));

    private async Task<string> SendAsync(TransactionInput input, BigInteger gas, string label, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        // Signed here rather than through the account's transaction manager, which would ask the node for what we
        // already know (nonce, fees) on every transaction.
        var transaction = new Transaction1559(
            _chainId, _nonce, _priorityFee, _maxFee, gas, input.To ?? "", input.Value?.Value ?? BigInteger.Zero, input.Data, []);
        var raw = Signer.SignTransaction(_key, transaction);
        var hash = await Web3.Eth.Transactions.SendRawTransaction
            .SendRequestAsync(raw.StartsWith("0x", StringComparison.Ordinal) ? raw : "0x" + raw).ConfigureAwait(false);
        _nonce++;
        _sent.Add((hash, label));
        return hash;
    }
}
