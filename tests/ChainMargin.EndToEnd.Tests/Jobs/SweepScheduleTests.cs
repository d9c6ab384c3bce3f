using ChainMargin.EndToEnd.Tests.Webhooks;
using ChainMargin.Host.Jobs;
using ChainMargin.Host.Webhooks;
using Hangfire;
using Hangfire.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace ChainMargin.EndToEnd.Tests.Jobs;

/// <summary>
/// Recurring jobs (the sweep shards, the webhook outbox sweep, the health-sample pruning) are scheduled by the running
/// host, not at start-up: a Hangfire lock left behind by a killed process (held until Hangfire's lock timeout) does
/// not stop a restart from starting, serving and indexing; each schedule goes in as soon as its lock is free.
/// </summary>
public sealed class SweepScheduleTests
{
    private static readonly string[] Recurring =
        ["health-samples-prune", "margin-sweep:0", "margin-sweep:1", "margin-sweep:2", "margin-sweep:3", "webhook-outbox"];

    [Fact]
    public async Task Restart_WhileAKilledProcessStillHoldsScheduleLocks_StartsAndSchedulesOnceTheLocksAreFree()
    {
        await using var service = await ServiceApp.StartAsync(postgres: true);
        await Task.WhenAll(Hosted<MarginSweepSchedule>(service).Scheduled.Task, Hosted<WebhookHostedService>(service).Scheduled.Task).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(Recurring, RecurringJobs(service));
        await service.StopAsync();

        // What a process SIGKILLed while it scheduled sweep shard 1, or the webhook outbox sweep, leaves behind: the
        // lock rows, fresh.
        string[] resources = ["hangfire:lock:recurring-job:margin-sweep:1", "hangfire:lock:recurring-job:webhook-outbox"];
        foreach (var resource in resources)
        {
            await ExecuteAsync(service, $"insert into hangfire.lock (resource, updatecount, acquired) values ('{resource}', 0, now())");
        }

        await service.RestartAsync();
        using (var health = await service.Http.GetAsync(new Uri("/healthz", UriKind.Relative)))
        {
            Assert.True(health.IsSuccessStatusCode, "the restarted service answers while the locks are held");
        }

        var sweeps = Hosted<MarginSweepSchedule>(service).Scheduled.Task;
        var webhooks = Hosted<WebhookHostedService>(service);
        await webhooks.Started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.False(sweeps.IsCompleted, "the sweep schedule cannot go in while its lock is held");
        Assert.False(webhooks.Scheduled.Task.IsCompleted, "the webhook schedule cannot go in while its lock is held");

        foreach (var resource in resources)
        {
            await ExecuteAsync(service, $"delete from hangfire.lock where resource = '{resource}'");
        }

        await Task.WhenAll(sweeps, webhooks.Scheduled.Task).WaitAsync(TimeSpan.FromSeconds(90));
        Assert.Equal(Recurring, RecurringJobs(service));
    }

    private static T Hosted<T>(ServiceApp service) =>
        service.App.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<T>().Single();

    private static List<string> RecurringJobs(ServiceApp service)
    {
        using var connection = service.App.Services.GetRequiredService<JobStorage>().GetConnection();
        return [.. connection.GetRecurringJobs().Select(j => j.Id).Order(StringComparer.Ordinal)];
    }

    private static async Task ExecuteAsync(ServiceApp service, string sql)
    {
        await using var connection = new NpgsqlConnection(service.Storage);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
