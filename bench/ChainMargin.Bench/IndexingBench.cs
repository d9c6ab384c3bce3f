using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ChainMargin.Core;
using ChainMargin.Indexing;
using ChainMargin.Indexing.Decoding;
using ChainMargin.Indexing.Rpc;
using ChainMargin.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChainMargin.Bench;

/// <summary>
/// The indexing benchmark: seeds vault deposits on a local anvil chain, then measures end-to-end backfill with the real
/// <see cref="ChainWatcher"/> (eth_getLogs, headers, decode, COPY into a fresh PostgreSQL database, aggregates and
/// checkpoint in one transaction per step) against the raw limit: the same eth_getLogs sub-ranges with the same
/// parallelism over plain HTTP, nothing parsed or stored. The raw loop runs right before and right after each
/// end-to-end run and the faster of the two counts, so the ratio is not flattered by a slow raw pass.
/// --warmup N runs N end-to-end runs (each with its raw passes) first and leaves them out of the summary: the runtime
/// compiles and re-compiles hot methods (tiered compilation, dynamic PGO) over the first several runs of a process,
/// CPU a long backfill spends once and a short run would otherwise count against every event. The defaults (300,000
/// events, 2 warm-up runs, 3 counted) measure the steady state of a backfill; each warm-up run's line is printed too.
/// --timeline prints, per 50 ms of each end-to-end run, how busy the machine was, the requests on the wire and whether a
/// commit ran.
/// Usage: indexing [--events N] [--per-block N] [--accounts N] [--range N] [--parallelism N] [--commit-blocks N] [--prefetch N] [--runs N] [--warmup N] [--timeline]
/// </summary>
internal static class IndexingBench
{
    public static int Run(string[] args) => RunAsync(args).GetAwaiter().GetResult();

    private static async Task<int> RunAsync(string[] args)
    {
        var events = Option(args, "--events", 300_000);
        var perBlock = Option(args, "--per-block", 200);
        var accounts = Option(args, "--accounts", 1_000);
        var range = Option(args, "--range", 25);
        var parallelism = Option(args, "--parallelism", 4);
        var commitBlocks = Option(args, "--commit-blocks", 100);
        var runs = Option(args, "--runs", 3);
        var warmup = Option(args, "--warmup", 2);
        var timeline = args.Contains("--timeline");
        var prefetch = Option(args, "--prefetch", new ChainOptions().PrefetchSpans);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(20));
        var ct = cancel.Token;

        Console.WriteLine(Inv($"indexing: {Environment.ProcessorCount} cores; {ProcessCpu.Uptime()} at start"));
        Console.WriteLine(Inv($"  seeding {events} Deposited events, {perBlock} per block, {accounts} depositors over 3 tokens ..."));
        await using var chain = await IndexingSeeder.SeedAsync(events, perBlock, accounts, ct).ConfigureAwait(false);
        Console.WriteLine(Inv($"  seeded blocks {chain.FirstBlock}..{chain.LastBlock} in {chain.SeedTime.TotalSeconds:0.0} s ({chain.Events / chain.SeedTime.TotalSeconds:0} tx/s); {ProcessCpu.Uptime()}"));

        var options = Options(chain, range, parallelism, commitBlocks);
        options.PrefetchSpans = prefetch;
        var addresses = ChainWatcher.Roles(options.Contracts).Keys.Select(k => k.Value).ToArray();
        Console.WriteLine(Inv($"  ChainOptions: InitialBlockRange={options.InitialBlockRange} MaxBlockRange={options.MaxBlockRange} Parallelism={options.Parallelism} MaxBlocksPerCommit={options.MaxBlocksPerCommit} PrefetchSpans={options.PrefetchSpans} Confirmations=0 FinalityDepth={options.FinalityDepth}; {addresses.Length} watched addresses"));

        var endToEnd = new List<double>();
        var raw = new List<double>();
        List<byte[]>? bodies = null;
        for (var run = 1 - warmup; run <= runs; run++)
        {
            var before = await RawAsync(chain, addresses, range, parallelism, keep: bodies is null, ct).ConfigureAwait(false);
            bodies ??= before.Bodies;
            var e2e = await EndToEndAsync(chain, options, timeline, ct).ConfigureAwait(false);
            var after = await RawAsync(chain, addresses, range, parallelism, keep: false, ct).ConfigureAwait(false);
            var rawRate = Math.Max(before.Rate, after.Rate);
            var rawPerCpu = Math.Max(before.PerCpuSecond, after.PerCpuSecond);
            if (run > 0)
            {
                endToEnd.Add(e2e.Rate);
                raw.Add(rawRate);
            }

            Console.WriteLine(Inv($"  {(run > 0 ? "run " + run : "warm-up run (not counted) " + (run + warmup))}: end-to-end {e2e.Rate:0} events/s; raw fetch {before.Rate:0} (before) / {after.Rate:0} (after) events/s; ratio {e2e.Rate / rawRate:0.00}; {ProcessCpu.Uptime()}"));
            Console.WriteLine(Inv($"    per CPU-second of all processes (ours + anvil [+ PostgreSQL]): end-to-end {e2e.PerCpuSecond:0}, raw {rawPerCpu:0}, ratio {e2e.PerCpuSecond / rawPerCpu:0.00}"));
        }

        Profile(bodies!, options, chain.Events);

        var medianE2e = Median(endToEnd);
        var medianRaw = Median(raw);
        Console.WriteLine(Inv($"  {ProcessCpu.Uptime()} at end"));
        Console.WriteLine(Inv($"indexing: events_per_s={medianE2e:0} raw_fetch_events_per_s={medianRaw:0} ratio={medianE2e / medianRaw:0.00}"));
        return 0;
    }

    private static ChainOptions Options(SeededChain chain, int range, int parallelism, int commitBlocks)
    {
        var protocol = chain.Protocol;
        var contracts = new ChainContractsOptions { Vault = protocol.Vault, PerpMarket = protocol.PerpMarket, OptionMarket = protocol.OptionMarket };
        foreach (var feed in protocol.Feeds)
        {
            (feed.Kind == "spot" ? contracts.PriceFeeds : contracts.VolatilityFeeds)[feed.Asset] = feed.Address;
        }

        return new ChainOptions
        {
            Name = "bench",
            ChainId = IndexingSeeder.ChainId,
            RpcUrls = [chain.Node.RpcUrl],
            StartBlock = chain.FirstBlock,
            Confirmations = 0,
            FinalityDepth = 64,
            InitialBlockRange = range,
            MaxBlockRange = range,
            Parallelism = parallelism,
            MaxBlocksPerCommit = commitBlocks,
            Contracts = contracts,
        };
    }

    private static async Task<(double Rate, double PerCpuSecond, List<byte[]>? Bodies)> RawAsync(
        SeededChain chain, string[] addresses, int range, int parallelism, bool keep, CancellationToken ct)
    {
        var self = Process.GetCurrentProcess();
        var cpu = self.TotalProcessorTime;
        var anvilCpu = ProcessCpu.Of(chain.Node.ProcessId);
        var machine = ProcessCpu.MachineBusy();
        var (count, elapsed, bodies) = await RawFetch.RunAsync(new Uri(chain.Node.RpcUrl), addresses, chain.FirstBlock, chain.LastBlock, range, parallelism, keep, ct)
            .ConfigureAwait(false);
        if (count != chain.Events)
        {
            throw new InvalidOperationException(Inv($"the raw fetch saw {count} logs, {chain.Events} were seeded"));
        }

        var machineBusy = ProcessCpu.MachineBusy() - machine;
        self.Refresh();
        var anvil = ProcessCpu.Of(chain.Node.ProcessId) - anvilCpu;
        var total = self.TotalProcessorTime - cpu + anvil;
        Console.WriteLine(Inv($"    raw fetch: {elapsed.TotalMilliseconds:0} ms; CPU: ours {(self.TotalProcessorTime - cpu).TotalMilliseconds:0} ms, anvil {anvil.TotalMilliseconds:0} ms; the machine's cores were busy {machineBusy / (elapsed * Environment.ProcessorCount):P0}"));
        return (count / elapsed.TotalSeconds, count / total.TotalSeconds, bodies);
    }

    /// <summary>The real watcher into a fresh database, stepped until caught up; returns events per second.</summary>
    private static async Task<(double Rate, double PerCpuSecond)> EndToEndAsync(SeededChain chain, ChainOptions options, bool printTimeline, CancellationToken ct)
    {
        await using var database = await BenchDatabase.CreateAsync().ConfigureAwait(false);
        await using var storage = StoreFactory.Create(new StorageOptions { Provider = StorageOptions.Postgres, ConnectionString = database.ConnectionString });
        await storage.Store.MigrateAsync(ct).ConfigureAwait(false);
        var store = new TimedStore(storage.Store);
        var handler = new TimingHandler();
        using var rpc = new JsonRpcClient(options.RpcUrls, new RpcRetryOptions { MaxConcurrentRequests = Math.Max(8, options.Parallelism) }, TimeProvider.System, handler);
        var chainId = new ChainId(options.ChainId);
        var watcher = new ChainWatcher(options, store, rpc, new ChainStatus(chainId, options.Name, TimeSpan.FromMinutes(5)), TimeProvider.System, NullLogger.Instance);
        long facts = 0;
        var steps = 0;
        watcher.Committed += (c, _) =>
        {
            facts += c.Events;
            steps++;
            return Task.CompletedTask;
        };

        var self = Process.GetCurrentProcess();
        var postgresBefore = await database.BackendCpuAsync().ConfigureAwait(false);
        var cpu = self.TotalProcessorTime;
        var anvilCpu = ProcessCpu.Of(chain.Node.ProcessId);
        var allocated = GC.GetTotalAllocatedBytes();
        var gen2 = GC.CollectionCount(2);
        var jitMethods = System.Runtime.JitInfo.GetCompiledMethodCount();
        var tiering = ProcessCpu.OfThreads(Environment.ProcessId, TieringThread);
        var machine = ProcessCpu.MachineBusy();
        using var timeline = printTimeline ? new Timeline() : null;
        var started = Stopwatch.GetTimestamp();
        while (!await watcher.StepAsync(ct).ConfigureAwait(false))
        {
        }

        timeline?.Print(started, Stopwatch.GetTimestamp(), handler.Intervals, store.Intervals);

        var elapsed = Stopwatch.GetElapsedTime(started);
        var machineBusy = ProcessCpu.MachineBusy() - machine;
        self.Refresh();
        var ourCpu = self.TotalProcessorTime - cpu;
        var jitted = System.Runtime.JitInfo.GetCompiledMethodCount() - jitMethods;
        var tieringCpu = BenchDatabase.CpuBetween(tiering, ProcessCpu.OfThreads(Environment.ProcessId, TieringThread));
        var anvil = ProcessCpu.Of(chain.Node.ProcessId) - anvilCpu;
        var postgres = DatabaseCpu(postgresBefore, await database.BackendCpuAsync().ConfigureAwait(false));

        var rows = await database.ScalarAsync("select count(*) from collateral_changes").ConfigureAwait(false);
        var checkpoint = await database.ScalarAsync("select block_number from chain_checkpoints").ConfigureAwait(false);
        var balances = await database.ScalarAsync("select count(*) from collateral_balances").ConfigureAwait(false);
        if (facts != chain.Events || rows != chain.Events || checkpoint != chain.LastBlock)
        {
            throw new InvalidOperationException(Inv($"end to end stored {rows} rows ({facts} facts reported), checkpoint {checkpoint}; expected {chain.Events} and {chain.LastBlock}"));
        }

        var other = elapsed - handler.Busy - store.CommitTime;
        Console.WriteLine(Inv($"    end-to-end: {rows} rows, {balances} balances, checkpoint {checkpoint}, {steps} commits in {elapsed.TotalMilliseconds:0} ms"));
        Console.WriteLine(Inv($"    wall: RPC on the wire {handler.Busy.TotalMilliseconds:0} ms ({handler.Requests} requests, {handler.Bytes / 1e6:0.0} MB), commits {store.CommitTime.TotalMilliseconds:0} ms, the rest (JSON parse, decode, batch) {other.TotalMilliseconds:0} ms"));
        var total = ourCpu + anvil + postgres;
        Console.WriteLine(Inv($"    CPU: ours {ourCpu.TotalMilliseconds:0} ms, anvil {anvil.TotalMilliseconds:0} ms, PostgreSQL backends {postgres.TotalMilliseconds:0} ms; total {total.TotalMilliseconds:0} ms = {chain.Events / total.TotalSeconds:0} events per CPU-second; allocated {(GC.GetTotalAllocatedBytes() - allocated) / 1e6:0} MB, gen2 GCs {GC.CollectionCount(2) - gen2}"));
        Console.WriteLine(Inv($"    the machine's cores were busy {machineBusy.TotalMilliseconds:0} ms of {elapsed.TotalMilliseconds * Environment.ProcessorCount:0} ms ({machineBusy / (elapsed * Environment.ProcessorCount):P0})"));
        Console.WriteLine(Inv($"    CPU of this process while commits ran: {store.CommitCpu.TotalMilliseconds:0} ms (with --prefetch 0 only the store's own work runs then: COPY encoding, Npgsql, TLS)"));
        // Tiered compilation keeps re-compiling hot methods (tier 0, instrumented, tier 1) for several runs, on its own
        // thread: CPU a process spends once, not per event; shown so that a warm run's "ours" can be read without it.
        // (A tiering thread that ended during the run is not counted: "without" errs on the high side.)
        Console.WriteLine(Inv($"    JIT during the run: {jitted} methods compiled; the tiered-compilation thread used {tieringCpu.TotalMilliseconds:0} ms CPU (part of ours; ours without it {(ourCpu - tieringCpu).TotalMilliseconds:0} ms)"));
        return (chain.Events / elapsed.TotalSeconds, chain.Events / total.TotalSeconds);
    }

    /// <summary>Single-threaded CPU cost and allocation of the in-process stages on the logs of the chain, from the raw bodies.</summary>
    private static void Profile(List<byte[]> bodies, ChainOptions options, int events)
    {
        var decoder = new EventDecoder(new ChainId(options.ChainId), ChainWatcher.Roles(options.Contracts));
        for (var pass = 0; pass < 3; pass++)
        {
            var read = TimeSpan.Zero;
            var decode = TimeSpan.Zero;
            long readBytes = 0;
            long decodeBytes = 0;
            var decoded = 0;
            foreach (var body in bodies)
            {
                var a0 = GC.GetAllocatedBytesForCurrentThread();
                var t0 = Stopwatch.GetTimestamp();

                // As the RPC client does for eth_getLogs: the logs are read from the answer's bytes, in place.
                var reader = new Utf8JsonReader(body);
                reader.Read();
                while (reader.Read() && !reader.ValueTextEquals("result"u8))
                {
                    reader.Read();
                    reader.Skip();
                }

                reader.Read();
                var logs = LogFetcher.ReadLogs(ref reader)!;
                var t1 = Stopwatch.GetTimestamp();
                var a1 = GC.GetAllocatedBytesForCurrentThread();
                foreach (var log in logs)
                {
                    decoded += decoder.Decode(log) is CollateralChanged ? 1 : 0;
                }

                var t2 = Stopwatch.GetTimestamp();
                read += Stopwatch.GetElapsedTime(t0, t1);
                decode += Stopwatch.GetElapsedTime(t1, t2);
                readBytes += a1 - a0;
                decodeBytes += GC.GetAllocatedBytesForCurrentThread() - a1;
            }

            if (decoded != events)
            {
                throw new InvalidOperationException(Inv($"the profile decoded {decoded} deposits of {events}"));
            }

            if (pass == 2)
            {
                Console.WriteLine(Inv($"  profile (one thread, warm, {events} logs): JSON read into RawLogs {read.TotalMilliseconds:0} ms ({readBytes / 1e6:0} MB allocated), EventDecoder {decode.TotalMilliseconds:0} ms ({decodeBytes / 1e6:0} MB)"));
            }
        }
    }

    private const string TieringThread = ".NET Tiered Com";

    private static TimeSpan DatabaseCpu(Dictionary<int, TimeSpan> before, Dictionary<int, TimeSpan> after) => BenchDatabase.CpuBetween(before, after);

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static string Inv(FormattableString text) => FormattableString.Invariant(text);
}
