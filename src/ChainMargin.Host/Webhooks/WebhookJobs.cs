using ChainMargin.Core;
using Hangfire;
using Microsoft.Extensions.Options;

namespace ChainMargin.Host.Webhooks;

/// <summary>
/// Delivers one outbox row (a Hangfire job per delivery; the job argument is only the row id, so neither the body nor
/// the secret sits in Hangfire's storage). Idempotent: the row is claimed first, and a delivered, given-up, not yet
/// due or already claimed row is left alone. A failed attempt schedules the next one with exponential backoff.
/// </summary>
public sealed partial class WebhookDeliveryJob
{
    private static readonly TimeSpan SchedulingSlack = TimeSpan.FromSeconds(1);
    private readonly IWebhookStore _store;
    private readonly WebhookSender _sender;
    private readonly IBackgroundJobClient _jobs;
    private readonly WebhookOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _log;

    public WebhookDeliveryJob(
        IWebhookStore store, WebhookSender sender, IBackgroundJobClient jobs, IOptions<WebhookOptions> options, TimeProvider time, ILogger<WebhookDeliveryJob> log)
    {
        ArgumentNullException.ThrowIfNull(options);
        _store = store;
        _sender = sender;
        _jobs = jobs;
        _options = options.Value;
        _time = time;
        _log = log;
    }

    /// <summary>The wait after attempt <paramref name="attempts"/> failed: base x 2^(attempts-1), capped.</summary>
    public static TimeSpan Backoff(int attempts, WebhookOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var factor = Math.Pow(2, Math.Clamp(attempts - 1, 0, 40));
        var ticks = Math.Min(options.RetryBaseDelay.Ticks * factor, options.RetryMaxDelay.Ticks);
        return TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>Enqueues the delivery job of one outbox row now.</summary>
    public static void Enqueue(IBackgroundJobClient jobs, long deliveryId)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        jobs.Enqueue<WebhookDeliveryJob>(job => job.DeliverAsync(deliveryId, CancellationToken.None));
    }

    [AutomaticRetry(Attempts = 3)]
    public async Task DeliverAsync(long deliveryId, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var claimed = await _store.TryClaimAsync(deliveryId, now, now + _options.Timeout + TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        if (claimed is null)
        {
            return;
        }

        SendResult result;
        try
        {
            result = await _sender.SendAsync(claimed, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The process is stopping: hand the row back now rather than when the claim expires.
            await _store.CompleteAttemptAsync(
                deliveryId, new WebhookAttempt(null, "interrupted: the process stopped", false, false, now), _time.GetUtcNow(), CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        var done = _time.GetUtcNow();
        var attempts = claimed.Delivery.Attempts;
        var giveUp = !result.Delivered && attempts >= _options.MaxAttempts;
        var wait = result.Delivered || giveUp ? TimeSpan.Zero : Backoff(attempts, _options);
        await _store.CompleteAttemptAsync(
            deliveryId, new WebhookAttempt(result.StatusCode, result.Error, result.Delivered, giveUp, done + wait), done, CancellationToken.None).ConfigureAwait(false);

        var url = claimed.Subscription.Url.GetLeftPart(UriPartial.Path);
        if (result.Delivered)
        {
            LogDelivered(_log, deliveryId, claimed.Delivery.EventId, url, attempts);
        }
        else if (giveUp)
        {
            LogGaveUp(_log, deliveryId, url, attempts, result.Error);
        }
        else
        {
            LogRetry(_log, deliveryId, url, attempts, result.Error, wait);
            // Hangfire keeps a scheduled time in whole seconds and may start the job up to a second early, when the
            // row is not yet due and the claim would refuse it.
            _jobs.Schedule<WebhookDeliveryJob>(job => job.DeliverAsync(deliveryId, CancellationToken.None), wait + SchedulingSlack);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "webhook delivery {Delivery} (event {EventId}) delivered to {Url} on attempt {Attempt}")]
    private static partial void LogDelivered(ILogger log, long delivery, Guid eventId, string url, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "webhook delivery {Delivery} to {Url} failed on attempt {Attempt} ({Error}); next attempt in {Wait}")]
    private static partial void LogRetry(ILogger log, long delivery, string url, int attempt, string? error, TimeSpan wait);

    [LoggerMessage(Level = LogLevel.Error, Message = "webhook delivery {Delivery} to {Url} given up after {Attempt} attempts ({Error})")]
    private static partial void LogGaveUp(ILogger log, long delivery, string url, int attempt, string? error);
}

/// <summary>
/// The Hangfire recurring job "webhook-outbox": enqueues every due delivery that no live attempt holds. It covers
/// jobs lost with an in-memory Hangfire storage (SQLite) across a restart and a crash between commit and enqueue.
/// </summary>
public sealed class WebhookOutboxJob
{
    public const string RecurringId = "webhook-outbox";
    private readonly IWebhookStore _store;
    private readonly IBackgroundJobClient _jobs;
    private readonly TimeProvider _time;

    public WebhookOutboxJob(IWebhookStore store, IBackgroundJobClient jobs, TimeProvider time)
    {
        _store = store;
        _jobs = jobs;
        _time = time;
    }

    [AutomaticRetry(Attempts = 0)]
    [DisableConcurrentExecution(timeoutInSeconds: 60)]
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        foreach (var id in await _store.GetDueDeliveriesAsync(_time.GetUtcNow(), 1000, cancellationToken).ConfigureAwait(false))
        {
            WebhookDeliveryJob.Enqueue(_jobs, id);
        }
    }
}

/// <summary>The Hangfire recurring job "health-samples-prune": drops samples older than the retention.</summary>
public sealed class HealthSamplePruneJob
{
    public const string RecurringId = "health-samples-prune";
    private readonly IHealthSampleStore _samples;
    private readonly HealthHistoryOptions _options;
    private readonly TimeProvider _time;

    public HealthSamplePruneJob(IHealthSampleStore samples, IOptions<HealthHistoryOptions> options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _samples = samples;
        _options = options.Value;
        _time = time;
    }

    [AutomaticRetry(Attempts = 0)]
    [DisableConcurrentExecution(timeoutInSeconds: 60)]
    public Task RunAsync(CancellationToken cancellationToken) =>
        _samples.PruneAsync(_time.GetUtcNow() - _options.Retention, cancellationToken);
}
