using System.ComponentModel.DataAnnotations;

namespace ChainMargin.Host.Composition;

/// <summary>The API's own settings (config key Api).</summary>
public sealed class ApiOptions
{
    /// <summary>Where the API listens; loopback by default.</summary>
    [Required]
    public string Urls { get; set; } = "http://127.0.0.1:5080";

    /// <summary>When false, read endpoints need the API key too.</summary>
    public bool ReadsOpen { get; set; } = true;
}

/// <summary>Scheduling of the margin sweeps (config key Margin).</summary>
public sealed class MarginScheduleOptions
{
    /// <summary>Cron expression of the full sweep (Hangfire recurring job "margin-sweep").</summary>
    [Required]
    public string SweepCron { get; set; } = "* * * * *";

    /// <summary>How many Hangfire sweep jobs ("margin-sweep:0" ... ) split the accounts between them.</summary>
    [Range(1, 256)]
    public int SweepShards { get; set; } = 4;

    /// <summary>Run the in-process fast path on every committed block that moves a price or a position.</summary>
    public bool FastPath { get; set; } = true;
}
