using System.Collections.Concurrent;
using System.Threading.Channels;
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

        _sampler.Observe(observation.Record, change.Changed);
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
/// Keeps the health-over-time chart bounded: an account's headline health is kept when its state changes, and
/// otherwise only when it moved by at least the configured fraction since the last sample and that sample is at
/// least the configured interval old. The decision is taken in the recompute; the writing is not: samples are queued
/// and written in batches by <see cref="HealthSampleWriter"/>, so a recompute over many accounts does not wait for a
/// write per account. Samples are best effort (a crash loses the queue, a full queue drops the oldest); the state
/// history is not. The last sample per account is kept in memory (a restart samples once more).
/// </summary>
public sealed class HealthSampler
{
    private readonly HealthHistoryOptions _options;
    private readonly ConcurrentDictionary<EvmAddress, HealthSample> _last = new();
    private readonly Channel<HealthSample> _queue = Channel.CreateBounded<HealthSample>(
        new BoundedChannelOptions(100_000) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    public HealthSampler(IOptions<HealthHistoryOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
    }

    /// <summary>The samples waiting to be written.</summary>
    public ChannelReader<HealthSample> Queue => _queue.Reader;

    public void Observe(AccountStateRecord record, bool stateChanged)
    {
        ArgumentNullException.ThrowIfNull(record);
        var sample = new HealthSample(record.Account, record.At, record.Health, record.State);
        if (ShouldSample(_last.GetValueOrDefault(record.Account), sample, stateChanged, _options))
        {
            _last[record.Account] = sample;
            _queue.Writer.TryWrite(sample);
        }
    }

    /// <summary><see cref="Observe"/> for callers that await (nothing here waits: the write is queued).</summary>
    public Task ObserveAsync(AccountStateRecord record, bool stateChanged, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Observe(record, stateChanged);
        return Task.CompletedTask;
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

/// <summary>Writes the sampler's queue in batches; on stop it writes what is left.</summary>
public sealed partial class HealthSampleWriter : BackgroundService
{
    private const int BatchSize = 2000;
    private readonly HealthSampler _sampler;
    private readonly IHealthSampleStore _store;
    private readonly ILogger _log;

    public HealthSampleWriter(HealthSampler sampler, IHealthSampleStore store, ILogger<HealthSampleWriter> log)
    {
        _sampler = sampler;
        _store = store;
        _log = log;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (await _sampler.Queue.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                await WriteAvailableAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await WriteAvailableAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task WriteAvailableAsync(CancellationToken cancellationToken)
    {
        var batch = new List<HealthSample>();
        while (batch.Count < BatchSize && _sampler.Queue.TryRead(out var sample))
        {
            batch.Add(sample);
        }

        if (batch.Count == 0)
        {
            return;
        }

        try
        {
            await _store.AddSamplesAsync(batch, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is System.Data.Common.DbException or TimeoutException or InvalidOperationException)
        {
            LogWriteFailed(_log, batch.Count, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} health samples not written ({Error}); the chart misses them")]
    private static partial void LogWriteFailed(ILogger log, int count, string error);
}
