using System.Collections;
using System.Reflection;
using ChainMargin.Indexing;
using ChainMargin.Liquidation.Flagging;
using ChainMargin.Liquidation.Portfolio;
using ChainMargin.Risk;
using ChainMargin.Storage;

namespace ChainMargin.Host.Composition;

/// <summary>
/// Refuses configuration keys that bind to nothing: a misspelt key would otherwise be silently ignored and its
/// default used. Every key under the known sections is checked against the options type it binds to.
/// </summary>
public static class ConfigurationKeys
{
    private static readonly Dictionary<string, Type> Sections = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Storage"] = typeof(StorageOptions),
        ["Api"] = typeof(ApiOptions),
        ["Margin"] = typeof(MarginScheduleOptions),
        ["Flags"] = typeof(FlagOptions),
        ["Prices"] = typeof(PriceSafetyOptions),
        ["Chains"] = typeof(List<ChainOptions>),
        ["Risk"] = typeof(RiskConfig),
        ["Keeper"] = typeof(ChainMargin.Liquidation.Keeper.KeeperOptions),
        ["Accounts"] = typeof(ChainMargin.Liquidation.Accounts.AccountOptions),
        ["Webhooks"] = typeof(Webhooks.WebhookOptions),
        ["HealthHistory"] = typeof(Webhooks.HealthHistoryOptions),
    };

    /// <summary>Secrets read from the environment by the keeper (CHAINMARGIN_KEEPER_KEY_&lt;chain&gt; ...), never settings.</summary>
    private static readonly string[] SecretPrefixes = ["KEEPER_KEY", "RISK_SIGNER_KEY", "KEEPER_KEYSTORE"];

    /// <summary>Sections that belong to the framework or the command line and are not ours to check.</summary>
    private static readonly HashSet<string> Foreign = new(StringComparer.OrdinalIgnoreCase)
    {
        "Logging", "AllowedHosts", "urls", "environment", "contentRoot", "applicationName", "Kestrel", "once",

        // Our own environment variables that are not settings (CHAINMARGIN_DEVNET_FILE, CHAINMARGIN_API_KEY ...).
        "DEVNET_FILE", "DEVNET_DIR", "CONFIG_DIR", "API_KEY", "PG",
    };

    /// <summary>Every unknown key, as "Section:Key: reason".</summary>
    public static IReadOnlyList<string> Unknown(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var errors = new List<string>();
        foreach (var section in configuration.GetChildren())
        {
            if (Foreign.Contains(section.Key) || SecretPrefixes.Any(p => section.Key.StartsWith(p, StringComparison.OrdinalIgnoreCase)) || section.Key.StartsWith("ASPNETCORE", StringComparison.OrdinalIgnoreCase) ||
                section.Key.StartsWith("DOTNET", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (!Sections.TryGetValue(section.Key, out var type))
            {
                errors.Add($"{section.Path}: unknown section (known: {string.Join(", ", Sections.Keys)})");
                continue;
            }

            Check(section, type, errors);
        }

        return errors;
    }

    private static void Check(IConfigurationSection section, Type type, List<string> errors)
    {
        var element = ElementType(type);
        if (element is not null)
        {
            foreach (var child in section.GetChildren())
            {
                Check(child, element, errors);
            }

            return;
        }

        if (IsScalar(type))
        {
            if (section.GetChildren().Any())
            {
                errors.Add($"{section.Path}: expected a single value, found an object");
            }

            return;
        }

        foreach (var child in section.GetChildren())
        {
            var property = type.GetProperty(child.Key, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            if (property is null || !property.CanWrite && !IsCollection(property.PropertyType))
            {
                errors.Add($"{child.Path}: unknown key (not a setting of {section.Path})");
                continue;
            }

            Check(child, property.PropertyType, errors);
        }
    }

    private static Type? ElementType(Type type)
    {
        if (type.IsGenericType)
        {
            var definition = type.GetGenericTypeDefinition();
            if (definition == typeof(Dictionary<,>) || definition == typeof(IDictionary<,>) || definition == typeof(IReadOnlyDictionary<,>))
            {
                return type.GetGenericArguments()[1];
            }

            if (definition == typeof(List<>) || definition == typeof(IList<>) || definition == typeof(IReadOnlyList<>) || definition == typeof(IEnumerable<>))
            {
                return type.GetGenericArguments()[0];
            }
        }

        return type.IsArray ? type.GetElementType() : null;
    }

    private static bool IsCollection(Type type) => type != typeof(string) && typeof(IEnumerable).IsAssignableFrom(type);

    private static bool IsScalar(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        return t.IsPrimitive || t.IsEnum || t == typeof(string) || t == typeof(decimal) || t == typeof(TimeSpan) ||
               t == typeof(DateTimeOffset) || t == typeof(DateTime) || t == typeof(Uri);
    }
}
