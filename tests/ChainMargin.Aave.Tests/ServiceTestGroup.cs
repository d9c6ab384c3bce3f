using Xunit;

namespace ChainMargin.Aave.Tests;

/// <summary>
/// Test classes that run the whole service: Hangfire keeps process-global state (JobStorage.Current), so they run one
/// after another, never two services at once; the other classes still run in parallel.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ServiceTestGroup
{
    public const string Name = "service";
}
