using ChainMargin.Contracts.Devnet;
using Microsoft.Extensions.Configuration;

namespace ChainMargin.Host.Composition;

/// <summary>
/// Where configuration comes from, in order: config/*.json of the repository (or CHAINMARGIN_CONFIG_DIR), the devnet's
/// generated chain file (.devnet/chains.json, or CHAINMARGIN_DEVNET_FILE) when present, then environment variables
/// prefixed CHAINMARGIN_ (double underscore for ':'), then the command line.
/// </summary>
public static class ChainMarginConfiguration
{
    public static string ConfigDirectory() =>
        Environment.GetEnvironmentVariable("CHAINMARGIN_CONFIG_DIR") ?? RepositoryPaths.FindUp("config") ??
        throw new DirectoryNotFoundException("config/ not found above the working directory; set CHAINMARGIN_CONFIG_DIR");

    public static string DevnetDirectory() =>
        Environment.GetEnvironmentVariable("CHAINMARGIN_DEVNET_DIR") ?? Path.Combine(RootOrCurrent(), ".devnet");

    public static string DevnetFile() =>
        Environment.GetEnvironmentVariable("CHAINMARGIN_DEVNET_FILE") ?? Path.Combine(DevnetDirectory(), "chains.json");

    public static string RootOrCurrent()
    {
        var sln = RepositoryPaths.FindUp("ChainMargin.sln");
        return sln is null ? Directory.GetCurrentDirectory() : Path.GetDirectoryName(sln)!;
    }

    /// <summary>Adds the sources; <paramref name="chainsFile"/> replaces the devnet file (tests point at their own chains).</summary>
    public static void AddSources(IConfigurationBuilder builder, string[] args, string? chainsFile = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var dir = ConfigDirectory();
        foreach (var file in new[] { "chainmargin.json", "risk.json" })
        {
            builder.AddJsonFile(Path.Combine(dir, file), optional: false, reloadOnChange: false);
        }

        var devnet = chainsFile ?? DevnetFile();
        if (File.Exists(devnet))
        {
            builder.AddJsonFile(devnet, optional: true, reloadOnChange: false);
        }

        builder.AddEnvironmentVariables("CHAINMARGIN_");
        builder.AddCommandLine(args);
    }
}
