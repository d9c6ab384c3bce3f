using System.Globalization;
using System.Numerics;
using ChainMargin.Contracts.Devnet;
using Nethereum.Hex.HexTypes;
using Nethereum.JsonRpc.Client;
using Nethereum.Signer;
using Nethereum.Web3;

namespace ChainMargin.Aave.Tests;

/// <summary>anvil's dev RPC methods the scenarios need: fund accounts, jump time, mine.</summary>
internal sealed class DevChain
{
    private readonly Web3 _web3;

    public DevChain(AnvilNode node)
    {
        Node = node;
        _web3 = new Web3(node.RpcUrl);
    }

    public AnvilNode Node { get; }

    /// <summary>A deterministic private key per name (keccak of the name), so test users are the same on every run.</summary>
    public static string KeyFor(string name) =>
        "0x" + Convert.ToHexString(Nethereum.Util.Sha3Keccack.Current.CalculateHash(System.Text.Encoding.UTF8.GetBytes("chainmargin-aave-" + name))).ToLowerInvariant();

    public static string AddressOf(string key) => new EthECKey(key).GetPublicAddress();

    public Task FundAsync(string address, BigInteger wei) =>
        _web3.Client.SendRequestAsync(new RpcRequest(1, "anvil_setBalance", address, new HexBigInteger(wei).HexValue));

    /// <summary>Lets the node sign for the address (test users; local signing is slow and proves nothing here).</summary>
    public Task ImpersonateAsync(string address) =>
        _web3.Client.SendRequestAsync(new RpcRequest(1, "anvil_impersonateAccount", address));

    public async Task<long> BlockNumberAsync() => (long)(await _web3.Eth.Blocks.GetBlockNumber.SendRequestAsync()).Value;

    public async Task<long> TimestampAsync(long block) =>
        (long)(await _web3.Eth.Blocks.GetBlockWithTransactionsHashesByNumber.SendRequestAsync(new HexBigInteger(block))).Timestamp.Value;

    /// <summary>Sets the next block's timestamp (deterministic time jumps; evm_increaseTime is unreliable with intervals).</summary>
    public Task SetNextTimestampAsync(long timestamp) =>
        _web3.Client.SendRequestAsync(new RpcRequest(1, "evm_setNextBlockTimestamp", timestamp.ToString(CultureInfo.InvariantCulture)));

    public async Task MineAsync(long timestamp)
    {
        await SetNextTimestampAsync(timestamp);
        await _web3.Client.SendRequestAsync(new RpcRequest(1, "evm_mine"));
    }
}
