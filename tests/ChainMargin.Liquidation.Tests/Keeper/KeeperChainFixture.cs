using System.Numerics;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Contracts.Erc20;
using ChainMargin.Contracts.Reference;
using ChainMargin.Core;
using ChainMargin.Host.Devnet;
using ChainMargin.Liquidation.Keeper;
using ChainMargin.Storage;
using ChainMargin.Storage.Intents;
using ChainMargin.Testing;
using Nethereum.Web3;

namespace ChainMargin.Liquidation.Tests.Keeper;

/// <summary>One anvil chain with the reference protocol and one fresh PostgreSQL database with the store migrated.</summary>
public sealed class KeeperChainFixture : AnvilProtocolFixture
{
    public const ulong Chain = 7311;

    private ChainStorage? _storage;

    public KeeperChainFixture()
        : base(Chain)
    {
    }

    public PostgresDatabase Postgres { get; private set; } = null!;

    public Web3 Web3 { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Web3 = new Web3(RpcUrl);
        Postgres = await PostgresDatabase.CreateAsync("cm_keeper");
        _storage = StoreFactory.Create(new StorageOptions { Provider = "postgres", ConnectionString = Postgres.ConnectionString });
        await _storage.Store.MigrateAsync(CancellationToken.None);
    }

    public override async Task DisposeAsync()
    {
        if (_storage is not null)
        {
            await _storage.DisposeAsync();
        }

        await Postgres.DisposeAsync();
        await base.DisposeAsync();
    }

    /// <summary>A keeper over its own connection pool to the shared database, as a separate process would have.</summary>
    public (KeeperService Keeper, PostgresIntentStore Store) NewKeeper(KeeperOptions options, IKeeperKeySource keys, CapturingLogger logs, TimeProvider? time = null)
    {
        var store = new PostgresIntentStore(Postgres.ConnectionString, TimeProvider.System);
        var keeper = new KeeperService(
            options, [new KeeperChain(Chain, RpcUrl, Protocol.Liquidator)], store, keys, time ?? TimeProvider.System, logs.For<KeeperService>());
        return (keeper, store);
    }

    /// <summary>4 WETH in the vault and long 10 ETH-PERP: what the keeper seizes and closes.</summary>
    public async Task OpenPositionsAsync(DevAccount trader)
    {
        var chain = new DevnetChain("k", Chain, Node.Port);
        await DemoSeeder.DepositAsync(chain, Protocol, trader, "WETH", DemoSeeder.Units(4, 18), CancellationToken.None);
        await DemoSeeder.TradePerpAsync(chain, Protocol, trader, "ETH", DemoSeeder.Units(10, 18), CancellationToken.None);
    }

    public async Task<LiquidationCandidate> CandidateAsync(DevAccount trader, decimal health = 0.93m, bool priceUnsafe = false)
    {
        var block = await Rpc.BlockAsync();
        var blocks = new BlockVector([new BlockRef(new ChainId(Chain), block.Number, block.Hash)]);
        return new LiquidationCandidate(EvmAddress.Parse(trader.Address), new ChainId(Chain), health, priceUnsafe, priceUnsafe ? "price-unsafe" : "ok", blocks, 12_000m, 3_000m);
    }

    public async Task<BigInteger> NonceAsync(string address) =>
        (await Web3.Eth.Transactions.GetTransactionCount.SendRequestAsync(address)).Value;

    public Task<BigInteger> Erc20BalanceAsync(string token, string owner) =>
        Web3.Eth.GetContractQueryHandler<BalanceOfFunction>().QueryAsync<BigInteger>(token, new BalanceOfFunction { Account = owner });

    public Task<BigInteger> VaultBalanceAsync(string account, string token) =>
        Web3.Eth.GetContractQueryHandler<VaultBalanceOfFunction>().QueryAsync<BigInteger>(Protocol.Vault, new VaultBalanceOfFunction { Account = account, Token = token });

    public Task<List<BigInteger>> OpenMarketsAsync(string account) =>
        Web3.Eth.GetContractQueryHandler<OpenMarketsFunction>().QueryAsync<List<BigInteger>>(Protocol.PerpMarket, new OpenMarketsFunction { Account = account });
}

/// <summary>Keys given by the test, through the same parsing (SigningKey) the environment source uses.</summary>
public sealed class FixedKeys(string? riskSigner, string? keeper) : IKeeperKeySource
{
    private readonly SigningKey? _risk = riskSigner is null ? null : new SigningKey(riskSigner);
    private readonly SigningKey? _keeper = keeper is null ? null : new SigningKey(keeper);

    public static FixedKeys Devnet => new(DevAccounts.RiskSigner.PrivateKey, DevAccounts.Keeper.PrivateKey);

    public SigningKey? RiskSigner() => _risk;

    public SigningKey? Keeper(ulong chainId) => _keeper;
}
