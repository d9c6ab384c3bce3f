using System.Collections.Concurrent;
using System.Text.Json;

namespace ChainMargin.Contracts;

/// <summary>A compiled contract of the reference protocol: ABI (JSON text), creation and runtime bytecode (0x hex).</summary>
public sealed record ContractArtifact(string Name, string Compiler, string Abi, string Bytecode, string DeployedBytecode);

/// <summary>
/// The artifacts contracts/build.js writes to Artifacts/, embedded in this assembly so no node is needed at run time.
/// </summary>
public static class Artifacts
{
    private const string Prefix = "ChainMargin.Contracts.Artifacts.";
    private static readonly ConcurrentDictionary<string, ContractArtifact> Cache = new(StringComparer.Ordinal);

    public static ContractArtifact TestToken => Get("TestToken");

    public static ContractArtifact PriceFeed => Get("PriceFeed");

    public static ContractArtifact MarginVault => Get("MarginVault");

    public static ContractArtifact PerpMarket => Get("PerpMarket");

    public static ContractArtifact OptionMarket => Get("OptionMarket");

    public static ContractArtifact Liquidator => Get("Liquidator");

    public static ContractArtifact Multicall3 => Get("Multicall3");

    /// <summary>Names of every embedded artifact.</summary>
    public static IReadOnlyList<string> Names { get; } = typeof(Artifacts).Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && n.EndsWith(".json", StringComparison.Ordinal))
        .Select(n => n[Prefix.Length..^".json".Length])
        .Order(StringComparer.Ordinal)
        .ToArray();

    public static ContractArtifact Get(string name) => Cache.GetOrAdd(name, Load);

    private static ContractArtifact Load(string name)
    {
        using var stream = typeof(Artifacts).Assembly.GetManifestResourceStream(Prefix + name + ".json")
            ?? throw new KeyNotFoundException($"no embedded artifact '{name}' (known: {string.Join(", ", Names)}); run 'npm run build' in contracts/");
        using var document = JsonDocument.Parse(stream);
        var root = document.RootElement;
        return new ContractArtifact(
            root.GetProperty("contractName").GetString()!,
            root.GetProperty("compiler").GetString()!,
            root.GetProperty("abi").GetRawText(),
            root.GetProperty("bytecode").GetString()!,
            root.GetProperty("deployedBytecode").GetString()!);
    }
}
