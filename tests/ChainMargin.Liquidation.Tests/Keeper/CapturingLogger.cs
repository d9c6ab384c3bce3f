using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace ChainMargin.Liquidation.Tests.Keeper;

/// <summary>Keeps every formatted log line (with its exception text) so tests can scan them for key material.</summary>
public sealed class CapturingLogger
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public ILoggerProvider Provider => new CapturingProvider(this);

    public ILogger<T> For<T>() => new Logger<T>(new LoggerFactory([Provider]));

    /// <summary>Fails when any line holds one of the keys' hex (with or without 0x, any case).</summary>
    public void AssertNoKeyMaterial(params string[] privateKeys)
    {
        foreach (var key in privateKeys)
        {
            var hex = key.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? key[2..] : key;
            foreach (var line in Lines)
            {
                Assert.DoesNotContain(hex, line, StringComparison.OrdinalIgnoreCase);
            }
        }
    }

    private sealed class CapturingProvider(CapturingLogger owner) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(owner, categoryName);

        public void Dispose()
        {
        }
    }

    private sealed class Logger(CapturingLogger owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            owner.Lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception}");
        }
    }
}
