using System.ComponentModel.DataAnnotations;

namespace ChainMargin.Storage;

/// <summary>Which store to use and how to reach it. Bound from configuration section <c>Storage</c>.</summary>
public sealed class StorageOptions
{
    public const string SectionName = "Storage";

    public const string Sqlite = "sqlite";

    public const string Postgres = "postgres";

    /// <summary>"sqlite" (embedded default, one machine) or "postgres" (system of record, scale-out).</summary>
    [Required]
    [RegularExpression("(?i)^(sqlite|postgres)$", ErrorMessage = "Storage:Provider must be 'sqlite' or 'postgres'")]
    public string Provider { get; set; } = Sqlite;

    /// <summary>An Npgsql or Microsoft.Data.Sqlite connection string, depending on <see cref="Provider"/>.</summary>
    [Required]
    public string ConnectionString { get; set; } = "Data Source=chainmargin.db";
}
