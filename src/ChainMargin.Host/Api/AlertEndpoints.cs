using ChainMargin.Liquidation.Alerts;
using ChainMargin.Liquidation.Flagging;

namespace ChainMargin.Host.Api;

/// <summary>GET /v1/alerts: the alert log (unsafe prices, disagreements, keeper fee caps), newest first, paged.</summary>
public static class AlertEndpoints
{
    public static RouteGroupBuilder MapAlerts(this RouteGroupBuilder v1)
    {
        ArgumentNullException.ThrowIfNull(v1);
        v1.MapGet("/alerts", (MarginService margin, bool? active, int? page, int? pageSize) =>
        {
            var size = pageSize ?? 50;
            var number = page ?? 1;
            if (size is < 1 or > 500)
            {
                return Endpoints.Problem(400, "bad paging", $"pageSize {size} must be between 1 and 500", "pageSize");
            }

            if (number < 1)
            {
                return Endpoints.Problem(400, "bad paging", $"page {number} must be 1 or more", "page");
            }

            var (items, total) = margin.AlertLog.Page(active, number, size);
            return Results.Ok(new { items = items.Select(AlertResponse.From), page = number, pageSize = size, total });
        }).WithName("GetAlerts");
        return v1;
    }
}

/// <summary>One alert as the API shows it.</summary>
public sealed record AlertResponse(
    long Id, string Kind, string Reason, ulong? Chain, string? Asset, bool Active, DateTimeOffset RaisedAt, DateTimeOffset LastSeenAt,
    DateTimeOffset? ClearedAt, long Seen)
{
    public static AlertResponse From(Alert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        return new AlertResponse(
            alert.Id, alert.Kind, alert.Reason, alert.Chain?.Value, alert.Asset?.Symbol, alert.Active, alert.RaisedAt, alert.LastSeenAt, alert.ClearedAt, alert.Seen);
    }
}
