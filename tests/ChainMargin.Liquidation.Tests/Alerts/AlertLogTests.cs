using ChainMargin.Core;
using ChainMargin.Liquidation.Alerts;
using ChainMargin.Liquidation.Tests.Oracles;

namespace ChainMargin.Liquidation.Tests.Alerts;

public sealed class AlertLogTests
{
    private readonly ManualTimeProvider _clock = new(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));

    private static AlertCondition Stale(string reason) =>
        new(AlertKinds.PriceStale, "prices:price-stale:1:0xfeed", reason, new ChainId(1), new AssetId("ETH"));

    [Fact]
    public void Reconcile_ConditionSeenAgain_IsOneAlertRefreshedThenClearedWhenItEnds()
    {
        var log = new AlertLog(_clock);
        log.Reconcile("prices", [Stale("updated 61 min ago")]);
        _clock.Advance(TimeSpan.FromMinutes(1));
        log.Reconcile("prices", [Stale("updated 62 min ago")]);

        var alert = Assert.Single(log.Page(null, 1, 10).Items);
        Assert.True(alert.Active);
        Assert.Equal(2, alert.Seen);
        Assert.Equal("updated 62 min ago", alert.Reason);
        Assert.Equal(_clock.GetUtcNow() - TimeSpan.FromMinutes(1), alert.RaisedAt);
        Assert.Equal(1, log.RaisedByKind()[AlertKinds.PriceStale]);

        _clock.Advance(TimeSpan.FromMinutes(1));
        log.Reconcile("prices", []);
        alert = Assert.Single(log.Page(null, 1, 10).Items);
        Assert.False(alert.Active);
        Assert.Equal(_clock.GetUtcNow(), alert.ClearedAt);
        Assert.Empty(log.ActiveByKind());

        // The condition comes back: a new alert, counted again.
        log.Reconcile("prices", [Stale("updated 70 min ago")]);
        Assert.Equal(2, log.Page(null, 1, 10).Total);
        Assert.Single(log.Page(true, 1, 10).Items);
        Assert.Equal(2, log.RaisedByKind()[AlertKinds.PriceStale]);
    }

    [Fact]
    public void Reconcile_OneSource_LeavesAnotherSourcesAlertsAlone()
    {
        var log = new AlertLog(_clock);
        log.Raise(new AlertCondition(AlertKinds.KeeperFeeCap, "keeper:keeper-fee-cap:1", "fee above cap", new ChainId(1), null));
        log.Reconcile("prices", []);
        Assert.True(Assert.Single(log.Page(null, 1, 10).Items).Active);
        log.Clear("keeper:keeper-fee-cap:1");
        Assert.Empty(log.Page(true, 1, 10).Items);
        Assert.Throws<ArgumentException>(() => log.Reconcile("prices", [new AlertCondition("x", "keeper:x", "r", null, null)]));
    }

    [Fact]
    public void Page_NewestFirstAndBoundedByCapacity_ClearedGoFirst()
    {
        var log = new AlertLog(_clock, capacity: 3);
        for (var i = 0; i < 3; i++)
        {
            log.Raise(new AlertCondition("k", $"s:{i}", $"r{i}", null, null));
        }

        log.Clear("s:1");
        log.Raise(new AlertCondition("k", "s:3", "r3", null, null));

        var (items, total) = log.Page(null, 1, 2);
        Assert.Equal(3, total);
        Assert.Equal(["r3", "r2"], items.Select(a => a.Reason));
        Assert.Equal(["r0"], log.Page(null, 2, 2).Items.Select(a => a.Reason));
    }
}
