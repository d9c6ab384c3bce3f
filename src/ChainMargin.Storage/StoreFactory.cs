using ChainMargin.Core;
using ChainMargin.Storage.Postgres;
using ChainMargin.Storage.Sqlite;

namespace ChainMargin.Storage;

/// <summary>What the Host gets for one configured store: the chain store and the chain leases that go with it.</summary>
public sealed class ChainStorage : IAsyncDisposable
{
    internal ChainStorage(string provider, SqlChainStore store, IChainLeases leases)
    {
        Provider = provider;
        Store = store;
        Leases = leases;
    }

    /// <summary>"sqlite" or "postgres".</summary>
    public string Provider { get; }

    public IChainStore Store { get; }

    public IChainLeases Leases { get; }

    public async ValueTask DisposeAsync()
    {
        if (Store is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>The entry point the Host calls: builds the store named by <see cref="StorageOptions"/>.</summary>
public static class StoreFactory
{
    /// <summary>Builds the store; call <see cref="IChainStore.MigrateAsync"/> on it before use.</summary>
    public static ChainStorage Create(StorageOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            throw new ArgumentException("Storage:ConnectionString is required", nameof(options));
        }

        var time = timeProvider ?? TimeProvider.System;
        var provider = options.Provider?.Trim().ToLowerInvariant();
        return provider switch
        {
            StorageOptions.Postgres => new ChainStorage(
                StorageOptions.Postgres,
                new PostgresChainStore(options.ConnectionString, time),
                new PostgresChainLeases(options.ConnectionString)),
            StorageOptions.Sqlite => new ChainStorage(
                StorageOptions.Sqlite,
                new SqliteChainStore(options.ConnectionString, time),
                new InProcessChainLeases()),
            _ => throw new ArgumentException(
                $"Storage:Provider '{options.Provider}' is not a store: use '{StorageOptions.Sqlite}' or '{StorageOptions.Postgres}'", nameof(options)),
        };
    }
}
