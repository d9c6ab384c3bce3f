using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using ChainMargin.Indexing.Decoding;
using ChainMargin.Indexing.Rpc;

namespace ChainMargin.Indexing;

/// <summary>
/// Fetches the logs of all configured contracts over a block span with eth_getLogs, in parallel sub-ranges. The
/// sub-range adapts: it shrinks when the node refuses (too many results, range too large, timeout; a range suggested in
/// the error text is taken), and widens again after successes. Many small ranges in parallel beat one huge range on
/// anvil, whose getLogs cost grows faster than the range.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage(
    "Reliability",
    "CA1001:Types that own disposable fields should be disposable",
    Justification = "A SemaphoreSlim holds an OS handle only once its AvailableWaitHandle is read, which this class never does.")]
public sealed partial class LogFetcher
{
    private readonly JsonRpcClient _rpc;
    private readonly string[] _addresses;
    private readonly int _maxRange;
    private readonly int _parallelism;

    /// <summary>
    /// Requests on the wire, across all spans being fetched: prefetched spans overlap, and the next span's sub-ranges
    /// start as the last ones of the span before finish, so the node always has this many to serve. Waiters are
    /// served first come, first served, so an earlier span's sub-ranges go first.
    /// </summary>
    private readonly SemaphoreSlim _onTheWire;
    private int _range;
    private int _successes;

    public LogFetcher(JsonRpcClient rpc, IEnumerable<string> addresses, int initialRange, int maxRange, int parallelism)
    {
        _rpc = rpc;
        _addresses = addresses.Select(a => a.ToLowerInvariant()).Distinct().ToArray();
        _maxRange = Math.Max(1, maxRange);
        _range = Math.Clamp(initialRange, 1, _maxRange);
        _parallelism = Math.Max(1, parallelism);
        _onTheWire = new SemaphoreSlim(_parallelism);
    }

    /// <summary>The current sub-range size in blocks.</summary>
    public int Range => Volatile.Read(ref _range);

    /// <summary>All logs in [from, to], ordered by block number and log index.</summary>
    public async Task<List<RawLog>> FetchAsync(long from, long to, CancellationToken cancellationToken)
    {
        var results = new ConcurrentBag<(long From, List<RawLog> Logs)>();
        var pending = new ConcurrentQueue<(long From, long To)>();
        foreach (var chunk in Split(from, to, Range))
        {
            pending.Enqueue(chunk);
        }

        // The workers start here, in order, so this span's requests queue for the wire before those of a span fetched
        // after it; each continues on the thread pool once its first request is answered.
        var workers = Enumerable.Range(0, _parallelism).Select(async _ =>
        {
            while (pending.TryDequeue(out var chunk))
            {
                results.Add((chunk.From, await FetchRangeAsync(chunk.From, chunk.To, pending, cancellationToken).ConfigureAwait(false)));
            }
        }).ToArray();
        await Task.WhenAll(workers).ConfigureAwait(false);

        // A worker may have split a refused range after the others drained the queue; finish those here.
        while (pending.TryDequeue(out var chunk))
        {
            results.Add((chunk.From, await FetchRangeAsync(chunk.From, chunk.To, pending, cancellationToken).ConfigureAwait(false)));
        }

        // Sub-ranges do not overlap: in the order of their first block, their logs are in order already when the node
        // returns each range's logs in order (nodes do). That is checked, and only a node that does not is sorted after.
        var parts = results.ToArray();
        Array.Sort(parts, static (a, b) => a.From.CompareTo(b.From));
        var all = new List<RawLog>(parts.Sum(r => r.Logs.Count));
        foreach (var part in parts)
        {
            all.AddRange(part.Logs);
        }

        for (var i = 1; i < all.Count; i++)
        {
            if (Compare(all[i - 1], all[i]) > 0)
            {
                all.Sort(Compare);
                break;
            }
        }

        return all;
    }

    private static int Compare(RawLog a, RawLog b) =>
        a.BlockNumber != b.BlockNumber ? a.BlockNumber.CompareTo(b.BlockNumber) : a.LogIndex.CompareTo(b.LogIndex);

    private async Task<List<RawLog>> FetchRangeAsync(long from, long to, ConcurrentQueue<(long, long)> pending, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                var filter = new Dictionary<string, object>
                {
                    ["fromBlock"] = Hex.FromLong(from),
                    ["toBlock"] = Hex.FromLong(to),
                    ["address"] = _addresses,
                };
                List<RawLog>? all;
                await _onTheWire.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    all = await _rpc.CallAsync("eth_getLogs", [filter], ReadLogs, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    _onTheWire.Release();
                }

                if (all is null)
                {
                    throw new RpcTransientException("eth_getLogs answered something other than an array");
                }

                var logs = new List<RawLog>(all.Count);
                foreach (var log in all)
                {
                    if (log.BlockNumber < from || log.BlockNumber > to)
                    {
                        throw new RpcTransientException(
                            string.Create(CultureInfo.InvariantCulture, $"eth_getLogs [{from},{to}] returned a log of block {log.BlockNumber}"));
                    }

                    if (!log.Removed)
                    {
                        logs.Add(log);
                    }
                }

                Widen();
                return logs;
            }
            catch (RpcNodeException ex) when (IsRangeRefusal(ex) && to > from)
            {
                var span = to - from + 1;
                var suggested = SuggestedSpan(ex, span);
                Shrink(suggested);
                var mid = from + suggested - 1;
                pending.Enqueue((mid + 1, to));
                to = mid;
            }
        }
    }

    /// <summary>
    /// The logs of an eth_getLogs result, read from the answer's bytes (null when the result is not an array). Starts
    /// on the result's first token and stops on its last.
    /// </summary>
    public static List<RawLog>? ReadLogs(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return null;
        }

        var logReader = new RawLogReader();
        var logs = new List<RawLog>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            logs.Add(logReader.Read(ref reader));
        }

        return logs;
    }

    private void Widen()
    {
        if (Interlocked.Increment(ref _successes) % 4 == 0)
        {
            var current = Volatile.Read(ref _range);
            Interlocked.CompareExchange(ref _range, Math.Min(_maxRange, current + Math.Max(1, current / 2)), current);
        }
    }

    private void Shrink(long span)
    {
        Interlocked.Exchange(ref _successes, 0);
        var target = (int)Math.Max(1, Math.Min(span, int.MaxValue));
        int current;
        do
        {
            current = Volatile.Read(ref _range);
        }
        while (target < current && Interlocked.CompareExchange(ref _range, target, current) != current);
    }

    /// <summary>Node answers that mean "ask for less", in the words real providers use.</summary>
    public static bool IsRangeRefusal(RpcNodeException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        var text = (error.Message + " " + error.ErrorData).ToLowerInvariant();
        if (IsRateLimit(text, error.Code))
        {
            return false;
        }

        return text.Contains("more than", StringComparison.Ordinal) || text.Contains("too many", StringComparison.Ordinal) ||
               text.Contains("range", StringComparison.Ordinal) || text.Contains("limit", StringComparison.Ordinal) ||
               text.Contains("exceed", StringComparison.Ordinal) || text.Contains("timeout", StringComparison.Ordinal) ||
               text.Contains("timed out", StringComparison.Ordinal) || text.Contains("too large", StringComparison.Ordinal) ||
               text.Contains("response size", StringComparison.Ordinal) || error.Code == -32005;
    }

    /// <summary>
    /// A rate limit shares words and codes with range caps (Infura: -32005 "request rate exceeded"; Alchemy: 429
    /// "exceeded its compute units per second capacity"). Its answer is to wait and ask again for the same range: taken
    /// for a range cap, it would split the backfill into ever smaller ranges, i.e. more requests against the limit.
    /// </summary>
    private static bool IsRateLimit(string text, long code) =>
        code == 429 || text.Contains("rate limit", StringComparison.Ordinal) || text.Contains("request rate", StringComparison.Ordinal) ||
        text.Contains("rate exceeded", StringComparison.Ordinal) || text.Contains("too many requests", StringComparison.Ordinal) ||
        text.Contains("per second", StringComparison.Ordinal) || text.Contains("throughput", StringComparison.Ordinal);

    /// <summary>
    /// The span to retry with: a range the node suggests ("[0x1, 0x2]"), a limit it states ("10000 block range",
    /// "max block range: 1000"), else half of what was refused.
    /// </summary>
    public static long SuggestedSpan(RpcNodeException error, long refusedSpan)
    {
        ArgumentNullException.ThrowIfNull(error);
        var text = error.Message + " " + error.ErrorData;
        var pair = SuggestedPair().Match(text);
        if (pair.Success)
        {
            var a = long.Parse(pair.Groups[1].ValueSpan, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
            var b = long.Parse(pair.Groups[2].ValueSpan, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
            var span = b - a + 1;
            if (span >= 1 && span < refusedSpan)
            {
                return span;
            }
        }

        var limit = StatedLimit().Match(text);
        var stated = 0L;
        if (limit.Success &&
            long.TryParse((limit.Groups[1].Success ? limit.Groups[1] : limit.Groups[2]).Value.Replace(",", "", StringComparison.Ordinal), NumberStyles.None, CultureInfo.InvariantCulture, out stated) &&
            stated >= 1 && stated < refusedSpan)
        {
            return stated;
        }

        return Math.Max(1, refusedSpan / 2);
    }

    private static IEnumerable<(long From, long To)> Split(long from, long to, int range)
    {
        for (var start = from; start <= to; start += range)
        {
            yield return (start, Math.Min(to, start + range - 1));
        }
    }

    [GeneratedRegex(@"\[\s*0x([0-9a-fA-F]+)\s*,\s*0x([0-9a-fA-F]+)\s*\]")]
    private static partial Regex SuggestedPair();

    [GeneratedRegex(@"(?i)(?:(\d[\d,]*)\s*blocks?\s*range|block range[^0-9]{0,20}(\d[\d,]*))")]
    private static partial Regex StatedLimit();
}
