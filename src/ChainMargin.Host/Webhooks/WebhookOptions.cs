using System.ComponentModel.DataAnnotations;

namespace ChainMargin.Host.Webhooks;

/// <summary>Delivery of webhooks on account state changes (config section Webhooks).</summary>
public sealed class WebhookOptions
{
    public const string SectionName = "Webhooks";

    /// <summary>Attempts per delivery before it is given up (status failed).</summary>
    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 10;

    /// <summary>Delay before the second attempt; each further attempt waits twice as long, up to <see cref="RetryMaxDelay"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(10);

    [Range(typeof(TimeSpan), "00:00:00.001", "7.00:00:00")]
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How long one POST may take; the delivery stays claimed a little longer than this.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Cron of the Hangfire recurring job "webhook-outbox" that enqueues due deliveries whose job was lost (Hangfire
    /// in memory across a restart, a crash between commit and enqueue).
    /// </summary>
    [Required]
    public string SweepCron { get; set; } = "* * * * *";
}

/// <summary>Sampling of account health for the health-over-time chart (config section HealthHistory).</summary>
public sealed class HealthHistoryOptions
{
    public const string SectionName = "HealthHistory";

    /// <summary>A new sample needs the headline health to have moved by at least this fraction of the last sample.</summary>
    [Range(typeof(decimal), "0", "10")]
    public decimal MinRelativeChange { get; set; } = 0.01m;

    /// <summary>At most one sample per account per this interval (a state change is always sampled).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan MinInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Samples older than this are pruned.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "3650.00:00:00")]
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Cron of the Hangfire recurring job "health-samples-prune".</summary>
    [Required]
    public string PruneCron { get; set; } = "17 * * * *";
}
