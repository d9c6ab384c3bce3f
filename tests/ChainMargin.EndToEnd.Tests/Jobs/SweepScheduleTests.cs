using ChainMargin.EndToEnd.Tests.Webhooks;
using ChainMargin.Host.Jobs;
using Hangfire;
using Hangfire.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace ChainMargin.EndToEnd.Tests.Jobs;

/// <summary>
/// The sweep shards are scheduled by the running host, not at start-up: a Hangfire lock left behind by a killed
/// process (held until Hangfire's lock timeout) does not stop a restart from starting, serving and indexing; the
/// schedule goes in as soon as the lock is free.
/// </summary>
public sealed class SweepScheduleTests
{
    [Fact]
    public async Task Restart_WhileAKilledProcessStillHoldsASweepLock_StartsAndSchedulesOnceTheLockIsFree()
    {
        await using var service = await ServiceApp.StartAsync(postgres: true);
        await Schedule(service).Scheduled.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(["margin-sweep:0", "margin-sweep:1", "margin-sweep:2", "margin-sweep:3"], RecurringSweeps(service));
        await service.StopAsync();

        // What a process SIGKILLed while it scheduled shard 1 leaves behind: the lock row, fresh.
        const string Resource = "hangfire:lock:recurring-job:margin-sweep:1";
        await ExecuteAsync(service, $"insert into hangfire.lock (resource, updatecount, acquired) values ('{Resource}', 0, now())");

        await service.RestartAsync();
        using (var health = await service.Http.GetAsync(new Uri("/healthz", UriKind.Relative)))
        {
            Assert.True(health.IsSuccessStatusCode, "the restarted service answers while the lock is held");
        }

        var scheduled = Schedule(service).Scheduled.Task;
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.False(scheduled.IsCompleted, "the schedule cannot go in while the lock is held");

        await ExecuteAsync(service, $"delete from hangfire.lock where resource = '{Resource}'");
        await scheduled.WaitAsync(TimeSpan.FromSeconds(90));
        Assert.Equal(["margin-sweep:0", "margin-sweep:1", "margin-sweep:2", "margin-sweep:3"], RecurringSweeps(service));
    }

    private static MarginSweepSchedule Schedule(ServiceApp service) =>
        service.App.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<MarginSweepSchedule>().Single();

    private static List<string> RecurringSweeps(ServiceApp service)
    {
        using var connection = service.App.Services.GetRequiredService<JobStorage>().GetConnection();
        return [.. connection.GetRecurringJobs().Select(j => j.Id).Where(id => id.StartsWith("margin-sweep", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];
    }

    private static async Task ExecuteAsync(ServiceApp service, string sql)
    {
        await using var connection = new NpgsqlConnection(service.Storage);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
