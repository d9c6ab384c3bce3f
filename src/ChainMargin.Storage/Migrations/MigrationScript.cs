using System.Globalization;

namespace ChainMargin.Storage.Migrations;

/// <summary>One versioned SQL file embedded in this assembly: NNNN_name.sql, applied in ascending version order.</summary>
public sealed record MigrationScript(int Version, string Name, string Sql)
{
    /// <summary>The scripts of one store ("postgres" or "sqlite"), ordered by version; duplicate versions are refused.</summary>
    public static IReadOnlyList<MigrationScript> Load(string store)
    {
        var assembly = typeof(MigrationScript).Assembly;
        var prefix = $"migrations/{store}/";
        var scripts = new List<MigrationScript>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(prefix, StringComparison.Ordinal) || !resource.EndsWith(".sql", StringComparison.Ordinal))
            {
                continue;
            }

            var file = resource[prefix.Length..^".sql".Length];
            var separator = file.IndexOf('_', StringComparison.Ordinal);
            if (separator <= 0 || !int.TryParse(file.AsSpan(0, separator), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
            {
                throw new InvalidOperationException($"migration '{resource}' is not named NNNN_name.sql");
            }

            using var stream = assembly.GetManifestResourceStream(resource)
                ?? throw new InvalidOperationException($"migration '{resource}' cannot be read");
            using var reader = new StreamReader(stream);
            scripts.Add(new MigrationScript(version, file, reader.ReadToEnd()));
        }

        scripts.Sort((a, b) => a.Version.CompareTo(b.Version));
        for (var i = 1; i < scripts.Count; i++)
        {
            if (scripts[i].Version == scripts[i - 1].Version)
            {
                throw new InvalidOperationException($"migrations '{scripts[i - 1].Name}' and '{scripts[i].Name}' share version {scripts[i].Version}");
            }
        }

        if (scripts.Count == 0)
        {
            throw new InvalidOperationException($"no migrations embedded for store '{store}'");
        }

        return scripts;
    }
}
