using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Contracts.Reference;
using ChainMargin.Core;
using ChainMargin.Indexing.Rpc;
using ChainMargin.Storage;
using ChainMargin.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace ChainMargin.Indexing.Tests.Harness;

/// <summary>A store for one test: a SQLite temp file or a fresh PostgreSQL database, migrated, removed on dispose.</summary>
public sealed class TestStore : IAsyncDisposable
{
    private readonly ChainStorage _storage;
    private readonly PostgresDatabase? _database;
    private readonly string? _file;

    private TestStore(string provider, ChainStorage storage, PostgresDatabase? database, string? file)
    {
        Provider = provider;
        _storage = storage;
        _database = database;
        _file = file;
    }

    public string Provider { get; }

    public IChainStore Store => _storage.Store;

    public static async Task<TestStore> CreateAsync(string provider = StorageOptions.Sqlite)
    {
        TestStore store;
        if (provider == StorageOptions.Postgres)
        {
            var database = await PostgresDatabase.CreateAsync("cm_idx");
            store = new TestStore(provider, StoreFactory.Create(new StorageOptions { Provider = provider, ConnectionString = database.ConnectionString }), database, null);
        }
        else
        {
            var file = Path.Combine(Path.GetTempPath(), $"cm_idx_{Guid.NewGuid():N}.db");
            store = new TestStore(provider, StoreFactory.Create(new StorageOptions { Provider = provider, ConnectionString = $"Data Source={file}" }), null, file);
        }

        await store.Store.MigrateAsync(CancellationToken.None);
        return store;
    }

    public async ValueTask DisposeAsync()
    {
        await _storage.DisposeAsync();
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        if (_file is not null)
        {
            SqliteConnection.ClearAllPools();
            foreach (var path in new[] { _file, _file + "-wal", _file + "-shm" })
            {
                try
                {
                    File.Delete(path);
                }
                catch (IOException)
                {
                }
            }
        }
    }
}

/// <summary>Builds watchers over a chain and compares what they stored with the chain and with each other.</summary>
public static class IndexRig
{
    public static ChainOptions Options(string rpcUrl, ulong chainId, DeployedProtocol protocol, int finalityDepth = 20) => new()
    {
        Name = "test-" + chainId.ToString(CultureInfo.InvariantCulture),
        ChainId = chainId,
        RpcUrls = [rpcUrl],
        StartBlock = 0,
        Confirmations = 0,
        FinalityDepth = finalityDepth,
        PollInterval = TimeSpan.FromMilliseconds(50),
        Contracts = new ChainContractsOptions
        {
            Vault = protocol.Vault,
            PerpMarket = protocol.PerpMarket,
            OptionMarket = protocol.OptionMarket,
            PriceFeeds = protocol.Feeds.Where(f => f.Kind == "spot").ToDictionary(f => f.Asset, f => f.Address),
            VolatilityFeeds = protocol.Feeds.Where(f => f.Kind == "vol").ToDictionary(f => f.Asset, f => f.Address),
        },
    };

    /// <summary>A watcher with its own RPC client (disposed with the returned handle).</summary>
    public static WatcherHandle Watcher(ChainOptions options, IChainStore store, RpcRetryOptions? retry = null)
    {
        var rpc = new JsonRpcClient(options.RpcUrls, retry);
        var status = new ChainStatus(new ChainId(options.ChainId), options.Name, options.StaleAfter);
        return new WatcherHandle(new ChainWatcher(options, store, rpc, status, TimeProvider.System, NullLogger.Instance), rpc);
    }

    /// <summary>Steps until the watcher says it is caught up; a bounded number of steps so a livelock fails the test.</summary>
    public static async Task<int> CatchUpAsync(ChainWatcher watcher, int maxSteps = 200)
    {
        for (var step = 1; step <= maxSteps; step++)
        {
            if (await watcher.StepAsync(CancellationToken.None))
            {
                return step;
            }
        }

        throw new InvalidOperationException($"watcher of chain {watcher.Chain} not caught up after {maxSteps} steps");
    }

    /// <summary>Indexes the chain from scratch into a fresh SQLite store and returns the checksum text of its rows.</summary>
    public static async Task<string> CleanIndexChecksumAsync(ChainOptions options)
    {
        await using var fresh = await TestStore.CreateAsync();
        using var handle = Watcher(options, fresh.Store);
        await CatchUpAsync(handle.Watcher);
        return await ChecksumTextAsync(fresh.Store, handle.Watcher.Chain);
    }

    /// <summary>Every collateral and perp row of a chain (with the block each was last touched at), one per line, sorted.</summary>
    public static async Task<string> ChecksumTextAsync(IChainStore store, ChainId chain)
    {
        var text = new StringBuilder();
        foreach (var c in (await store.GetCollateralAsync(null, CancellationToken.None)).Where(c => c.Chain == chain)
                     .OrderBy(c => c.Venue).ThenBy(c => c.Account).ThenBy(c => c.Token))
        {
            text.Append(CultureInfo.InvariantCulture, $"C {c.Venue} {c.Account} {c.Token} {c.Balance} @{c.AsOf.Number}:{c.AsOf.Hash}\n");
        }

        foreach (var p in (await store.GetPerpPositionsAsync(null, CancellationToken.None)).Where(p => p.Chain == chain)
                     .OrderBy(p => p.Venue).ThenBy(p => p.Account).ThenBy(p => p.MarketId))
        {
            text.Append(CultureInfo.InvariantCulture, $"P {p.Venue} {p.Account} {p.MarketId} {p.Size} {p.EntryPrice} @{p.AsOf.Number}:{p.AsOf.Hash}\n");
        }

        return text.ToString();
    }

    public static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    /// <summary>
    /// Asserts the store's collateral and perp rows of the chain equal the vault's balanceOf and the perp market's
    /// positionOf at latest, for every account and token the store knows plus the ones the test touched.
    /// Returns how many non-zero values were compared, so a test can check it compared something.
    /// </summary>
    public static async Task<int> AssertEqualsChainAsync(IChainStore store, ChainDriver chain, IEnumerable<DevAccount> accounts)
    {
        var chainId = new ChainId(chain.ChainId);
        var collateral = (await store.GetCollateralAsync(null, CancellationToken.None)).Where(c => c.Chain == chainId).ToList();
        var perps = (await store.GetPerpPositionsAsync(null, CancellationToken.None)).Where(p => p.Chain == chainId).ToList();
        var vault = EvmAddress.Parse(chain.Protocol.Vault);
        var perpMarket = EvmAddress.Parse(chain.Protocol.PerpMarket);
        Assert.All(collateral, c => Assert.Equal(vault, c.Venue));
        Assert.All(perps, p => Assert.Equal(perpMarket, p.Venue));

        var accountSet = accounts.Select(a => EvmAddress.Parse(a.Address)).Concat(collateral.Select(c => c.Account)).Concat(perps.Select(p => p.Account)).ToHashSet();
        var tokens = chain.Protocol.Tokens.Select(t => EvmAddress.Parse(t.Address)).ToList();
        var compared = 0;
        var mismatches = new List<string>();
        foreach (var account in accountSet.Order())
        {
            foreach (var token in tokens)
            {
                var onChain = await chain.VaultBalanceAsync(account.Value, token.Value);
                var stored = collateral.FirstOrDefault(c => c.Account == account && c.Token == token)?.Balance ?? BigInteger.Zero;
                if (onChain != stored)
                {
                    mismatches.Add($"collateral {account} {token}: chain {onChain}, store {stored}");
                }

                compared += onChain.IsZero ? 0 : 1;
            }

            foreach (var market in chain.Protocol.PerpMarkets)
            {
                var onChain = await chain.PerpPositionAsync(account.Value, market.MarketId);
                var row = perps.FirstOrDefault(p => p.Account == account && p.MarketId == market.MarketId);
                var (size, entry) = row is null ? (BigInteger.Zero, BigInteger.Zero) : (row.Size, row.EntryPrice);
                if (onChain.Size != size || onChain.EntryPrice != entry)
                {
                    mismatches.Add($"perp {account} market {market.MarketId}: chain {onChain.Size}@{onChain.EntryPrice}, store {size}@{entry}");
                }

                compared += onChain.Size.IsZero ? 0 : 1;
            }
        }

        Assert.True(mismatches.Count == 0, "store differs from the chain:\n" + string.Join("\n", mismatches));
        return compared;
    }

    /// <summary>The chain view and a clean re-index both agree with the store.</summary>
    public static async Task AssertExactAsync(IChainStore store, ChainDriver chain, ChainOptions options, IEnumerable<DevAccount> accounts)
    {
        await AssertEqualsChainAsync(store, chain, accounts);
        var stored = await ChecksumTextAsync(store, new ChainId(chain.ChainId));
        var clean = await CleanIndexChecksumAsync(options);
        Assert.Equal(clean, stored);
        Assert.Equal(Sha256(clean), Sha256(stored));
    }
}

/// <summary>A watcher and the RPC client it owns.</summary>
public sealed class WatcherHandle : IDisposable
{
    public WatcherHandle(ChainWatcher watcher, JsonRpcClient rpc)
    {
        Watcher = watcher;
        Rpc = rpc;
    }

    public ChainWatcher Watcher { get; }

    public JsonRpcClient Rpc { get; }

    public ChainStatus Status => Watcher.Status;

    public void Dispose() => Rpc.Dispose();
}
