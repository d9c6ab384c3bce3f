using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using ChainMargin.Core;
using Npgsql;

namespace ChainMargin.Bench;

/// <summary>
/// Wraps the HTTP transport of the watcher's RPC client: counts requests and bytes, and measures the wall time during
/// which at least one request was on the wire (send to last response byte). The body is not buffered here: the client
/// streams it into its own pooled buffer, and a second copy made by the instrument would count as the indexer's CPU.
/// The request ends when the client has read the body to its end (or dropped it).
/// </summary>
internal sealed class TimingHandler : DelegatingHandler
{
    private readonly Lock _gate = new();
    private int _inFlight;
    private long _busySince;
    private long _busyTicks;
    private long _requests;
    private long _bytes;

    public TimingHandler()
        : base(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), MaxConnectionsPerServer = 64 })
    {
    }

    public TimeSpan Busy => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _busyTicks));

    /// <summary>Each request's (start, end) timestamps, for the timeline.</summary>
    public List<(long Start, long End)> Intervals { get; } = [];

    public long Requests => Interlocked.Read(ref _requests);

    public long Bytes => Interlocked.Read(ref _bytes);

    public void Reset()
    {
        lock (_gate)
        {
            _busyTicks = 0;
            _requests = 0;
            _bytes = 0;
        }
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_inFlight++ == 0)
            {
                _busySince = Stopwatch.GetTimestamp();
            }
        }

        var ended = 0;
        var begun = Stopwatch.GetTimestamp();
        void End(long bytes)
        {
            if (Interlocked.Exchange(ref ended, 1) != 0)
            {
                return;
            }

            lock (Intervals)
            {
                Intervals.Add((begun, Stopwatch.GetTimestamp()));
            }

            Interlocked.Add(ref _bytes, bytes);
            Interlocked.Increment(ref _requests);
            lock (_gate)
            {
                if (--_inFlight == 0)
                {
                    _busyTicks += Stopwatch.GetTimestamp() - _busySince;
                }
            }
        }

        try
        {
            var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            var original = response.Content;
            var body = new EndTrackingStream(await original.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), End);
            var tracked = new StreamContent(body);
            foreach (var header in original.Headers)
            {
                tracked.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }

            response.Content = tracked;
            return response;
        }
        catch
        {
            End(0);
            throw;
        }
    }

    /// <summary>Reports the bytes read once the body is read to its end or disposed, whichever comes first.</summary>
    private sealed class EndTrackingStream(Stream inner, Action<long> ended) : Stream
    {
        private long _read;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _read; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                ended(_read);
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        private int Count(int read)
        {
            _read += read;
            if (read == 0)
            {
                ended(_read);
            }

            return read;
        }
    }
}

/// <summary>Delegates to the real store and times its commits (the whole transaction: COPY, aggregates, checkpoint).</summary>
internal sealed class TimedStore(IChainStore inner) : IChainStore
{
    public TimeSpan CommitTime { get; private set; }

    /// <summary>
    /// This process's CPU while a commit ran (COPY encoding, Npgsql, TLS, and whatever else the process did meanwhile:
    /// with no prefetch, nothing else of the indexer runs then).
    /// </summary>
    public TimeSpan CommitCpu { get; private set; }

    public int Commits { get; private set; }

    /// <summary>Each commit's (start, end) timestamps, for the timeline.</summary>
    public List<(long Start, long End)> Intervals { get; } = [];

    public async Task CommitAsync(ChainBatch batch, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        await inner.CommitAsync(batch, cancellationToken).ConfigureAwait(false);
        Intervals.Add((started, Stopwatch.GetTimestamp()));
        CommitCpu += Process.GetCurrentProcess().TotalProcessorTime - cpu;
        CommitTime += Stopwatch.GetElapsedTime(started);
        Commits++;
    }

    public Task MigrateAsync(CancellationToken cancellationToken) => inner.MigrateAsync(cancellationToken);

    public Task<ChainCheckpoint?> GetCheckpointAsync(ChainId chain, CancellationToken cancellationToken) => inner.GetCheckpointAsync(chain, cancellationToken);

    public Task<IReadOnlyList<IndexedBlock>> GetRecentBlocksAsync(ChainId chain, int count, CancellationToken cancellationToken) =>
        inner.GetRecentBlocksAsync(chain, count, cancellationToken);

    public Task RollbackToAsync(BlockRef ancestor, CancellationToken cancellationToken) => inner.RollbackToAsync(ancestor, cancellationToken);

    public Task<int> PruneSupersededAsync(ChainId chain, long after, long horizon, CancellationToken cancellationToken) =>
        inner.PruneSupersededAsync(chain, after, horizon, cancellationToken);

    public Task<IReadOnlyList<CollateralBalance>> GetCollateralAsync(EvmAddress? account, CancellationToken cancellationToken) =>
        inner.GetCollateralAsync(account, cancellationToken);

    public Task<IReadOnlyList<PerpPositionRow>> GetPerpPositionsAsync(EvmAddress? account, CancellationToken cancellationToken) =>
        inner.GetPerpPositionsAsync(account, cancellationToken);

    public Task<IReadOnlyList<OptionPositionRow>> GetOptionPositionsAsync(EvmAddress? account, CancellationToken cancellationToken) =>
        inner.GetOptionPositionsAsync(account, cancellationToken);

    public Task<IReadOnlyList<PerpMarketRow>> GetPerpMarketsAsync(CancellationToken cancellationToken) => inner.GetPerpMarketsAsync(cancellationToken);

    public Task<IReadOnlyList<OptionSeriesRow>> GetOptionSeriesAsync(CancellationToken cancellationToken) => inner.GetOptionSeriesAsync(cancellationToken);

    public Task<IReadOnlyList<PriceRoundRow>> GetLatestPricesAsync(CancellationToken cancellationToken) => inner.GetLatestPricesAsync(cancellationToken);

    public Task<IReadOnlyList<PriceRoundRow>> GetPriceHistoryAsync(ChainId chain, EvmAddress feed, int limit, CancellationToken cancellationToken) =>
        inner.GetPriceHistoryAsync(chain, feed, limit, cancellationToken);

    public Task<IReadOnlyList<RejectedLog>> GetRejectedLogsAsync(ChainId chain, CancellationToken cancellationToken) =>
        inner.GetRejectedLogsAsync(chain, cancellationToken);

    public Task<IReadOnlyList<FeedState>> GetFeedStatesAsync(ChainId chain, CancellationToken cancellationToken) =>
        inner.GetFeedStatesAsync(chain, cancellationToken);

    public Task<FeedState?> GetFeedDecimalsStateAsync(ChainId chain, EvmAddress feed, CancellationToken cancellationToken) =>
        inner.GetFeedDecimalsStateAsync(chain, feed, cancellationToken);

    public Task<bool> RecordAccountStateAsync(AccountStateRecord record, CancellationToken cancellationToken) =>
        inner.RecordAccountStateAsync(record, cancellationToken);

    public Task<IReadOnlyList<AccountStateRecord>> GetAccountStateHistoryAsync(EvmAddress account, CancellationToken cancellationToken) =>
        inner.GetAccountStateHistoryAsync(account, cancellationToken);

    public Task<IReadOnlyList<AccountStateRecord>> GetCurrentAccountStatesAsync(CancellationToken cancellationToken) =>
        inner.GetCurrentAccountStatesAsync(cancellationToken);
}

/// <summary>
/// The raw limit: eth_getLogs over the same sub-ranges with the same parallelism as the watcher, plain HTTP, the body
/// read to its last byte and the logs counted by scanning for their "logIndex" key, nothing parsed or stored.
/// </summary>
internal static class RawFetch
{
    private static readonly byte[] LogIndexKey = "\"logIndex\""u8.ToArray();

    public static async Task<(long Events, TimeSpan Elapsed, List<byte[]>? Bodies)> RunAsync(
        Uri rpc, IReadOnlyCollection<string> addresses, long from, long to, int range, int parallelism, bool keepBodies, CancellationToken cancellationToken)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { Timeout = TimeSpan.FromMinutes(2) };
        var chunks = new Queue<(long From, long To)>();
        for (var start = from; start <= to; start += range)
        {
            chunks.Enqueue((start, Math.Min(to, start + range - 1)));
        }

        var bodies = keepBodies ? new List<byte[]>() : null;
        var address = string.Join(",", addresses.Select(a => "\"" + a.ToLowerInvariant() + "\""));
        long events = 0;
        var started = Stopwatch.GetTimestamp();
        var workers = Enumerable.Range(0, parallelism).Select(async _ =>
        {
            var id = 0;
            while (true)
            {
                (long From, long To) chunk;
                lock (chunks)
                {
                    if (!chunks.TryDequeue(out chunk))
                    {
                        return;
                    }
                }

                var body = string.Create(
                    CultureInfo.InvariantCulture,
                    $$"""{"jsonrpc":"2.0","id":{{++id}},"method":"eth_getLogs","params":[{"fromBlock":"0x{{chunk.From:x}}","toBlock":"0x{{chunk.To:x}}","address":[{{address}}]}]}""");
                using var content = new StringContent(body, Encoding.UTF8);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                using var response = await http.PostAsync(rpc, content, cancellationToken).ConfigureAwait(false);
                response.EnsureSuccessStatusCode();
                var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
                Interlocked.Add(ref events, Count(bytes));
                if (bodies is not null)
                {
                    lock (bodies)
                    {
                        bodies.Add(bytes);
                    }
                }
            }
        }).ToArray();
        await Task.WhenAll(workers).ConfigureAwait(false);
        return (events, Stopwatch.GetElapsedTime(started), bodies);
    }

    private static long Count(ReadOnlySpan<byte> body)
    {
        if (body.IndexOf("\"error\""u8) >= 0 && body.IndexOf("\"result\""u8) < 0)
        {
            throw new InvalidOperationException("eth_getLogs failed: " + Encoding.UTF8.GetString(body[..Math.Min(300, body.Length)]));
        }

        long count = 0;
        int at;
        while ((at = body.IndexOf(LogIndexKey)) >= 0)
        {
            count++;
            body = body[(at + LogIndexKey.Length)..];
        }

        return count;
    }
}

/// <summary>A fresh, uniquely named PostgreSQL database for one run, dropped afterwards (the idea of the tests' helper).</summary>
internal sealed class BenchDatabase : IAsyncDisposable
{
    private readonly string _admin;

    private BenchDatabase(string admin, string name, string connectionString)
    {
        _admin = admin;
        Name = name;
        ConnectionString = connectionString;
    }

    public string Name { get; }

    public string ConnectionString { get; }

    public static string Server =>
        Environment.GetEnvironmentVariable("CHAINMARGIN_PG") is { Length: > 0 } fromEnvironment
            ? fromEnvironment
            : "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres";

    public static async Task<BenchDatabase> CreateAsync()
    {
        var admin = new NpgsqlConnectionStringBuilder(Server) { Database = "postgres", Pooling = false }.ConnectionString;
        var name = "cm_bench_" + Guid.NewGuid().ToString("N");
        await ExecuteAsync(admin, $"create database \"{name}\"").ConfigureAwait(false);
        return new BenchDatabase(admin, name, new NpgsqlConnectionStringBuilder(Server) { Database = name }.ConnectionString);
    }

    public async Task<long> ScalarAsync(string sql)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false }.ConnectionString);
        await using (connection.ConfigureAwait(false))
        {
            await connection.OpenAsync().ConfigureAwait(false);
            var command = new NpgsqlCommand(sql, connection);
            await using (command.ConfigureAwait(false))
            {
                return Convert.ToInt64(await command.ExecuteScalarAsync().ConfigureAwait(false), CultureInfo.InvariantCulture);
            }
        }
    }

    /// <summary>The server processes serving this database now, with the CPU time each has used so far.</summary>
    public async Task<Dictionary<int, TimeSpan>> BackendCpuAsync()
    {
        var cpu = new Dictionary<int, TimeSpan>();
        var connection = new NpgsqlConnection(_admin);
        await using (connection.ConfigureAwait(false))
        {
            await connection.OpenAsync().ConfigureAwait(false);
            var command = new NpgsqlCommand("select pid from pg_stat_activity where datname = @name", connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.AddWithValue("name", Name);
                var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    while (await reader.ReadAsync().ConfigureAwait(false))
                    {
                        var pid = reader.GetInt32(0);
                        cpu[pid] = ProcessCpu.Of(pid);
                    }
                }
            }
        }

        return cpu;
    }

    /// <summary>CPU the database's server processes used between two snapshots (processes new since the first count whole).</summary>
    public static TimeSpan CpuBetween(Dictionary<int, TimeSpan> before, Dictionary<int, TimeSpan> after) =>
        after.Aggregate(TimeSpan.Zero, (sum, p) => sum + p.Value - before.GetValueOrDefault(p.Key));

    public async ValueTask DisposeAsync() =>
        await ExecuteAsync(_admin, $"drop database if exists \"{Name}\" with (force)").ConfigureAwait(false);

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        var connection = new NpgsqlConnection(connectionString);
        await using (connection.ConfigureAwait(false))
        {
            await connection.OpenAsync().ConfigureAwait(false);
            var command = new NpgsqlCommand(sql, connection);
            await using (command.ConfigureAwait(false))
            {
                await command.ExecuteNonQueryAsync().ConfigureAwait(false);
            }
        }
    }
}

/// <summary>
/// Samples the machine's busy cores every few milliseconds while an end-to-end run goes on, and prints, per time slice,
/// how busy the machine was beside how many requests were on the wire and whether a commit ran (--timeline).
/// </summary>
internal sealed class Timeline : IDisposable
{
    private readonly List<(long At, TimeSpan Busy)> _samples = [];
    private readonly Thread _thread;
    private volatile bool _stop;

    public Timeline()
    {
        _thread = new Thread(() =>
        {
            while (!_stop)
            {
                _samples.Add((Stopwatch.GetTimestamp(), ProcessCpu.MachineBusy()));
                Thread.Sleep(10);
            }
        }) { IsBackground = true, Priority = ThreadPriority.Highest };
        _thread.Start();
    }

    public void Dispose() => Stop();

    /// <summary>Stops the sampling (so its samples are no longer written to) and prints the slices of [from, to].</summary>
    public void Print(long from, long to, List<(long Start, long End)> requests, List<(long Start, long End)> commits, int sliceMs = 50)
    {
        Stop();
        var slice = Stopwatch.Frequency * sliceMs / 1000;
        var line = new System.Text.StringBuilder("    timeline (per " + sliceMs + " ms: machine busy %, requests on the wire, commit running %):");
        for (var at = from; at < to; at += slice)
        {
            var end = Math.Min(to, at + slice);
            var first = _samples.LastOrDefault(x => x.At <= at);
            var last = _samples.FirstOrDefault(x => x.At >= end);
            var busy = last.At > first.At ? (last.Busy - first.Busy).TotalMilliseconds / (Stopwatch.GetElapsedTime(first.At, last.At).TotalMilliseconds * Environment.ProcessorCount) : 0;
            double Overlap(List<(long Start, long End)> spans) => spans.Sum(x => (double)Math.Max(0, Math.Min(x.End, end) - Math.Max(x.Start, at))) / (end - at);
            line.Append(CultureInfo.InvariantCulture, $"\n      {Stopwatch.GetElapsedTime(from, at).TotalMilliseconds,5:0} ms  {busy,4:P0}  rpc {Overlap(requests),4:0.0}  commit {Overlap(commits),4:P0}");
        }

        line.Append("\n    commits (start ms +duration ms):");
        foreach (var (start, end) in commits)
        {
            line.Append(CultureInfo.InvariantCulture, $" {Stopwatch.GetElapsedTime(from, start).TotalMilliseconds:0}+{Stopwatch.GetElapsedTime(start, end).TotalMilliseconds:0}");
        }

        Console.WriteLine(line.ToString());
    }

    private void Stop()
    {
        _stop = true;
        _thread.Join();
    }
}

/// <summary>CPU time of a process (ours or anvil) and of the machine from /proc, in clock ticks of 10 ms.</summary>
internal static class ProcessCpu
{
    /// <summary>CPU time all cores of the machine have been busy so far (every state of /proc/stat but idle and iowait).</summary>
    public static TimeSpan MachineBusy()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        long busy = 0;
        for (var i = 1; i < fields.Length && i <= 8; i++)
        {
            if (i is not 4 and not 5)
            {
                busy += long.Parse(fields[i], CultureInfo.InvariantCulture);
            }
        }

        return TimeSpan.FromMilliseconds(busy * 10);
    }

    public static TimeSpan Of(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // After the command: state is field 0, utime 11, stime 12 (fields 14 and 15 of proc(5)).
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromMilliseconds(ticks * 10);
        }
        catch (IOException)
        {
            return TimeSpan.Zero;
        }
    }

    /// <summary>
    /// CPU time so far of each thread of a process whose name starts with <paramref name="namePrefix"/>, by thread id
    /// (e.g. ".NET Tiered Com", the runtime's background re-compilation of hot methods).
    /// </summary>
    public static Dictionary<int, TimeSpan> OfThreads(int pid, string namePrefix)
    {
        var threads = new Dictionary<int, TimeSpan>();
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).StartsWith(namePrefix, StringComparison.Ordinal))
                {
                    var stat = File.ReadAllText(Path.Combine(task, "stat"));
                    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                    var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
                    threads[int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture)] = TimeSpan.FromMilliseconds(ticks * 10);
                }
            }
            catch (IOException)
            {
                // The thread ended while it was read.
            }
        }

        return threads;
    }

    public static string Uptime()
    {
        var load = File.ReadAllText("/proc/loadavg").Split(' ');
        return $"load average: {load[0]}, {load[1]}, {load[2]}";
    }
}
