using System.Collections.Concurrent;
using ChainMargin.Core;
using Hangfire;
using Microsoft.Extensions.Options;

namespace ChainMargin.Host.Webhooks;

/// <summary>
/// The margin service's state recorder in the host: the state and its webhook outbox rows commit together, then one
/// Hangfire job per row is enqueued (if enqueueing fails, the outbox sweep delivers the row later), and the health is
/// offered to the sampler.
/// </summary>
public sealed partial class StateChangeRecorder : IAccountStateRecorder
{
    private readonly IWebhookStore _store;
    private readonly IBackgroundJobClient _jobs;
    private readonly HealthSampler _sampler;
    private readonly TimeProvider _time;
    private readonly ILogger _log;

    public StateChangeRecorder(IWebhookStore store, IBackgroundJobClient jobs, HealthSampler sampler, TimeProvider time, ILogger<StateChangeRecorder> log)
    {
        _store = store;
        _jobs = jobs;
        _sampler = sampler;
        _time = time;
        _log = log;
    }

    public async Task<bool> RecordAsync(AccountObservation observation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(observation);
        var change = await _store.RecordAccountStateAsync(observation, Guid.CreateVersion7(_time.GetUtcNow()), cancellationToken).ConfigureAwait(false);
        foreach (var id in change.DeliveryIds)
        {
            try
            {
                WebhookDeliveryJob.Enqueue(_jobs, id);
            }
#pragma warning disable CA1031 // the row is committed; the outbox sweep enqueues it when this fails
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogEnqueueFailed(_log, id, e.Message);
            }
        }

        await _sampler.ObserveAsync(observation.Record, change.Changed, cancellationToken).ConfigureAwait(false);
        return change.Changed;
    }

    public Task ObserveUnchangedAsync(AccountObservation observation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(observation);
        return _sampler.ObserveAsync(observation.Record, stateChanged: false, cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "webhook delivery {Delivery} not enqueued ({Error}); the outbox sweep will deliver it")]
    private static partial void LogEnqueueFailed(ILogger log, long delivery, string error);
}

/// <summary>
/// Keeps the health-over-time chart bounded: an account's headline health is stored when its state changes, and
/// otherwise only when it moved by at least the configured fraction since the last sample and that sample is at
/// least the configured interval old. The last sample per account is kept in memory (a restart samples once more).
/// </summary>
public sealed class HealthSampler
{
    private readonly IHealthSampleStore _samples;
    private readonly HealthHistoryOptions _options;
    private readonly ConcurrentDictionary<EvmAddress, HealthSample> _last = new();

    public HealthSampler(IHealthSampleStore samples, IOptions<HealthHistoryOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _samples = samples;
        _options = options.Value;
    }

    public async Task ObserveAsync(AccountStateRecord record, bool stateChanged, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        var sample = new HealthSample(record.Account, record.At, record.Health, record.State);
        if (!ShouldSample(_last.GetValueOrDefault(record.Account), sample, stateChanged, _options))
        {
            return;
        }

        await _samples.AddSampleAsync(sample, cancellationToken).ConfigureAwait(false);
        _last[record.Account] = sample;
    }

    public static bool ShouldSample(HealthSample? last, HealthSample next, bool stateChanged, HealthHistoryOptions options)
    {
        ArgumentNullException.ThrowIfNull(next);
        ArgumentNullException.ThrowIfNull(options);
        if (last is null || stateChanged || last.State != next.State)
        {
            return true;
        }

        if (next.At - last.At < options.MinInterval)
        {
            return false;
        }

        return (last.Health, next.Health) switch
        {
            (null, null) => false,
            (null, _) or (_, null) => true,
            ({ } a, { } b) when a == 0 => b != 0,
            ({ } a, { } b) => Math.Abs(b - a) / Math.Abs(a) >= options.MinRelativeChange,
        };
    }
}
