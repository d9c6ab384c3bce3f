using ChainMargin.Core;
using ChainMargin.Host.Composition;
using ChainMargin.Host.Jobs;
using ChainMargin.Indexing;
using ChainMargin.Liquidation.Flagging;
using ChainMargin.Risk;
using Hangfire;
using Microsoft.Extensions.Options;

namespace ChainMargin.Host.Api;

/// <summary>The versioned REST API under /v1, and /healthz.</summary>
public static class Endpoints
{
    public const string ApiKeyHeader = "X-Api-Key";

    public static WebApplication MapChainMarginApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var v1 = app.MapGroup("/v1").AddEndpointFilter(ReadAccessFilter);
        v1.MapAccountLinks();
        v1.MapAlerts();

        v1.MapGet("/accounts/{address}/health", async (string address, MarginService margin, ChainStatusRegistry chains, TimeProvider time, CancellationToken ct) =>
        {
            if (!EvmAddress.TryParse(address, out var account))
            {
                return Problem(400, "malformed address", $"'{address}' is not an EVM address (0x followed by 40 hex digits)", "address");
            }

            var report = await margin.ComputeAsync(account, ct).ConfigureAwait(false);
            return Results.Ok(HealthResponse.From(report, margin.Classify(report), chains, time.GetUtcNow()) with { Venues = margin.VenueHealthOf(account) });
        }).WithName("GetAccountHealth");

        v1.MapGet("/accounts/{address}/state", async (string address, IChainStore store, ChainMargin.Liquidation.Accounts.AccountDirectory accounts, CancellationToken ct) =>
        {
            if (!EvmAddress.TryParse(address, out var account))
            {
                return Problem(400, "malformed address", $"'{address}' is not an EVM address (0x followed by 40 hex digits)", "address");
            }

            // A linked account's state is recorded under its primary.
            account = (await accounts.CurrentAsync(ct).ConfigureAwait(false)).AccountOf(account);

            var history = await store.GetAccountStateHistoryAsync(account, ct).ConfigureAwait(false);
            return Results.Ok(new { account = account.Value, current = history.Count > 0 ? history[^1] : null, history });
        }).WithName("GetAccountStateHistory");

        v1.MapGet("/accounts/{address}/positions", async (string address, MarginService margin, CancellationToken ct) =>
        {
            if (!EvmAddress.TryParse(address, out var account))
            {
                return Problem(400, "malformed address", $"'{address}' is not an EVM address (0x followed by 40 hex digits)", "address");
            }

            var report = await margin.ComputeAsync(account, ct).ConfigureAwait(false);
            var method = report.Method(MarginMethods.Cross);
            return Results.Ok(new { account = report.Account.Value, addresses = report.Addresses, positions = method.Positions, blocks = report.Blocks.Blocks });
        }).WithName("GetAccountPositions");

        v1.MapPost("/accounts/{address}/what-if", async (string address, WhatIfRequest? request, MarginService margin, ChainStatusRegistry chains, TimeProvider time, CancellationToken ct) =>
        {
            if (!EvmAddress.TryParse(address, out var account))
            {
                return Problem(400, "malformed address", $"'{address}' is not an EVM address (0x followed by 40 hex digits)", "address");
            }

            if (request is null)
            {
                return Problem(400, "missing body", "send {\"spot\": {\"ETH\": -0.2}, \"volatility\": {\"ETH\": 0.5}}", "body");
            }

            var spot = new Dictionary<AssetId, decimal>();
            foreach (var (symbol, shock) in request.Spot ?? [])
            {
                if (shock is <= -1m or > 10m)
                {
                    return Problem(400, "bad shock", $"spot shock {shock} for {symbol} must be in (-1, 10]", $"spot.{symbol}");
                }

                spot[new AssetId(symbol)] = shock;
            }

            var vol = new Dictionary<AssetId, double>();
            foreach (var (symbol, shock) in request.Volatility ?? [])
            {
                if (!double.IsFinite(shock) || shock <= -1 || shock > 10)
                {
                    return Problem(400, "bad shock", $"volatility shock {shock} for {symbol} must be in (-1, 10]", $"volatility.{symbol}");
                }

                vol[new AssetId(symbol)] = shock;
            }

            var report = await margin.ComputeAsync(account, new Shocks(spot, vol), ct).ConfigureAwait(false);
            return Results.Ok(HealthResponse.From(report, margin.Classify(report), chains, time.GetUtcNow()));
        }).WithName("WhatIf");

        v1.MapGet("/at-risk", async (IChainStore store, ChainStatusRegistry chains, ChainMargin.Liquidation.Accounts.AccountDirectory accounts, string? state, ulong? chain, int? page, int? pageSize, string? sort, CancellationToken ct) =>
        {
            var size = pageSize ?? 50;
            var number = page ?? 1;
            if (size is < 1 or > 500)
            {
                return Problem(400, "bad paging", $"pageSize {size} must be between 1 and 500", "pageSize");
            }

            if (number < 1)
            {
                return Problem(400, "bad paging", $"page {number} must be 1 or more", "page");
            }

            if (state is not null && state is not (AccountStates.Healthy or AccountStates.Warning or AccountStates.Liquidatable or AccountStates.Liquidating or AccountStates.Resolved))
            {
                return Problem(400, "unknown state", $"state '{state}' is not one of healthy, warning, liquidatable, liquidating, resolved", "state");
            }

            if (sort is not null && sort is not ("health" or "-health"))
            {
                return Problem(400, "bad sort", $"sort '{sort}' must be health or -health", "sort");
            }

            if (chain is { } c && (c == 0 || chains.Get(new ChainId(c)) is null))
            {
                return Problem(400, "unknown chain", $"chain {c} is not configured", "chain");
            }

            var states = await store.GetCurrentAccountStatesAsync(ct).ConfigureAwait(false);
            IEnumerable<AccountStateRecord> rows = states.Where(s => state is null ? s.State != AccountStates.Healthy : s.State == state);

            // A linked address's own earlier state is not its account's: the group is listed once, under its primary.
            var groups = await accounts.CurrentAsync(ct).ConfigureAwait(false);
            rows = rows.Where(s => groups.AccountOf(s.Account) == s.Account);
            if (chain is { } onChain)
            {
                var prefix = onChain.ToString(System.Globalization.CultureInfo.InvariantCulture) + ":";
                rows = rows.Where(s => s.BlockVector.Split(';').Any(b => b.StartsWith(prefix, StringComparison.Ordinal)));
            }

            rows = sort == "-health" ? rows.OrderByDescending(s => s.Health ?? decimal.MinValue) : rows.OrderBy(s => s.Health ?? decimal.MaxValue);
            var all = rows.ToArray();
            var items = all.Skip((number - 1) * size).Take(size).ToArray();
            return Results.Ok(new { items, page = number, pageSize = size, total = all.Length });
        }).WithName("GetAtRisk");

        v1.MapGet("/chains", (ChainStatusRegistry chains, TimeProvider time) =>
            Results.Ok(chains.All.Select(c => ChainStatusResponse.From(c, time.GetUtcNow())))).WithName("GetChains");

        v1.MapGet("/chains/{chainId}", (string chainId, ChainStatusRegistry chains, TimeProvider time) =>
        {
            if (!ulong.TryParse(chainId, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id) || id == 0)
            {
                return Problem(400, "malformed chain id", $"'{chainId}' is not a chain id (a positive integer)", "chainId");
            }

            var status = chains.Get(new ChainId(id));
            return status is null
                ? Problem(404, "unknown chain", $"chain {id} is not configured", "chainId")
                : Results.Ok(ChainStatusResponse.From(status, time.GetUtcNow()));
        }).WithName("GetChain");

        app.MapPost("/v1/admin/sweep", (IRecurringJobManager jobs, IOptions<MarginScheduleOptions> schedule) =>
        {
            var ids = Enumerable.Range(0, schedule.Value.SweepShards).Select(MarginSweepJob.RecurringId).ToArray();
            foreach (var id in ids)
            {
                jobs.Trigger(id);
            }

            return Results.Accepted(value: new { triggered = ids });
        }).AddEndpointFilter(ApiKeyFilter).WithName("TriggerSweep");

        app.MapGet("/metrics", (ChainStatusRegistry chains, MarginService margin, TimeProvider time) =>
            Results.Text(Metrics.Render(chains, margin, time.GetUtcNow()), "text/plain; version=0.0.4")).WithName("Metrics");

        app.MapGet("/healthz", (ChainStatusRegistry chains) => Results.Ok(new { status = "ok", chains = chains.All.Count }));
        return app;
    }

    public static IResult Problem(int status, string title, string detail, string field) =>
        Results.Problem(statusCode: status, title: title, detail: detail, extensions: new Dictionary<string, object?> { ["field"] = field });

    internal static async ValueTask<object?> ReadAccessFilter(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var api = context.HttpContext.RequestServices.GetRequiredService<IOptions<ApiOptions>>().Value;
        return api.ReadsOpen ? await next(context).ConfigureAwait(false) : await ApiKeyFilter(context, next).ConfigureAwait(false);
    }

    internal static async ValueTask<object?> ApiKeyFilter(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var expected = Environment.GetEnvironmentVariable("CHAINMARGIN_API_KEY");
        var given = context.HttpContext.Request.Headers[ApiKeyHeader].ToString();
        if (string.IsNullOrEmpty(expected))
        {
            return Problem(403, "API key not configured", "set CHAINMARGIN_API_KEY to enable write and admin endpoints", ApiKeyHeader);
        }

        if (!System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
                System.Text.Encoding.UTF8.GetBytes(given), System.Text.Encoding.UTF8.GetBytes(expected)))
        {
            return Problem(401, "missing or wrong API key", $"send the API key in the {ApiKeyHeader} header", ApiKeyHeader);
        }

        return await next(context).ConfigureAwait(false);
    }
}

/// <summary>A what-if request: relative spot and volatility shocks per asset symbol.</summary>
public sealed record WhatIfRequest(Dictionary<string, decimal>? Spot, Dictionary<string, double>? Volatility);

public sealed record ChainStatusResponse(
    ulong ChainId, string Name, long? Head, long? IndexedBlock, string? IndexedHash, long? LagBlocks, bool Stale, string? StaleReason,
    string? Halted, long EventsIndexed, long Reorgs, DateTimeOffset? LastSuccessAt)
{
    public static ChainStatusResponse From(ChainStatus status, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(status);
        var stale = status.StaleReason(now);
        return new ChainStatusResponse(
            status.Chain.Value, status.Name, status.Head, status.Indexed?.Number, status.Indexed?.Hash, status.LagBlocks, stale is not null, stale,
            status.Halted, status.EventsIndexed, status.Reorgs, status.LastSuccessAt);
    }
}

/// <summary>An account's cross-chain health: every method, per chain, the block per chain, and any unsafe input.</summary>
public sealed record HealthResponse(
    string Account,
    string State,
    string HeadlineMethod,
    decimal? Health,
    string Status,
    IReadOnlyList<string> Reasons,
    IReadOnlyList<MethodResult> Methods,
    IReadOnlyList<ChainContribution> Chains,
    IReadOnlyList<BlockRef> Blocks,
    CapitalEfficiency Efficiency,
    IReadOnlyList<ChainStatusResponse> StaleChains,
    DateTimeOffset ValuedAt)
{
    /// <summary>Each venue's own health on its chain (where that venue would liquidate), beside the cross-chain health.</summary>
    public IReadOnlyList<VenueHealth> Venues { get; init; } = [];

    /// <summary>Every address of the account (a linked account's primary first); the account alone when not linked.</summary>
    public IReadOnlyList<EvmAddress> Addresses { get; init; } = [];

    public static HealthResponse From(MarginReport report, string state, ChainStatusRegistry chains, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(chains);
        var headline = report.Headline;
        var stale = chains.All.Select(c => ChainStatusResponse.From(c, now)).Where(c => c.Stale).ToArray();
        return new HealthResponse(
            report.Account.Value, state, report.HeadlineMethod, headline.Health, headline.StatusName, headline.Reasons, report.Methods,
            headline.Chains, report.Blocks.Blocks.ToArray(), report.Efficiency, stale, report.ValuedAt)
        {
            Addresses = report.Addresses,
        };
    }
}
