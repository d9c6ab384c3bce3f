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

        v1.MapGet("/accounts/{address}/health", async (string address, MarginService margin, ChainStatusRegistry chains, TimeProvider time, CancellationToken ct) =>
        {
            if (!EvmAddress.TryParse(address, out var account))
            {
                return Problem(400, "malformed address", $"'{address}' is not an EVM address (0x followed by 40 hex digits)", "address");
            }

            var report = await margin.ComputeAsync(account, ct).ConfigureAwait(false);
            return Results.Ok(HealthResponse.From(report, margin.Classify(report), chains, time.GetUtcNow()));
        }).WithName("GetAccountHealth");

        v1.MapGet("/accounts/{address}/state", async (string address, IChainStore store, CancellationToken ct) =>
        {
            if (!EvmAddress.TryParse(address, out var account))
            {
                return Problem(400, "malformed address", $"'{address}' is not an EVM address (0x followed by 40 hex digits)", "address");
            }

            var history = await store.GetAccountStateHistoryAsync(account, ct).ConfigureAwait(false);
            return Results.Ok(new { account = account.Value, current = history.Count > 0 ? history[^1] : null, history });
        }).WithName("GetAccountStateHistory");

        v1.MapGet("/at-risk", async (IChainStore store, string? state, CancellationToken ct) =>
        {
            var states = await store.GetCurrentAccountStatesAsync(ct).ConfigureAwait(false);
            var rows = states.Where(s => state is null ? s.State != AccountStates.Healthy : s.State == state)
                .OrderBy(s => s.Health ?? decimal.MaxValue).ToArray();
            return Results.Ok(new { items = rows, count = rows.Length });
        }).WithName("GetAtRisk");

        v1.MapGet("/chains", (ChainStatusRegistry chains, TimeProvider time) =>
            Results.Ok(chains.All.Select(c => ChainStatusResponse.From(c, time.GetUtcNow())))).WithName("GetChains");

        app.MapPost("/v1/admin/sweep", (IRecurringJobManager jobs) =>
        {
            jobs.Trigger(MarginSweepJob.RecurringId);
            return Results.Accepted(value: new { triggered = MarginSweepJob.RecurringId });
        }).AddEndpointFilter(ApiKeyFilter).WithName("TriggerSweep");

        app.MapGet("/healthz", (ChainStatusRegistry chains) => Results.Ok(new { status = "ok", chains = chains.All.Count }));
        return app;
    }

    public static IResult Problem(int status, string title, string detail, string field) =>
        Results.Problem(statusCode: status, title: title, detail: detail, extensions: new Dictionary<string, object?> { ["field"] = field });

    private static async ValueTask<object?> ReadAccessFilter(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var api = context.HttpContext.RequestServices.GetRequiredService<IOptions<ApiOptions>>().Value;
        return api.ReadsOpen ? await next(context).ConfigureAwait(false) : await ApiKeyFilter(context, next).ConfigureAwait(false);
    }

    private static async ValueTask<object?> ApiKeyFilter(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
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
    public static HealthResponse From(MarginReport report, string state, ChainStatusRegistry chains, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(chains);
        var headline = report.Headline;
        var stale = chains.All.Select(c => ChainStatusResponse.From(c, now)).Where(c => c.Stale).ToArray();
        return new HealthResponse(
            report.Account.Value, state, report.HeadlineMethod, headline.Health, headline.StatusName, headline.Reasons, report.Methods,
            headline.Chains, report.Blocks.Blocks.ToArray(), report.Efficiency, stale, report.ValuedAt);
    }
}
