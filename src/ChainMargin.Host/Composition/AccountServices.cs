using ChainMargin.Core;
using ChainMargin.Indexing;
using ChainMargin.Liquidation.Accounts;
using ChainMargin.Storage;
using ChainMargin.Storage.Links;

namespace ChainMargin.Host.Composition;

/// <summary>Registers linked accounts: the configured groups (validated here, at start-up), the signed-link store and service.</summary>
public static class AccountServices
{
    public static IServiceCollection AddChainMarginAccounts(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = configuration.GetSection(AccountOptions.SectionName).Get<AccountOptions>() ?? new AccountOptions();
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new InvalidOperationException("invalid configuration: " + string.Join("; ", errors));
        }

        var storage = ChainMarginServices.WithAbsoluteSqlitePath(configuration.GetSection(StorageOptions.SectionName).Get<StorageOptions>() ?? new StorageOptions());
        services.AddSingleton<IAccountLinkStore>(_ => AccountLinkStoreFactory.Create(storage));
        services.AddSingleton(sp => new AccountDirectory(options.ToLinks(), sp.GetRequiredService<IAccountLinkStore>(), sp.GetRequiredService<ILogger<AccountDirectory>>()));
        services.AddSingleton(sp => new AccountLinkService(
            sp.GetRequiredService<IAccountLinkStore>(),
            sp.GetRequiredService<AccountDirectory>(),
            sp.GetRequiredService<IReadOnlyList<ChainOptions>>().Select(c => c.ChainId),
            sp.GetRequiredService<TimeProvider>()));
        return services;
    }
}
