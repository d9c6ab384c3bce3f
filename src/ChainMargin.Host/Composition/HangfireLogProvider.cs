using Hangfire.Logging;
using HangfireLevel = Hangfire.Logging.LogLevel;

namespace ChainMargin.Host.Composition;

/// <summary>
/// Hangfire's logging is process-global (a static provider). Pointing it at one application's ILoggerFactory breaks
/// every later application in the same process once the first is disposed (the tests run several), so Hangfire logs
/// through one logger factory that lives as long as the process.
/// </summary>
public sealed class HangfireLogProvider : ILogProvider
{
    private static readonly ILoggerFactory Factory = LoggerFactory.Create(builder =>
    {
        builder.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        builder.SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Warning);
    });

    public static HangfireLogProvider Instance { get; } = new();

    public ILog GetLogger(string name) => new Logger(Factory.CreateLogger(name));

    private sealed class Logger(ILogger logger) : ILog
    {
        public bool Log(HangfireLevel logLevel, Func<string>? messageFunc, Exception? exception = null)
        {
            var level = logLevel switch
            {
                HangfireLevel.Trace => Microsoft.Extensions.Logging.LogLevel.Trace,
                HangfireLevel.Debug => Microsoft.Extensions.Logging.LogLevel.Debug,
                HangfireLevel.Info => Microsoft.Extensions.Logging.LogLevel.Information,
                HangfireLevel.Warn => Microsoft.Extensions.Logging.LogLevel.Warning,
                HangfireLevel.Error => Microsoft.Extensions.Logging.LogLevel.Error,
                _ => Microsoft.Extensions.Logging.LogLevel.Critical,
            };
            if (messageFunc is null)
            {
                return logger.IsEnabled(level);
            }

            if (logger.IsEnabled(level))
            {
#pragma warning disable CA2254 // Hangfire hands us a finished message, not a template.
                logger.Log(level, exception, messageFunc());
#pragma warning restore CA2254
            }

            return true;
        }
    }
}
