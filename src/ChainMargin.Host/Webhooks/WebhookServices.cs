using ChainMargin.Core;
using ChainMargin.Host.Composition;
using ChainMargin.Host.Jobs;
using ChainMargin.Liquidation.Flagging;
using ChainMargin.Storage;
using ChainMargin.Storage.Webhooks;
using Hangfire;
using Microsoft.Extensions.Options;

namespace ChainMargin.Host.Webhooks;

/// <summary>Registers webhooks and health sampling: options, the store of the configured storage, jobs, the recorder.</summary>
public static class WebhookServices
{
    public static IServiceCollection AddChainMarginWebhooks(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<WebhookOptions>().BindConfiguration(WebhookOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<HealthHistoryOptions>().BindConfiguration(HealthHistoryOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        var storage = ChainMarginServices.WithAbsoluteSqlitePath(configuration.GetSection(StorageOptions.SectionName).Get<StorageOptions>() ?? new StorageOptions());
        services.AddSingleton(sp => WebhookStoreFactory.Create(storage, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IWebhookStore>(sp => sp.GetRequiredService<SqlWebhookStore>());
        services.AddSingleton<IHealthSampleStore>(sp => new SqlHealthSampleStore(sp.GetRequiredService<SqlWebhookStore>()));
        services.AddSingleton<WebhookSender>();
        services.AddSingleton<HealthSampler>();
        services.AddSingleton<StateChangeRecorder>();
        services.AddTransient<WebhookDeliveryJob>();
        services.AddTransient<WebhookOutboxJob>();
        services.AddTransient<HealthSamplePruneJob>();
        services.AddHostedService<WebhookHostedService>();
        services.AddHostedService<HealthSampleWriter>();
        return services;
    }
}

/// <summary>
/// Hands the recorder to the margin service (before any hosted service starts recomputing), schedules the recurring
/// outbox sweep and pruning, and at start enqueues whatever a previous run left undelivered.
/// </summary>
public sealed partial class WebhookHostedService : BackgroundService
{
    private readonly IChainStore _chainStore;
    private readonly IRecurringJobManager _recurring;
    private readonly IServiceProvider _services;
    private readonly WebhookOptions _webhooks;
    private readonly HealthHistoryOptions _history;
    private readonly TimeProvider _time;
    private readonly ILogger _log;

    public WebhookHostedService(
        MarginService margin, StateChangeRecorder recorder, IChainStore chainStore, IRecurringJobManager recurring, IServiceProvider services,
        IOptions<WebhookOptions> webhooks, IOptions<HealthHistoryOptions> history, TimeProvider time, ILogger<WebhookHostedService> log)
    {
        ArgumentNullException.ThrowIfNull(margin);
        ArgumentNullException.ThrowIfNull(webhooks);
        ArgumentNullException.ThrowIfNull(history);
        margin.StateRecorder = recorder;
        _chainStore = chainStore;
        _recurring = recurring;
        _services = services;
        _webhooks = webhooks.Value;
        _history = history.Value;
        _time = time;
        _log = log;
    }

    /// <summary>Completes once the start-up sweep of the outbox has enqueued what was due.</summary>
    public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the outbox sweep and the health-sample pruning are scheduled.</summary>
    public TaskCompletionSource Scheduled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await SweepOnceAsync(stoppingToken).ConfigureAwait(false);

        // After the start-up sweep, which must not wait on a lock a killed process left behind (RecurringSchedule).
        if (await RecurringSchedule.KeepTryingAsync(
            () =>
            {
                _recurring.AddOrUpdate<WebhookOutboxJob>(WebhookOutboxJob.RecurringId, job => job.RunAsync(CancellationToken.None), _webhooks.SweepCron);
                _recurring.AddOrUpdate<HealthSamplePruneJob>(HealthSamplePruneJob.RecurringId, job => job.RunAsync(CancellationToken.None), _history.PruneCron);
            },
            _time,
            (e, wait) => LogScheduleRetry(_log, e.Message, (int)wait.TotalSeconds),
            stoppingToken).ConfigureAwait(false))
        {
            Scheduled.TrySetResult();
        }
    }

    private async Task SweepOnceAsync(CancellationToken stoppingToken)
    {
        try
        {
            await _chainStore.MigrateAsync(stoppingToken).ConfigureAwait(false);
            await _services.GetRequiredService<WebhookOutboxJob>().RunAsync(stoppingToken).ConfigureAwait(false);
            Started.TrySetResult();
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
#pragma warning disable CA1031 // the recurring sweep retries; the host keeps serving
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogStartFailed(_log, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "webhook outbox start-up sweep failed ({Error}); the recurring sweep will retry")]
    private static partial void LogStartFailed(ILogger log, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "scheduling the webhook outbox sweep and health-sample pruning failed ({Error}); trying again in {Seconds} s")]
    private static partial void LogScheduleRetry(ILogger log, string error, int seconds);
}
