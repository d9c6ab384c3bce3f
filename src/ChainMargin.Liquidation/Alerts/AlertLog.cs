using ChainMargin.Core;

namespace ChainMargin.Liquidation.Alerts;

/// <summary>Alert kinds: what went wrong, as the API and the metrics name it.</summary>
public static class AlertKinds
{
    public const string PriceStale = "price-stale";
    public const string PriceNotPositive = "price-not-positive";
    public const string PriceNoTimestamp = "price-no-timestamp";
    public const string PriceAtBound = "price-at-bound";
    public const string PriceJump = "price-jump";
    public const string PriceDisagreement = "price-disagreement";
    public const string Sequencer = "sequencer";
    public const string ChainStale = "chain-stale";
    public const string FeedDecimals = "feed-decimals";
    public const string ImpliedVolatility = "implied-volatility";
    public const string KeeperFeeCap = "keeper-fee-cap";
}

/// <summary>
/// A condition that is true now. <see cref="Key"/> identifies it while it lasts (kind, chain, feed or asset: never the
/// reason's text, which carries changing numbers such as an age), so it is one alert however often it is seen.
/// </summary>
public sealed record AlertCondition(string Kind, string Key, string Reason, ChainId? Chain, AssetId? Asset);

/// <summary>
/// One alert: raised when its condition was first seen, its latest reason, how many times it was seen, and when it
/// cleared (null while it lasts).
/// </summary>
public sealed record Alert(
    long Id, string Kind, string Key, string Reason, ChainId? Chain, AssetId? Asset, DateTimeOffset RaisedAt, DateTimeOffset LastSeenAt,
    DateTimeOffset? ClearedAt, long Seen)
{
    public bool Active => ClearedAt is null;
}

/// <summary>
/// The in-memory alert log: deduplicated while a condition lasts, cleared when it ends, the newest kept up to a
/// capacity (cleared alerts go first). Each source (the oracle checks, the keeper) reports its own conditions.
/// Thread-safe.
/// </summary>
public sealed class AlertLog
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly int _capacity;
    private readonly List<Alert> _alerts = [];
    private readonly Dictionary<string, long> _raised = new(StringComparer.Ordinal);
    private long _next;

    public AlertLog(TimeProvider time, int capacity = 1000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _time = time;
        _capacity = capacity;
    }

    /// <summary>
    /// Sets the conditions of one source as they are now: new ones are raised, ones still true are refreshed, and
    /// the source's alerts whose condition is gone are cleared. A source's keys start with its name and ':'.
    /// </summary>
    public void Reconcile(string source, IEnumerable<AlertCondition> active)
    {
        ArgumentNullException.ThrowIfNull(active);
        var prefix = source + ":";
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var condition in active)
            {
                if (!condition.Key.StartsWith(prefix, StringComparison.Ordinal))
                {
                    throw new ArgumentException($"alert key '{condition.Key}' does not belong to source '{source}'", nameof(active));
                }

                if (seen.Add(condition.Key))
                {
                    RaiseLocked(condition, now);
                }
            }

            for (var i = 0; i < _alerts.Count; i++)
            {
                var alert = _alerts[i];
                if (alert.Active && alert.Key.StartsWith(prefix, StringComparison.Ordinal) && !seen.Contains(alert.Key))
                {
                    _alerts[i] = alert with { ClearedAt = now };
                }
            }
        }
    }

    /// <summary>Raises a condition (or refreshes it while it is active).</summary>
    public void Raise(AlertCondition condition)
    {
        ArgumentNullException.ThrowIfNull(condition);
        lock (_gate)
        {
            RaiseLocked(condition, _time.GetUtcNow());
        }
    }

    /// <summary>Clears the active alert of a key, if there is one.</summary>
    public void Clear(string key)
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            var i = _alerts.FindIndex(a => a.Active && a.Key == key);
            if (i >= 0)
            {
                _alerts[i] = _alerts[i] with { ClearedAt = now };
            }
        }
    }

    /// <summary>Alerts newest first, optionally only the active or only the cleared ones; one page of them and the total.</summary>
    public (IReadOnlyList<Alert> Items, int Total) Page(bool? active, int page, int pageSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(page, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        lock (_gate)
        {
            var matching = _alerts.Where(a => active is null || a.Active == active).Reverse().ToArray();
            return (matching.Skip((page - 1) * pageSize).Take(pageSize).ToArray(), matching.Length);
        }
    }

    /// <summary>Alerts raised since start, per kind (a Prometheus counter: refreshes of an active alert do not count).</summary>
    public IReadOnlyDictionary<string, long> RaisedByKind()
    {
        lock (_gate)
        {
            return new Dictionary<string, long>(_raised, StringComparer.Ordinal);
        }
    }

    /// <summary>Active alerts per kind.</summary>
    public IReadOnlyDictionary<string, int> ActiveByKind()
    {
        lock (_gate)
        {
            return _alerts.Where(a => a.Active).GroupBy(a => a.Kind, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        }
    }

    private void RaiseLocked(AlertCondition condition, DateTimeOffset now)
    {
        var i = _alerts.FindIndex(a => a.Active && a.Key == condition.Key);
        if (i >= 0)
        {
            var current = _alerts[i];
            _alerts[i] = current with { Reason = condition.Reason, LastSeenAt = now, Seen = current.Seen + 1 };
            return;
        }

        _alerts.Add(new Alert(++_next, condition.Kind, condition.Key, condition.Reason, condition.Chain, condition.Asset, now, now, null, 1));
        _raised[condition.Kind] = _raised.GetValueOrDefault(condition.Kind) + 1;
        while (_alerts.Count > _capacity)
        {
            // The oldest cleared alert goes first; with none cleared, the oldest of all.
            var cleared = _alerts.FindIndex(a => !a.Active);
            _alerts.RemoveAt(cleared >= 0 ? cleared : 0);
        }
    }
}
