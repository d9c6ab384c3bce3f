using System.Globalization;
using System.Text.Json;
using ChainMargin.Core;
using ChainMargin.Host.Composition;
using ChainMargin.Host.Devnet;
using ChainMargin.Indexing;
using ChainMargin.Liquidation.Flagging;
using ChainMargin.Risk;

namespace ChainMargin.Host.Cli;

/// <summary>The `chainmargin` command. Exit codes: 0 success, 1 failure, 2 bad usage or configuration.</summary>
public static class CliApp
{
    public const string Help = """
        chainmargin: cross-chain margin indexer

        Usage: chainmargin <command> [options]

        Commands:
          demo [--once]          start the devnet (if not up), index it, compute, serve the API, print the demo
                                 accounts' cross-chain health; --once exits after printing
          devnet up|down         start three anvil chains with the protocol deployed and demo accounts seeded / stop them
          serve                  run the service: watchers, margin engine, Hangfire, API (Api:Urls)
          backfill               index every configured chain up to its head, with progress per chain
                                 (blocks/s, events/s, ETA), then exit
          health <address>       print an account's health by method and chain (computed from the store)
          at-risk                recompute every account and list those not healthy, lowest health first
          config check           load and validate the configuration; print what is configured
          --help                 this text

        Configuration: config/chainmargin.json and config/risk.json, the devnet's .devnet/chains.json when present,
        environment variables CHAINMARGIN_<Section>__<Key>, and --<Section>:<Key>=value on the command line.
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            Console.WriteLine(Help);
            return args.Length == 0 ? 2 : 0;
        }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        try
        {
            return args[0] switch
            {
                "serve" => await ServeAsync(args[1..], cancel.Token).ConfigureAwait(false),
                "demo" => await DemoAsync(args[1..], cancel.Token).ConfigureAwait(false),
                "devnet" when args.Length > 1 && args[1] == "up" => await DevnetUpAsync(cancel.Token).ConfigureAwait(false),
                "devnet" when args.Length > 1 && args[1] == "down" => await DevnetDownAsync().ConfigureAwait(false),
                "health" when args.Length > 1 => await HealthAsync(args[1], args[2..], cancel.Token).ConfigureAwait(false),
                "config" when args.Length > 1 && args[1] == "check" => ConfigCheck(args[2..]),
                "backfill" => await BackfillAsync(args[1..], cancel.Token).ConfigureAwait(false),
                "at-risk" => await AtRiskAsync(args[1..], cancel.Token).ConfigureAwait(false),
                _ => Usage($"unknown command '{string.Join(' ', args)}'"),
            };
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            return 130;
        }
        catch (Exception ex) when (ex is InvalidOperationException or ChainMargin.Risk.RiskConfigException or Microsoft.Extensions.Options.OptionsValidationException or FormatException or DirectoryNotFoundException or FileNotFoundException)
        {
            await Console.Error.WriteLineAsync("chainmargin: " + ex.Message).ConfigureAwait(false);
            return 2;
        }
    }

    private static int Usage(string message)
    {
        Console.Error.WriteLine("chainmargin: " + message);
        Console.Error.WriteLine("run 'chainmargin --help' for the commands");
        return 2;
    }

    private static async Task<int> ServeAsync(string[] args, CancellationToken cancellationToken)
    {
        await using var app = AppFactory.Build(args);
        await app.RunAsync(cancellationToken).ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> DevnetUpAsync(CancellationToken cancellationToken)
    {
        await Devnet.Devnet.UpAsync(ChainMarginConfiguration.DevnetDirectory(), Devnet.Devnet.DefaultChains, Console.Out, cancellationToken).ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> DevnetDownAsync()
    {
        await Devnet.Devnet.DownAsync(ChainMarginConfiguration.DevnetDirectory(), Console.Out).ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> DemoAsync(string[] args, CancellationToken cancellationToken)
    {
        var once = args.Contains("--once");
        var rest = args.Where(a => a != "--once").ToArray();
        var devnet = ChainMarginConfiguration.DevnetDirectory();
        if (!Devnet.Devnet.IsUp(devnet))
        {
            await Devnet.Devnet.UpAsync(devnet, Devnet.Devnet.DefaultChains, Console.Out, cancellationToken).ConfigureAwait(false);
        }

        await using var app = AppFactory.Build(rest);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var statuses = app.Services.GetRequiredService<ChainStatusRegistry>();
        var chains = app.Services.GetRequiredService<IReadOnlyList<ChainOptions>>();
        Console.WriteLine($"demo: indexing {chains.Count} chains into {app.Configuration["Storage:Provider"]} ({app.Configuration["Storage:ConnectionString"]})");
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (statuses.All.Count < chains.Count || statuses.All.Any(s => s.LagBlocks is not 0))
        {
            if (DateTime.UtcNow > deadline || app.Lifetime.ApplicationStopping.IsCancellationRequested)
            {
                Console.Error.WriteLine("demo: the chains did not catch up within 2 minutes (or the service stopped; see the log above)");
                return 1;
            }

            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }

        var margin = Aave.AaveV3VenueServices.MarginWithVenues(app.Services);
        foreach (var account in DemoSeeder.Accounts)
        {
            var report = await margin.ComputeAsync(EvmAddress.Parse(account.Address), cancellationToken).ConfigureAwait(false);
            Console.WriteLine();
            Console.WriteLine($"{account.Name} {account.Address}: {account.Story}");
            PrintReport(report, margin.Classify(report));
        }

        Console.WriteLine();
        Console.WriteLine($"demo: API on {app.Configuration["Api:Urls"]} (try GET /v1/accounts/{DemoSeeder.Accounts[0].Address}/health); Ctrl+C stops; 'chainmargin devnet down' stops the chains");
        if (!once)
        {
            await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
        }

        await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> HealthAsync(string address, string[] args, CancellationToken cancellationToken)
    {
        if (!EvmAddress.TryParse(address, out var account))
        {
            return Usage($"'{address}' is not an EVM address (0x followed by 40 hex digits)");
        }

        await using var app = AppFactory.Build(args);
        var margin = Aave.AaveV3VenueServices.MarginWithVenues(app.Services);
        await app.Services.GetRequiredService<IChainStore>().MigrateAsync(cancellationToken).ConfigureAwait(false);
        var report = await margin.ComputeAsync(account, cancellationToken).ConfigureAwait(false);
        PrintReport(report, margin.Classify(report));
        return 0;
    }

    private static async Task<int> BackfillAsync(string[] args, CancellationToken cancellationToken)
    {
        await using var app = AppFactory.Build(args);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var statuses = app.Services.GetRequiredService<ChainStatusRegistry>();
        var chains = app.Services.GetRequiredService<IReadOnlyList<ChainOptions>>();
        var started = DateTime.UtcNow;
        var last = new Dictionary<ulong, (DateTime At, long Blocks, long Events)>();
        while (true)
        {
            await Task.Delay(1000, cancellationToken).ConfigureAwait(false);
            var now = DateTime.UtcNow;
            foreach (var s in statuses.All)
            {
                var previous = last.TryGetValue(s.Chain.Value, out var p) ? p : (At: started, Blocks: 0L, Events: 0L);
                var seconds = Math.Max(0.001, (now - previous.At).TotalSeconds);
                var blocksPerSecond = (s.BlocksIndexed - previous.Blocks) / seconds;
                var eventsPerSecond = (s.EventsIndexed - previous.Events) / seconds;
                last[s.Chain.Value] = (now, s.BlocksIndexed, s.EventsIndexed);
                var lag = s.LagBlocks;
                var eta = lag is > 0 && blocksPerSecond > 0 ? TimeSpan.FromSeconds(lag.Value / blocksPerSecond).ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture) : "-";
                var head = s.Head ?? 0;
                var done = head > 0 && s.Indexed is { } indexed ? (double)indexed.Number / head : 0;
                var bar = new string('#', (int)(20 * Math.Clamp(done, 0, 1))).PadRight(20, '.');
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{s.Name,-10} [{bar}] {s.Indexed?.Number ?? 0}/{head} {blocksPerSecond,8:0} blocks/s {eventsPerSecond,8:0} events/s ETA {eta}{(s.StaleReason(DateTimeOffset.UtcNow) is { } stale ? "  (" + stale + ")" : "")}"));
            }

            if (statuses.All.Count >= chains.Count && statuses.All.All(s => s.LagBlocks == 0 || s.Halted is not null))
            {
                break;
            }

            if (app.Lifetime.ApplicationStopping.IsCancellationRequested)
            {
                return 1;
            }
        }

        var halted = statuses.All.Where(s => s.Halted is not null).ToArray();
        foreach (var s in halted)
        {
            await Console.Error.WriteLineAsync($"backfill: chain {s.Name} halted: {s.Halted}").ConfigureAwait(false);
        }

        Console.WriteLine($"backfill: {statuses.All.Count} chain(s) at head, {statuses.All.Sum(s => s.EventsIndexed)} facts indexed in {(DateTime.UtcNow - started).TotalSeconds:0.0} s");
        await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        return halted.Length == 0 ? 0 : 1;
    }

    private static async Task<int> AtRiskAsync(string[] args, CancellationToken cancellationToken)
    {
        await using var app = AppFactory.Build(args);
        await app.Services.GetRequiredService<IChainStore>().MigrateAsync(cancellationToken).ConfigureAwait(false);
        var margin = Aave.AaveV3VenueServices.MarginWithVenues(app.Services);
        var reports = await margin.RecomputeAsync(null, "cli at-risk", cancellationToken).ConfigureAwait(false);
        var rows = reports.Select(r => (Report: r, State: margin.Classify(r))).Where(r => r.State != AccountStates.Healthy)
            .OrderBy(r => r.Report.Headline.Health ?? decimal.MaxValue).ToArray();
        Console.WriteLine($"{"account",-42} {"state",-13} {"health",10} {"method",-10} status");
        foreach (var (report, state) in rows)
        {
            Console.WriteLine($"{report.Account,-42} {state,-13} {Format(report.Headline.Health),10} {report.HeadlineMethod,-10} {report.Headline.StatusName}");
        }

        Console.WriteLine($"{rows.Length} of {reports.Count} account(s) at risk");
        return 0;
    }

    private static int ConfigCheck(string[] args)
    {
        var app = AppFactory.Build(args);
        var chains = app.Services.GetRequiredService<IReadOnlyList<ChainOptions>>();
        var risk = app.Services.GetRequiredService<RiskConfig>();
        Console.WriteLine($"config ok: {chains.Count} chain(s): {string.Join(", ", chains.Select(c => $"{c.Name} ({c.ChainId})"))}; headline method {risk.HeadlineMethod}");
        return 0;
    }

    public static void PrintReport(MarginReport report, string state)
    {
        ArgumentNullException.ThrowIfNull(report);
        Console.WriteLine($"  state {state}; headline {report.HeadlineMethod}: health {Format(report.Headline.Health)} ({report.Headline.StatusName})");
        Console.WriteLine($"  {"method",-16} {"status",-14} {"equity",14} {"maintenance",14} {"health",10}");
        foreach (var m in report.Methods)
        {
            Console.WriteLine($"  {m.Method,-16} {m.StatusName,-14} {Format(m.Equity),14} {Format(m.Maintenance),14} {Format(m.Health),10}");
        }

        foreach (var c in report.Headline.Chains)
        {
            Console.WriteLine($"  chain {c.Chain,-8} equity {Format(c.Equity),14} requirement {Format(c.Requirement),14} at block {report.Blocks.For(c.Chain)?.Number.ToString(CultureInfo.InvariantCulture) ?? "-"}");
        }

        foreach (var reason in report.Headline.Reasons)
        {
            Console.WriteLine("  ! " + reason);
        }
    }

    private static string Format(decimal? value) => value is null ? "-" : value.Value.ToString("#,0.####", CultureInfo.InvariantCulture);

    internal static string ToJson(object value) => JsonSerializer.Serialize(value);
}
