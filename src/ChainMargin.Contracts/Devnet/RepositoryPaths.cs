namespace ChainMargin.Contracts.Devnet;

/// <summary>Finds files of the repository (contracts/node_modules, contracts/build, config/) from wherever we run.</summary>
public static class RepositoryPaths
{
    /// <summary>Walks up from the working directory and from the app's base directory looking for a relative path.</summary>
    public static string? FindUp(string relative)
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, relative);
                if (File.Exists(candidate) || Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }

    /// <summary>The repository root: the nearest directory above us holding ChainMargin.sln.</summary>
    public static string Root()
    {
        var sln = FindUp("ChainMargin.sln") ?? throw new DirectoryNotFoundException("ChainMargin.sln not found above the working directory");
        return Path.GetDirectoryName(sln)!;
    }
}
