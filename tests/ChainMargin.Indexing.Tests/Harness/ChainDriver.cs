using System.Globalization;
using System.Numerics;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Contracts.Erc20;
using ChainMargin.Contracts.Reference;
using ChainMargin.Testing;
using Nethereum.Contracts;
using Nethereum.Hex.HexTypes;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Web3;
using Nethereum.Web3.Accounts;

namespace ChainMargin.Indexing.Tests.Harness;

/// <summary>
/// Drives the reference protocol on one anvil chain the way users do (mint, approve, deposit, withdraw, trade, move a
/// price) and reads the contracts' own view of balances and positions, which the index must equal.
/// </summary>
public sealed class ChainDriver
{
    private readonly Web3 _reader;

    public ChainDriver(string rpcUrl, ulong chainId, DeployedProtocol protocol)
    {
        RpcUrl = rpcUrl;
        ChainId = chainId;
        Protocol = protocol;
        Anvil = new AnvilRpc(rpcUrl);
        _reader = new Web3(rpcUrl);
    }

    public ChainDriver(AnvilProtocolFixture fixture)
        : this(fixture.RpcUrl, fixture.ChainId, fixture.Protocol)
    {
    }

    public string RpcUrl { get; }

    public ulong ChainId { get; }

    public DeployedProtocol Protocol { get; }

    public AnvilRpc Anvil { get; }

    public static BigInteger Units(long whole, int decimals) => whole * BigInteger.Pow(10, decimals);

    public async Task DepositAsync(DevAccount account, string symbol, BigInteger amount)
    {
        var tx = await DevnetSender.CreateAsync(RpcUrl, account.PrivateKey, ChainId);
        var token = Protocol.Token(symbol).Address;
        await tx.SendAsync(token, new MintFunction { To = account.Address, Amount = amount }, $"mint {symbol}");
        await tx.SendAsync(token, new ApproveFunction { Spender = Protocol.Vault, Amount = amount }, $"approve {symbol}");
        var last = await tx.SendAsync(Protocol.Vault, new DepositFunction { Token = token, Amount = amount }, $"deposit {symbol}");
        await MinedAsync(tx, last);
    }

    public async Task WithdrawAsync(DevAccount account, string symbol, BigInteger amount)
    {
        var tx = await DevnetSender.CreateAsync(RpcUrl, account.PrivateKey, ChainId);
        var last = await tx.SendAsync(Protocol.Vault, new WithdrawFunction { Token = Protocol.Token(symbol).Address, Amount = amount }, $"withdraw {symbol}");
        await MinedAsync(tx, last);
    }

    public async Task TradeAsync(DevAccount account, string underlying, BigInteger sizeDelta)
    {
        var tx = await DevnetSender.CreateAsync(RpcUrl, account.PrivateKey, ChainId);
        var market = Protocol.PerpMarketFor(underlying);
        var last = await tx.SendAsync(Protocol.PerpMarket, new PerpTradeFunction { MarketId = market.MarketId, SizeDelta = sizeDelta }, $"trade {market.Name}");
        await MinedAsync(tx, last);
    }

    public async Task SetPriceAsync(string asset, decimal usd)
    {
        var tx = await DevnetSender.CreateAsync(RpcUrl, DevAccounts.Deployer.PrivateKey, ChainId);
        var last = await tx.SendAsync(Protocol.SpotFeed(asset), new SetAnswerFunction { Answer = ReferenceProtocolDeployer.ToFeedUnits(usd) }, $"price {asset}");
        await MinedAsync(tx, last);
    }

    /// <summary>
    /// A signed, unsent deposit (the tokens must already be in the account's vault allowance) for anvil_reorg to put
    /// into a replacement block; the nonce is the account's nonce at <paramref name="atBlock"/>.
    /// </summary>
    public async Task<string> SignDepositAsync(DevAccount account, string symbol, BigInteger amount, long atBlock, int nonceOffset = 0)
    {
        var nonce = await _reader.Eth.Transactions.GetTransactionCount.SendRequestAsync(
            account.Address, new BlockParameter(new HexBigInteger(atBlock)));
        var signer = new Account(account.PrivateKey, ChainId);

        // The signer wants a client even when every field (nonce included) is given.
        _ = new Web3(signer, RpcUrl);
        var input = new DepositFunction { Token = Protocol.Token(symbol).Address, Amount = amount }.CreateTransactionInput(Protocol.Vault);
        input.From = account.Address;
        input.Nonce = new HexBigInteger(nonce.Value + nonceOffset);
        input.Gas = new HexBigInteger(DevnetSender.CallGas);
        input.MaxFeePerGas = new HexBigInteger(BigInteger.Parse("100000000000", CultureInfo.InvariantCulture));
        input.MaxPriorityFeePerGas = new HexBigInteger(1_000_000_000);
        input.Type = new HexBigInteger(2);
        input.Value = new HexBigInteger(0);
        var signed = await signer.TransactionManager.SignTransactionAsync(input);
        return signed.StartsWith("0x", StringComparison.Ordinal) ? signed : "0x" + signed;
    }

    /// <summary>Mints and approves without depositing, so a later (reorg-injected) deposit can succeed.</summary>
    public async Task MintAndApproveAsync(DevAccount account, string symbol, BigInteger amount)
    {
        var tx = await DevnetSender.CreateAsync(RpcUrl, account.PrivateKey, ChainId);
        var token = Protocol.Token(symbol).Address;
        await tx.SendAsync(token, new MintFunction { To = account.Address, Amount = amount }, $"mint {symbol}");
        var last = await tx.SendAsync(token, new ApproveFunction { Spender = Protocol.Vault, Amount = amount }, $"approve {symbol}");
        await MinedAsync(tx, last);
    }

    /// <summary>A deposit from an allowance already given (one transaction, so one block).</summary>
    public async Task DepositOnlyAsync(DevAccount account, string symbol, BigInteger amount)
    {
        var tx = await DevnetSender.CreateAsync(RpcUrl, account.PrivateKey, ChainId);
        var last = await tx.SendAsync(Protocol.Vault, new DepositFunction { Token = Protocol.Token(symbol).Address, Amount = amount }, $"deposit {symbol}");
        await MinedAsync(tx, last);
    }

    /// <summary>A fresh account with 100 ETH for gas, the funding mined into a block so a rollback above it keeps it.</summary>
    public async Task<DevAccount> NewAccountAsync()
    {
        var key = Nethereum.Signer.EthECKey.GenerateKey();
        var account = new DevAccount(-1, key.GetPublicAddress().ToLowerInvariant(), key.GetPrivateKey());
        await Anvil.SetBalanceAsync(account.Address, BigInteger.Pow(10, 20));
        await Anvil.MineAsync();
        return account;
    }

    public Task<long> HeadAsync() => Anvil.BlockNumberAsync();

    public Task<BigInteger> VaultBalanceAsync(string account, string token) =>
        _reader.Eth.GetContractQueryHandler<VaultBalanceOfFunction>()
            .QueryAsync<BigInteger>(Protocol.Vault, new VaultBalanceOfFunction { Account = account, Token = token }, BlockParameter.CreateLatest());

    public Task<PerpPositionOutputDto> PerpPositionAsync(string account, int marketId) =>
        _reader.Eth.GetContractQueryHandler<PerpPositionOfFunction>()
            .QueryDeserializingToObjectAsync<PerpPositionOutputDto>(
                new PerpPositionOfFunction { Account = account, MarketId = marketId }, Protocol.PerpMarket, BlockParameter.CreateLatest());

    /// <summary>
    /// Waits for the last transaction's receipt before checking them all: anvil mines a sent transaction shortly
    /// after eth_sendRawTransaction returns, not before, and on a loaded machine the receipt can lag.
    /// </summary>
    private static async Task MinedAsync(DevnetSender tx, string lastHash)
    {
        for (var i = 0; i < 400; i++)
        {
            if (await tx.Web3.Eth.Transactions.GetTransactionReceipt.SendRequestAsync(lastHash) is not null)
            {
                break;
            }

            await Task.Delay(25);
        }

        await tx.VerifyAsync();
    }
}
