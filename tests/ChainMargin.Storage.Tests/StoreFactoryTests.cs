using ChainMargin.Storage.Postgres;
using ChainMargin.Storage.Sqlite;
using Xunit;

namespace ChainMargin.Storage.Tests;

public sealed class StoreFactoryTests
{
    [Theory]
    [InlineData("postgres", "Host=127.0.0.1;Database=x", typeof(PostgresChainStore), typeof(PostgresChainLeases))]
    [InlineData("PostgreS", "Host=127.0.0.1;Database=x", typeof(PostgresChainStore), typeof(PostgresChainLeases))]
    [InlineData("sqlite", "Data Source=x.db", typeof(SqliteChainStore), typeof(InProcessChainLeases))]
    public async Task Create_KnownProvider_BuildsThatStore(string provider, string connectionString, Type store, Type leases)
    {
        await using var storage = StoreFactory.Create(new StorageOptions { Provider = provider, ConnectionString = connectionString });

        Assert.IsType(store, storage.Store);
        Assert.IsType(leases, storage.Leases);
        Assert.Equal(provider.ToLowerInvariant(), storage.Provider);
    }

    [Fact]
    public void Create_UnknownProvider_NamesTheKey()
    {
        var error = Assert.Throws<ArgumentException>(() => StoreFactory.Create(new StorageOptions { Provider = "mysql", ConnectionString = "x" }));

        Assert.Contains("Storage:Provider", error.Message);
        Assert.Contains("mysql", error.Message);
    }

    [Fact]
    public void Create_NoConnectionString_NamesTheKey()
    {
        var error = Assert.Throws<ArgumentException>(() => StoreFactory.Create(new StorageOptions { Provider = "sqlite", ConnectionString = " " }));

        Assert.Contains("Storage:ConnectionString", error.Message);
    }
}
