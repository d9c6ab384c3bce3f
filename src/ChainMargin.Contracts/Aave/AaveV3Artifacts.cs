using System.Globalization;
using System.Text;
using System.Text.Json;
using ChainMargin.Contracts.Devnet;

namespace ChainMargin.Contracts.Aave;

/// <summary>One compiled contract of the @aave/core-v3 npm package: its ABI, creation bytecode and library slots.</summary>
public sealed record AaveV3Artifact(string Name, string Abi, string Bytecode, IReadOnlyList<AaveV3LibrarySlot> LinkReferences)
{
    /// <summary>
    /// The bytecode with every library placeholder replaced by its deployed address (hardhat's linkReferences give
    /// byte offsets into the code; each byte is two hex digits after the 0x prefix).
    /// </summary>
    public string Link(IReadOnlyDictionary<string, string> libraries)
    {
        ArgumentNullException.ThrowIfNull(libraries);
        if (LinkReferences.Count == 0)
        {
            return Bytecode;
        }

        var code = new StringBuilder(Bytecode);
        foreach (var slot in LinkReferences)
        {
            if (!libraries.TryGetValue(slot.Library, out var address))
            {
                throw new InvalidOperationException($"{Name} needs library {slot.Library}, which is not deployed yet");
            }

            var hex = address.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? address[2..] : address;
            if (hex.Length != 40 || slot.Length != 20)
            {
                throw new InvalidOperationException($"bad library address {address} for {slot.Library}");
            }

            code.Remove(2 + (slot.Start * 2), 40).Insert(2 + (slot.Start * 2), hex.ToLowerInvariant());
        }

        return code.ToString();
    }
}

/// <summary>A 20-byte slot in the bytecode where a library's address goes.</summary>
public sealed record AaveV3LibrarySlot(string Library, int Start, int Length);

/// <summary>Reads the hardhat artifacts shipped in contracts/node_modules/@aave/core-v3/artifacts.</summary>
public sealed class AaveV3Artifacts
{
    public const string RelativePath = "contracts/node_modules/@aave/core-v3/artifacts";

    private readonly Dictionary<string, string> _paths;
    private readonly Dictionary<string, AaveV3Artifact> _loaded = [];

    private AaveV3Artifacts(Dictionary<string, string> paths) => _paths = paths;

    public static AaveV3Artifacts Load(string? root = null)
    {
        root ??= RepositoryPaths.FindUp(RelativePath)
                 ?? throw new DirectoryNotFoundException($"{RelativePath} not found: run 'npm ci' in contracts/");
        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(Path.Combine(root, "contracts"), "*.json", SearchOption.AllDirectories))
        {
            if (file.EndsWith(".dbg.json", StringComparison.Ordinal))
            {
                continue;
            }

            // Names are unique in the package except for interfaces we never deploy; the first wins.
            paths.TryAdd(Path.GetFileNameWithoutExtension(file), file);
        }

        return new AaveV3Artifacts(paths);
    }

    public AaveV3Artifact Get(string name)
    {
        lock (_loaded)
        {
            if (_loaded.TryGetValue(name, out var cached))
            {
                return cached;
            }

            if (!_paths.TryGetValue(name, out var path))
            {
                throw new FileNotFoundException($"no artifact named {name} in @aave/core-v3");
            }

            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var rootElement = doc.RootElement;
            var slots = new List<AaveV3LibrarySlot>();
            foreach (var source in rootElement.GetProperty("linkReferences").EnumerateObject())
            {
                foreach (var library in source.Value.EnumerateObject())
                {
                    foreach (var slot in library.Value.EnumerateArray())
                    {
                        slots.Add(new AaveV3LibrarySlot(
                            library.Name,
                            slot.GetProperty("start").GetInt32(),
                            slot.GetProperty("length").GetInt32()));
                    }
                }
            }

            var artifact = new AaveV3Artifact(
                name,
                rootElement.GetProperty("abi").GetRawText(),
                rootElement.GetProperty("bytecode").GetString() ?? throw new FormatException($"{name} has no bytecode"),
                slots);
            if (artifact.Bytecode.Length <= 2)
            {
                throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"{name} is abstract (no bytecode)"));
            }

            _loaded[name] = artifact;
            return artifact;
        }
    }
}
