using ChainMargin.Host.Api;
using Hangfire;
using Hangfire.Dashboard;

namespace ChainMargin.Host.Composition;

/// <summary>Builds the web application: API, Hangfire server and dashboard, watchers.</summary>
public static class AppFactory
{
    /// <param name="logging">Adds to the logging set up here (tests add a provider that keeps every line).</param>
    public static WebApplication Build(string[] args, string? chainsFile = null, Action<ILoggingBuilder>? logging = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
            WebRootPath = Path.Combine(AppContext.BaseDirectory, "wwwroot"),
        });
        builder.Configuration.Sources.Clear();
        ChainMarginConfiguration.AddSources(builder.Configuration, args, chainsFile);
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Hangfire", LogLevel.Warning);
        builder.Logging.AddFilter("System.Net.Http", LogLevel.Warning);
        logging?.Invoke(builder.Logging);
        builder.WebHost.UseUrls(builder.Configuration["Api:Urls"] ?? "http://127.0.0.1:5080");
        builder.Services.ConfigureHttpJsonOptions(o => ApiJson.Configure(o.SerializerOptions));
        builder.Services.AddProblemDetails();
        builder.Services.AddOpenApi();
        builder.Services.AddChainMargin(builder.Configuration);

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseDefaultFiles();
        app.UseStaticFiles();
        app.MapOpenApi("/openapi/v1.json");
        app.MapChainMarginApi();
        app.MapWebhookApi();
        app.UseHangfireDashboard("/hangfire", new DashboardOptions { Authorization = [new DashboardAuthorization()] });
        return app;
    }
}
