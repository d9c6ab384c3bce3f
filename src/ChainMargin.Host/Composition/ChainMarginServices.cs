using ChainMargin.Core;
using ChainMargin.Host.Jobs;
using ChainMargin.Host.Keeper;
using ChainMargin.Indexing;
using ChainMargin.Liquidation.Flagging;
using ChainMargin.Liquidation.Portfolio;
using ChainMargin.Risk;
using ChainMargin.Storage;
using Hangfire;
using Hangfire.PostgreSql;

namespace ChainMargin.Host.Composition;

/// <summary>The one place that knows which store and which Hangfire storage are in use.</summary>
public static class ChainMarginServices
{
    public static IServiceCollection AddChainMargin(this IServiceCollection services, IConfiguration configuration)
    {
        var unknown = ConfigurationKeys.Unknown(configuration);
        if (unknown.Count > 0)
        {
            throw new InvalidOperationException("invalid configuration: " + string.Join("; ", unknown));
        }

        services.AddSingleton(TimeProvider.System);
        services.AddOptions<ApiOptions>().BindConfiguration("Api").ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<MarginScheduleOptions>().BindConfiguration("Margin").ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();

        var chains = BindChains(configuration);
        services.AddSingleton<IReadOnlyList<ChainOptions>>(chains);
        services.AddSingleton(BuildRegistry(chains));
        services.AddSingleton(BindRisk(configuration));
        services.AddSingleton(configuration.GetSection("Flags").Get<FlagOptions>() ?? new FlagOptions());
        services.AddSingleton(configuration.GetSection("Prices").Get<PriceSafetyOptions>() ?? new PriceSafetyOptions());

        var storage = WithAbsoluteSqlitePath(configuration.GetSection(StorageOptions.SectionName).Get<StorageOptions>() ?? new StorageOptions());
        services.AddSingleton(sp => StoreFactory.Create(storage, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => sp.GetRequiredService<ChainStorage>().Store);
        services.AddSingleton(sp => sp.GetRequiredService<ChainStorage>().Leases);
        services.AddSingleton<ChainStatusRegistry>();
        services.AddSingleton(sp =>
        {
            var statuses = sp.GetRequiredService<ChainStatusRegistry>();
            foreach (var chain in chains)
            {
                statuses.GetOrAdd(new ChainId(chain.ChainId), chain.Name, chain.StaleAfter);
            }

            var margin = new MarginService(
                sp.GetRequiredService<IChainStore>(),
                sp.GetRequiredService<TokenRegistry>(),
                sp.GetRequiredService<RiskConfig>(),
                sp.GetRequiredService<FlagOptions>(),
                sp.GetRequiredService<PriceSafetyOptions>(),
                chains.Select(c => new ChainId(c.ChainId)).ToArray(),
                now => statuses.All.Select(s => (s.Chain, Reason: s.StaleReason(now))).Where(s => s.Reason is not null)
                    .ToDictionary(s => s.Chain, s => s.Reason!),
                sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILogger<MarginService>>());
            margin.Accounts = sp.GetRequiredService<ChainMargin.Liquidation.Accounts.AccountDirectory>();
            margin.FeedDecimals = sp.GetRequiredService<IFeedDecimalsSource>();
            return margin;
        });
        services.AddSingleton<IFeedDecimalsSource>(sp => new ChainMargin.Liquidation.Oracles.StoredFeedDecimals(sp.GetRequiredService<IChainStore>()));
        services.AddChainMarginAccounts(configuration);
        services.AddHostedService<WatcherHostedService>();
        services.AddHostedService<MarginSweepSchedule>();
        Aave.AaveV3VenueServices.AddAaveV3Venues(services, chains);
        services.AddChainMarginKeeper(configuration);
        Webhooks.WebhookServices.AddChainMarginWebhooks(services, configuration);
        services.AddTransient<MarginSweepJob>();

        services.AddHangfire((sp, hangfire) =>
        {
            hangfire.SetDataCompatibilityLevel(CompatibilityLevel.Version_180).UseSimpleAssemblyNameTypeSerializer().UseRecommendedSerializerSettings()
                .UseLogProvider(HangfireLogProvider.Instance);
            if (string.Equals(storage.Provider, StorageOptions.Postgres, StringComparison.OrdinalIgnoreCase))
            {
                hangfire.UsePostgreSqlStorage(
                    o => o.UseNpgsqlConnection(storage.ConnectionString),
                    new PostgreSqlStorageOptions { QueuePollInterval = TimeSpan.FromSeconds(1), PrepareSchemaIfNecessary = true });
            }
            else
            {
                hangfire.UseInMemoryStorage();
            }
        });
        services.AddHangfireServer(o =>
        {
            o.WorkerCount = 2;
            o.SchedulePollingInterval = TimeSpan.FromSeconds(1);
        });
        return services;
    }

    /// <summary>A relative SQLite file is taken relative to the repository root (or the working directory), and its folder made.</summary>
    public static StorageOptions WithAbsoluteSqlitePath(StorageOptions storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        if (!string.Equals(storage.Provider, StorageOptions.Sqlite, StringComparison.OrdinalIgnoreCase))
        {
            return storage;
        }

        var builder = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(storage.ConnectionString);
        if (!string.IsNullOrEmpty(builder.DataSource) && builder.DataSource != ":memory:" && !Path.IsPathRooted(builder.DataSource))
        {
            builder.DataSource = Path.Combine(ChainMarginConfiguration.RootOrCurrent(), builder.DataSource);
        }

        var folder = Path.GetDirectoryName(builder.DataSource);
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        return new StorageOptions { Provider = storage.Provider, ConnectionString = builder.ToString() };
    }

    public static List<ChainOptions> BindChains(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var chains = configuration.GetSection("Chains").Get<List<ChainOptions>>() ?? [];
        var errors = new List<string>();
        for (var i = 0; i < chains.Count; i++)
        {
            var chain = chains[i];
            var context = new System.ComponentModel.DataAnnotations.ValidationContext(chain);
            var results = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
            if (!System.ComponentModel.DataAnnotations.Validator.TryValidateObject(chain, context, results, validateAllProperties: true))
            {
                errors.AddRange(results.Select(r => $"Chains:{i}:{string.Join(",", r.MemberNames)}: {r.ErrorMessage}"));
            }

            foreach (var url in chain.RpcUrls)
            {
                if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
                {
                    errors.Add($"Chains:{i}:RpcUrls: '{url}' is not an http(s) URL");
                }
            }

            try
            {
                ChainWatcher.Roles(chain.Contracts);
            }
            catch (FormatException ex)
            {
                errors.Add($"Chains:{i}:{ex.Message}");
            }
        }

        var duplicate = chains.GroupBy(c => c.ChainId).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            errors.Add($"Chains: chain id {duplicate.Key} is configured twice");
        }

        return errors.Count == 0 ? chains : throw new InvalidOperationException("invalid configuration: " + string.Join("; ", errors));
    }

    public static TokenRegistry BuildRegistry(IEnumerable<ChainOptions> chains)
    {
        ArgumentNullException.ThrowIfNull(chains);
        var registry = new TokenRegistry();
        foreach (var chain in chains)
        {
            var id = new ChainId(chain.ChainId);
            foreach (var (symbol, token) in chain.Contracts.Tokens)
            {
                registry.AddToken(new TokenInfo(id, EvmAddress.Parse(token.Address), symbol, token.Decimals, new AssetId(symbol)));
            }

            foreach (var (symbol, feed) in chain.Contracts.PriceFeeds)
            {
                registry.AddPriceFeed(id, EvmAddress.Parse(feed), new AssetId(symbol));
            }

            foreach (var (symbol, feed) in chain.Contracts.VolatilityFeeds)
            {
                registry.AddVolatilityFeed(id, EvmAddress.Parse(feed), new AssetId(symbol));
            }

            if (!string.IsNullOrWhiteSpace(chain.Contracts.SequencerUptimeFeed))
            {
                registry.AddSequencerFeed(id, EvmAddress.Parse(chain.Contracts.SequencerUptimeFeed));
            }
        }

        return registry;
    }

    public static RiskConfig BindRisk(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var risk = configuration.GetSection(RiskConfig.SectionName).Get<RiskConfig>() ?? RiskConfig.CreateDefault();
        return risk.EnsureValid();
    }
}
