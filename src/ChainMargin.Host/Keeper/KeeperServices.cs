using ChainMargin.Core;
using ChainMargin.Host.Composition;
using ChainMargin.Indexing;
using ChainMargin.Liquidation.Keeper;
using ChainMargin.Storage;
using ChainMargin.Storage.Intents;
using Microsoft.Extensions.Options;

namespace ChainMargin.Host.Keeper;

/// <summary>Registers the keeper: options, keys, the intent store of the configured storage, the service and its runner.</summary>
public static class KeeperServices
{
    public static IServiceCollection AddChainMarginKeeper(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<KeeperOptions>().BindConfiguration(KeeperOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        var storage = ChainMarginServices.WithAbsoluteSqlitePath(configuration.GetSection(StorageOptions.SectionName).Get<StorageOptions>() ?? new StorageOptions());
        services.AddSingleton<ILiquidationIntentStore>(sp => IntentStoreFactory.Create(storage, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IKeeperKeySource>(sp => new EnvironmentKeySource(null, sp.GetRequiredService<IOptions<KeeperOptions>>().Value.KeystoreDirectory));
        services.AddSingleton(sp => new KeeperService(
            sp.GetRequiredService<IOptions<KeeperOptions>>().Value,
            sp.GetRequiredService<IReadOnlyList<ChainOptions>>()
                .Where(c => c.Contracts.Liquidator is not null && c.RpcUrls.Count > 0)
                .Select(c => new KeeperChain(c.ChainId, c.RpcUrls[0], c.Contracts.Liquidator!)),
            sp.GetRequiredService<ILiquidationIntentStore>(),
            sp.GetRequiredService<IKeeperKeySource>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<KeeperService>>())
        {
            Alerts = sp.GetRequiredService<ChainMargin.Liquidation.Flagging.MarginService>().AlertLog,
        });
        services.AddSingleton<KeeperHostedService>();
        services.AddHostedService(sp => sp.GetRequiredService<KeeperHostedService>());
        return services;
    }
}
