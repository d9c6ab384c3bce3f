namespace ChainMargin.Liquidation.Tests.Oracles;

/// <summary>A clock the test sets: heartbeats, staleness and sequencer grace periods are measured against it.</summary>
public sealed class ManualTimeProvider : TimeProvider
{
    private DateTimeOffset _now;

    public ManualTimeProvider(DateTimeOffset start) => _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Set(DateTimeOffset now) => _now = now;

    public void Advance(TimeSpan by) => _now += by;
}
