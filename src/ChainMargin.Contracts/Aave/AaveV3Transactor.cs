using System.Numerics;
using Nethereum.Contracts;
using Nethereum.Hex.HexTypes;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.RPC.NonceServices;
using Nethereum.Web3;
using Nethereum.Web3.Accounts;

namespace ChainMargin.Contracts.Aave;

/// <summary>
/// Sends one account's transactions back to back to a dev chain that mines each one at once (anvil automine): nonces
/// are counted locally, fees are fixed (no fee queries), and every gas estimate gets a margin, because anvil estimates
/// against the latest block while the transaction lands in the next one, where Aave's interest update costs slightly
/// more. A reverted transaction throws with its hash. When the node itself holds the account (anvil's unlocked dev
/// accounts, or an impersonated one), the node signs: Nethereum's local secp256k1 signing costs about 90 ms a
/// transaction here, far more than anvil takes to execute and mine it.
/// </summary>
public sealed class AaveV3Transactor
{
    private static readonly HexBigInteger MaxFeePerGas = new(new BigInteger(50_000_000_000));
    private static readonly HexBigInteger MaxPriorityFeePerGas = new(new BigInteger(1_000_000_000));

    /// <summary>Signs locally with the key.</summary>
    public AaveV3Transactor(string rpcUrl, ulong chainId, string privateKey)
    {
        var account = new Account(privateKey, new BigInteger(chainId));
        Web3 = new Web3(account, rpcUrl);
        account.NonceService = new InMemoryNonceService(account.Address, Web3.Client);
        Address = account.Address;
    }

    private AaveV3Transactor(string rpcUrl, string address)
    {
        Web3 = new Web3(rpcUrl);
        Address = address;
    }

    /// <summary>Sends through eth_sendTransaction: the node signs (an unlocked or impersonated dev account).</summary>
    public static AaveV3Transactor NodeSigned(string rpcUrl, string address) => new(rpcUrl, address);

    /// <summary>Lets the node sign when it holds the key's account (eth_accounts lists it), else signs locally.</summary>
    public static async Task<AaveV3Transactor> ForKeyAsync(string rpcUrl, ulong chainId, string privateKey)
    {
        var address = new Nethereum.Signer.EthECKey(privateKey).GetPublicAddress();
        string[] accounts;
        try
        {
            accounts = await new Web3(rpcUrl).Eth.Accounts.SendRequestAsync().ConfigureAwait(false) ?? [];
        }
        catch (Nethereum.JsonRpc.Client.RpcResponseException)
        {
            accounts = []; // providers that refuse eth_accounts hold no keys of ours
        }

        return accounts.Any(a => string.Equals(a, address, StringComparison.OrdinalIgnoreCase))
            ? NodeSigned(rpcUrl, address)
            : new AaveV3Transactor(rpcUrl, chainId, privateKey);
    }

    public Web3 Web3 { get; }

    /// <summary>The sender's address (checksummed).</summary>
    public string Address { get; }

    public long TransactionCount { get; private set; }

    public async Task<TransactionReceipt> SendAsync<TFunction>(string contract, TFunction message, CancellationToken cancellationToken = default)
        where TFunction : FunctionMessage, new()
    {
        ArgumentNullException.ThrowIfNull(message);
        message.FromAddress = Address;
        var input = message.CreateTransactionInput(contract);
        return await SendInputAsync(input, typeof(TFunction).Name, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deploys creation code (already linked) with constructor arguments encoded from the ABI; returns the address.</summary>
    public async Task<string> DeployAsync(AaveV3Artifact artifact, string linkedBytecode, CancellationToken cancellationToken, params object[] constructorArgs)
    {
        ArgumentNullException.ThrowIfNull(artifact);
        // Nethereum's encoder needs a constructor in the ABI; libraries and argument-less contracts have none.
        var data = constructorArgs.Length == 0 ? linkedBytecode : Web3.Eth.DeployContract.GetData(linkedBytecode, artifact.Abi, constructorArgs);
        var input = new TransactionInput { From = Address, Data = data };
        var receipt = await SendInputAsync(input, "deploy " + artifact.Name, cancellationToken).ConfigureAwait(false);
        return receipt.ContractAddress ?? throw new InvalidOperationException($"deploying {artifact.Name} returned no contract address");
    }

    private async Task<TransactionReceipt> SendInputAsync(TransactionInput input, string what, CancellationToken cancellationToken)
    {
        input.From = Address;
        input.Value ??= new HexBigInteger(0);
        HexBigInteger estimate;
        try
        {
            estimate = await Web3.Eth.TransactionManager.EstimateGasAsync(input).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new InvalidOperationException($"{what} would revert: {ex.Message}", ex);
        }

        input.Gas = new HexBigInteger((estimate.Value * 13 / 10) + 50_000);
        input.MaxFeePerGas = MaxFeePerGas;
        input.MaxPriorityFeePerGas = MaxPriorityFeePerGas;
        input.Type = new HexBigInteger(2);
        var hash = await Web3.Eth.TransactionManager.SendTransactionAsync(input).ConfigureAwait(false);
        TransactionCount++;
        var receipt = await Web3.Eth.Transactions.GetTransactionReceipt.SendRequestAsync(hash).ConfigureAwait(false);
        for (var i = 0; receipt is null && i < 1000; i++)
        {
            // Automine answers at once; this only waits when interval mining is on.
            await Task.Delay(5, cancellationToken).ConfigureAwait(false);
            receipt = await Web3.Eth.Transactions.GetTransactionReceipt.SendRequestAsync(hash).ConfigureAwait(false);
        }

        if (receipt is null)
        {
            throw new TimeoutException($"{what}: no receipt for {hash}");
        }

        if (receipt.Status?.Value != 1)
        {
            throw new InvalidOperationException($"{what} reverted in {hash} (gas used {receipt.GasUsed?.Value} of {input.Gas.Value})");
        }

        return receipt;
    }
}
