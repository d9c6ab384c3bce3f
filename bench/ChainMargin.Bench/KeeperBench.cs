using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Core;
using ChainMargin.Host.Composition;
using ChainMargin.Host.Devnet;
using ChainMargin.Host.Keeper;
using ChainMargin.Indexing;
using ChainMargin.Liquidation.Flagging;
using ChainMargin.Liquidation.Keeper;
using ChainMargin.Storage;
using ChainMargin.Storage.Intents;
using ChainMargin.Storage.Webhooks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ChainMargin.Bench;

/// <summary>
/// The keeper benchmark: flag and liquidation latency on the real pipeline. N accounts (WETH collateral, long ETH-PERP)
/// are seeded on a local anvil chain and indexed into a fresh PostgreSQL database by the service's own composition
/// (<c>AddChainMargin</c>: <see cref="WatcherHostedService"/> running the <see cref="ChainWatcher"/>, the store, the
/// <see cref="MarginService"/> fast path, and <see cref="KeeperHostedService"/> with <see cref="KeeperService"/> in dry
/// run: it attests, simulates with eth_call and signs, and sends nothing). Then the ETH price walks down (with some
/// up-moves) in U updates; each update is one transaction to the feed, mined by an explicit evm_mine.
/// <para>t0 of an update = the instant the evm_mine call returns: the block is on the node and any eth_blockNumber sees it.
/// Flag latency = from t0 to the moment the store's RecordAccountStateAsync returned for an account moving to
/// liquidatable (committed in PostgreSQL). Signed latency = from t0 to the moment the intent store's transition to
/// signed (the signed raw transaction stored) returned, for the accounts flagged by that update.</para>
/// The first --warmup updates (JIT, first reads) are printed and not counted.
/// Usage: keeper [--accounts N] [--updates N] [--poll-ms N] [--warmup N] [--at-risk-every N]
/// </summary>
internal static class KeeperBench
{
    public static int Run(string[] args) => RunAsync(args).GetAwaiter().GetResult();

    private static async Task<int> RunAsync(string[] args)
    {
        var accounts = Option(args, "--accounts", 10_000);
        var updates = Option(args, "--updates", 80);
        var pollMs = Option(args, "--poll-ms", 10);
        var warmup = Option(args, "--warmup", 4);
        var atRiskEvery = Option(args, "--at-risk-every", 5);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(30));
        var ct = cancel.Token;

        Console.WriteLine(Inv($"keeper: {Environment.ProcessorCount} cores; {ProcessCpu.Uptime()} at start"));
        var seedClock = Stopwatch.StartNew();
        await using var chain = await KeeperBenchChain.SeedAsync(accounts, atRiskEvery, ct).ConfigureAwait(false);
        Console.WriteLine(Inv($"  seeded {accounts} accounts (WETH collateral + long ETH-PERP; every {atRiskEvery}th levered 1.5x-5.5x) in {seedClock.Elapsed.TotalSeconds:0.0} s"));

        await using var database = await BenchDatabase.CreateAsync().ConfigureAwait(false);
        var dir = Directory.CreateTempSubdirectory("cm-keeper-bench-");
        try
        {
            var chainsFile = Path.Combine(dir.FullName, "chains.json");
            await File.WriteAllTextAsync(chainsFile, Devnet.ChainsJson([new DevnetChain("bench", KeeperBenchChain.ChainId, chain.Node.Port)], [chain.Protocol]), ct).ConfigureAwait(false);
            Environment.SetEnvironmentVariable(EnvironmentKeySource.RiskSignerVariable, DevAccounts.RiskSigner.PrivateKey);
            Environment.SetEnvironmentVariable(EnvironmentKeySource.KeeperVariablePrefix + KeeperBenchChain.ChainId.ToString(CultureInfo.InvariantCulture), DevAccounts.Keeper.PrivateKey);
            var configuration = new ConfigurationManager();
            ChainMarginConfiguration.AddSources(configuration,
            [
                "--Storage:Provider=postgres",
                $"--Storage:ConnectionString={database.ConnectionString}",
                "--Margin:FastPath=true",
                "--Margin:SweepCron=0 0 1 1 *",
                "--Keeper:Enabled=true",
                "--Keeper:DryRun=true",
                "--Keeper:MinProfitUsd=0",
                Inv($"--Chains:0:PollInterval=00:00:00.{pollMs:000}"),
            ], chainsFile);

            var probe = new Probe();
            var services = new ServiceCollection();
            services.AddSingleton<IConfiguration>(configuration);
            services.AddLogging(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
            services.AddChainMargin(configuration);
            // The same stores, timed: when a flag and a signed transaction are committed.
            services.AddSingleton(sp => probe.Wrap(sp.GetRequiredService<ChainStorage>().Store));

            // With the webhooks' recorder in place (the service's composition sets it), a state change and its outbox
            // rows commit through the webhook store instead: timed the same way.
            services.AddSingleton<IWebhookStore>(sp => probe.Wrap(sp.GetRequiredService<SqlWebhookStore>()));
            services.AddSingleton(sp => probe.Wrap(IntentStoreFactory.Create(new StorageOptions { Provider = StorageOptions.Postgres, ConnectionString = database.ConnectionString }, TimeProvider.System)));
            await using var provider = services.BuildServiceProvider();
            var hosted = provider.GetServices<IHostedService>().ToArray();
            var watcherService = hosted.OfType<WatcherHostedService>().Single();
            var keeperService = hosted.OfType<KeeperHostedService>().Single();
            var margin = provider.GetRequiredService<MarginService>();
            var statuses = provider.GetRequiredService<ChainStatusRegistry>();
            var recomputedAt = new ConcurrentQueue<(long Block, long At, double Ms, int Reports)>();
            var profiles = new ConcurrentQueue<string>();
            margin.Recomputed += reports =>
            {
                var block = statuses.All.Single().Indexed?.Number ?? 0;
                recomputedAt.Enqueue((block, Stopwatch.GetTimestamp(), margin.LastRecomputeMs, reports.Count));
                profiles.Enqueue(margin.LastFastPathProfile);
            };

            var indexClock = Stopwatch.StartNew();
            await watcherService.StartAsync(ct).ConfigureAwait(false);
            await keeperService.StartAsync(ct).ConfigureAwait(false);
            var (head, _) = await chain.MineAsync(ct).ConfigureAwait(false);
            var waited = Stopwatch.StartNew();
            while (statuses.All.Any(s => s.Indexed is null || s.Indexed.Value.Number < head) || recomputedAt.IsEmpty)
            {
                await Task.Delay(100, ct).ConfigureAwait(false);
                if (waited.Elapsed > TimeSpan.FromSeconds(20))
                {
                    waited.Restart();
                    Console.WriteLine(Inv($"  waiting: head {head}, indexed {string.Join(",", statuses.All.Select(s => s.Indexed?.Number))}, recomputed up to {(recomputedAt.IsEmpty ? -1 : recomputedAt.Max(r => r.Block))}, keeper in flight {keeperService.InFlight}"));
                }
            }

            // The keeper works through what the initial recompute found liquidatable before anything is measured.
            while (keeperService.InFlight > 0)
            {
                await Task.Delay(100, ct).ConfigureAwait(false);
                if (waited.Elapsed > TimeSpan.FromSeconds(20))
                {
                    waited.Restart();
                    Console.WriteLine(Inv($"  waiting for the keeper: {keeperService.InFlight} in flight"));
                }
            }

            var known = Enumerable.Range(0, accounts).Count(i => margin.StateOf(EvmAddress.Parse(KeeperBenchChain.Trader(i))) is not null);
            Console.WriteLine(Inv($"  indexed and computed {known} accounts in {indexClock.Elapsed.TotalSeconds:0.0} s (head {head}); watcher poll {pollMs} ms"));
            if (known != accounts)
            {
                throw new InvalidOperationException(Inv($"only {known} of {accounts} accounts have a state after indexing"));
            }

            var self = Process.GetCurrentProcess();
            var cpuPerUpdate = new List<double>();
            var anvilPerUpdate = new List<double>();
            var flags = new List<double>();
            var signed = new List<double>();
            var unsigned = 0;
            var price = 3000m;
            for (var u = 1 - warmup; u <= updates; u++)
            {
                // Mostly down 0.8%, every fourth update up 0.8%: the down-moves cross the levered accounts' liquidation prices.
                price = decimal.Round(price * (u % 4 == 0 ? 1.008m : 0.992m), 2);
                probe.Reset();
                recomputedAt.Clear();
                profiles.Clear();
                await chain.QueuePriceAsync(price, ct).ConfigureAwait(false);
                self.Refresh();
                var cpuBefore = self.TotalProcessorTime;
                var anvilBefore = ProcessCpu.Of(chain.Node.ProcessId);
                var (block, t0) = await chain.MineAsync(ct).ConfigureAwait(false);

                // Until the block is recomputed and every intent the keeper claimed for it is settled (dry run: skipped).
                var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 10;
                while (Stopwatch.GetTimestamp() < deadline &&
                       (!recomputedAt.Any(r => r.Block >= block) || !probe.Flagged.Keys.All(a => probe.Claimed.ContainsKey(a)) || probe.Claimed.Count != probe.Settled.Count))
                {
                    await Task.Delay(5, ct).ConfigureAwait(false);
                }

                self.Refresh();
                var cpu = (self.TotalProcessorTime - cpuBefore).TotalMilliseconds;
                var anvilCpu = (ProcessCpu.Of(chain.Node.ProcessId) - anvilBefore).TotalMilliseconds;
                if (u >= 1)
                {
                    cpuPerUpdate.Add(cpu);
                    anvilPerUpdate.Add(anvilCpu);
                }

                await Task.Delay(50, ct).ConfigureAwait(false);
                var recompute = recomputedAt.FirstOrDefault(r => r.Block >= block);
                var flagged = probe.Flagged.ToArray();
                foreach (var (account, at) in u < 1 ? [] : flagged)
                {
                    flags.Add(Ms(t0, at));
                    if (probe.Signed.TryGetValue(account, out var signedAt))
                    {
                        signed.Add(Ms(t0, signedAt));
                    }
                    else
                    {
                        unsigned++;
                    }
                }

                var updateFlags = flagged.Select(f => Ms(t0, f.Value)).Order().ToArray();
                var spread = updateFlags.Length == 0 ? string.Empty : Inv($" (first {updateFlags[0]:0.0} ms, last {updateFlags[^1]:0.0} ms)");
                Console.WriteLine(Inv(
                    $"  {(u < 1 ? "warm-up" : "update ")} {u + (u < 1 ? warmup : 0),3}: ETH {price,8:0.00} block {block}: recompute {recompute.Ms,6:0.0} ms, done at {(recompute.At == 0 ? double.NaN : Ms(t0, recompute.At)),6:0.0} ms; flagged {flagged.Length,4}{spread}; signed {probe.Signed.Count(s => probe.Flagged.ContainsKey(s.Key)),4}"));
                Console.WriteLine(Inv($"      CPU ours {cpu:0} ms, anvil {anvilCpu:0} ms; {string.Join(" | ", profiles)}"));
            }

            await keeperService.StopAsync(CancellationToken.None).ConfigureAwait(false);
            await watcherService.StopAsync(CancellationToken.None).ConfigureAwait(false);

            if (flags.Count == 0)
            {
                throw new InvalidOperationException("no account was flagged: the price path crossed no liquidation price");
            }

            Console.WriteLine(Inv($"  flags {flags.Count}: p50 {Percentile(flags, 0.50):0.0} ms, p90 {Percentile(flags, 0.90):0.0} ms, p99 {Percentile(flags, 0.99):0.0} ms, max {flags.Max():0.0} ms"));
            Console.WriteLine(Inv($"  signed {signed.Count} (not signed: {unsigned}): p50 {(signed.Count == 0 ? double.NaN : Percentile(signed, 0.50)):0.0} ms, p99 {(signed.Count == 0 ? double.NaN : Percentile(signed, 0.99)):0.0} ms"));
            Console.WriteLine(Inv($"  CPU per update (this process: watcher, store client, margin, keeper), median {Percentile(cpuPerUpdate, 0.5):0} ms, p90 {Percentile(cpuPerUpdate, 0.9):0} ms; anvil median {Percentile(anvilPerUpdate, 0.5):0} ms"));
            Console.WriteLine(Inv($"  {ProcessCpu.Uptime()} at end"));
            Console.WriteLine(Inv($"keeper: accounts={accounts} flag_p50_ms={Percentile(flags, 0.50):0} flag_p99_ms={Percentile(flags, 0.99):0} signed_p50_ms={(signed.Count == 0 ? -1 : Percentile(signed, 0.50)):0}"));
            return 0;
        }
        finally
        {
            Environment.SetEnvironmentVariable(EnvironmentKeySource.RiskSignerVariable, null);
            Environment.SetEnvironmentVariable(EnvironmentKeySource.KeeperVariablePrefix + KeeperBenchChain.ChainId.ToString(CultureInfo.InvariantCulture), null);
            dir.Delete(recursive: true);
        }
    }

    private static double Ms(long from, long to) => (to - from) * 1000.0 / Stopwatch.Frequency;

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static string Inv(FormattableString text) => FormattableString.Invariant(text);

    /// <summary>Timestamps (Stopwatch ticks) of committed flags, claims, signatures and settled intents, per account.</summary>
    private sealed class Probe
    {
        private readonly ConcurrentDictionary<long, string> _accountOf = new();

        public ConcurrentDictionary<string, long> Flagged { get; } = new(StringComparer.OrdinalIgnoreCase);

        public ConcurrentDictionary<string, long> Claimed { get; } = new(StringComparer.OrdinalIgnoreCase);

        public ConcurrentDictionary<string, long> Signed { get; } = new(StringComparer.OrdinalIgnoreCase);

        public ConcurrentDictionary<string, long> Settled { get; } = new(StringComparer.OrdinalIgnoreCase);

        public void Reset()
        {
            Flagged.Clear();
            Claimed.Clear();
            Signed.Clear();
            Settled.Clear();
        }

        public IChainStore Wrap(IChainStore inner) => Interceptor<IChainStore>.Create(inner, (method, args, result) =>
            method.Name == nameof(IChainStore.RecordAccountStateAsync) && args![0] is AccountStateRecord { State: AccountStates.Liquidatable } record
                ? After((Task<bool>)result!, changed =>
                {
                    if (changed)
                    {
                        Flagged.TryAdd(record.Account.Value, Stopwatch.GetTimestamp());
                    }
                })
                : result);

        public IWebhookStore Wrap(SqlWebhookStore inner) => Interceptor<IWebhookStore>.Create(inner, (method, args, result) =>
            method.Name == nameof(IWebhookStore.RecordAccountStateAsync) && args![0] is AccountObservation { Record.State: AccountStates.Liquidatable } observation
                ? After((Task<RecordedChange>)result!, change =>
                {
                    if (change.Changed)
                    {
                        Flagged.TryAdd(observation.Record.Account.Value, Stopwatch.GetTimestamp());
                    }
                })
                : result);

        public ILiquidationIntentStore Wrap(SqlIntentStore inner) => Interceptor<ILiquidationIntentStore>.Create(inner, (method, args, result) => method.Name switch
        {
            nameof(ILiquidationIntentStore.TryClaimAsync) => After((Task<LiquidationIntent?>)result!, intent =>
            {
                if (intent is not null)
                {
                    _accountOf[intent.Id] = intent.Key.Account;
                    Claimed.TryAdd(intent.Key.Account, Stopwatch.GetTimestamp());
                }
            }),
            nameof(ILiquidationIntentStore.TransitionAsync) => After((Task<bool>)result!, moved =>
            {
                var at = Stopwatch.GetTimestamp();
                if (moved && _accountOf.TryGetValue((long)args![0]!, out var account))
                {
                    var target = (string)args[2]!;
                    if (target == IntentStates.Signed)
                    {
                        Signed.TryAdd(account, at);
                    }
                    else if (target is IntentStates.Skipped or IntentStates.Failed or IntentStates.Sent)
                    {
                        Settled.TryAdd(account, at);
                    }
                }
            }),
            _ => result,
        });

        private static async Task<T> After<T>(Task<T> task, Action<T> then)
        {
            var value = await task.ConfigureAwait(false);
            then(value);
            return value;
        }
    }
}

/// <summary>Forwards every call of an interface to an implementation and lets a hook replace the result (timing).</summary>
#pragma warning disable CA1852 // DispatchProxy needs a non-sealed type
internal class Interceptor<T> : DispatchProxy
    where T : class
#pragma warning restore CA1852
{
    private T _inner = null!;
    private Func<MethodInfo, object?[]?, object?, object?> _hook = null!;

    public static T Create(T inner, Func<MethodInfo, object?[]?, object?, object?> hook)
    {
        var proxy = Create<T, Interceptor<T>>();
        var self = (Interceptor<T>)(object)proxy;
        self._inner = inner;
        self._hook = hook;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        try
        {
            return _hook(targetMethod, args, targetMethod.Invoke(_inner, args));
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex.InnerException).Throw();
            throw;
        }
    }
}
