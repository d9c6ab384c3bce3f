using System.Text;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Core;
using ChainMargin.Host.Composition;
using ChainMargin.Host.Webhooks;
using ChainMargin.Liquidation.Flagging;
using ChainMargin.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace ChainMargin.EndToEnd.Tests.Webhooks;

/// <summary>
/// The service without chains, on real storage (a SQLite file or a fresh PostgreSQL database) that outlives one
/// running app, so a test can stop the app and start another on the same store (a restart). Everything the console
/// logger writes is kept in <see cref="Log"/> to be scanned for secrets.
/// </summary>
public sealed class ServiceApp : IAsyncDisposable
{
    public const string ApiKey = "e2e-key";

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cm-hooks-" + Guid.NewGuid().ToString("N"));
    private readonly bool _postgres;
    private PostgresDatabase? _database;
    private TextWriter? _console;

    private ServiceApp(bool postgres) => _postgres = postgres;

    public WebApplication App { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public StringBuilder Log { get; } = new();

    public string Storage { get; private set; } = "";

    public string Provider => _postgres ? "postgres" : "sqlite";

    public static async Task<ServiceApp> StartAsync(bool postgres, params string[] args)
    {
        Environment.SetEnvironmentVariable("CHAINMARGIN_API_KEY", ApiKey);
        var app = new ServiceApp(postgres);
        Directory.CreateDirectory(app._dir);
        if (postgres)
        {
            app._database = await PostgresDatabase.CreateAsync("cm_hooks");
            app.Storage = app._database.ConnectionString;
        }
        else
        {
            app.Storage = "Data Source=" + Path.Combine(app._dir, "chainmargin.db");
        }

        // The console logger takes Console.Out when it is built: every line of this test's apps lands in Log.
        app._console = Console.Out;
        Console.SetOut(TextWriter.Synchronized(new StringWriter(app.Log)));
        await app.RestartAsync(args);
        return app;
    }

    /// <summary>Stops the running app (if any) and starts a new one on the same store.</summary>
    public async Task RestartAsync(params string[] args)
    {
        await StopAsync();
        var port = AnvilNode.FreePort();
        App = AppFactory.Build(
        [
            $"--Api:Urls=http://127.0.0.1:{port}",
            $"--Storage:Provider={Provider}",
            $"--Storage:ConnectionString={Storage}",
            "--Margin:SweepCron=0 0 1 1 *",
            .. args,
        ], Path.Combine(_dir, "no-chains.json"));
        await App.StartAsync();
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        var hosted = App.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<WebhookHostedService>().Single();
        await hosted.Started.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    public async Task StopAsync()
    {
        if (App is null)
        {
            return;
        }

        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        App = null!;
    }

    /// <summary>Records an account's state through the margin service's recorder, as a recompute does.</summary>
    public Task<bool> RecordAsync(EvmAddress account, string state, decimal health, string reason = "test") =>
        App.Services.GetRequiredService<MarginService>().StateRecorder!.RecordAsync(
            new AccountObservation(
                new AccountStateRecord(account, state, health, reason, "31337:7:0x07", DateTimeOffset.UtcNow),
                [new MethodHealth("cross", health, state == AccountStates.Liquidatable ? "liquidatable" : "ok"), new MethodHealth("portfolio", health + 0.1m, "ok")]),
            CancellationToken.None);

    public static HttpRequestMessage Admin(HttpMethod method, string url, string? json = null)
    {
        var request = new HttpRequestMessage(method, url);
        request.Headers.Add("X-Api-Key", ApiKey);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        return request;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        if (_console is not null)
        {
            Console.SetOut(_console);
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
