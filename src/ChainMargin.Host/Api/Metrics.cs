using System.Globalization;
using System.Text;
using ChainMargin.Indexing;
using ChainMargin.Liquidation.Flagging;

namespace ChainMargin.Host.Api;

/// <summary>Prometheus text exposition of the service's own numbers.</summary>
public static class Metrics
{
    public static string Render(ChainStatusRegistry chains, MarginService margin, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(chains);
        ArgumentNullException.ThrowIfNull(margin);
        var text = new StringBuilder();
        void Line(string line) => text.Append(line).Append('\n');
        Line("# HELP chainmargin_head_lag_blocks Blocks between the chain head and the indexed block.");
        Line("# TYPE chainmargin_head_lag_blocks gauge");
        foreach (var c in chains.All)
        {
            Line(string.Create(CultureInfo.InvariantCulture, $"chainmargin_head_lag_blocks{{chain=\"{c.Chain}\",name=\"{c.Name}\"}} {c.LagBlocks ?? -1}"));
        }

        Line("# HELP chainmargin_chain_stale 1 when the chain's data is stale.");
        Line("# TYPE chainmargin_chain_stale gauge");
        foreach (var c in chains.All)
        {
            Line(string.Create(CultureInfo.InvariantCulture, $"chainmargin_chain_stale{{chain=\"{c.Chain}\"}} {(c.StaleReason(now) is null ? 0 : 1)}"));
        }

        Line("# HELP chainmargin_events_indexed_total Facts indexed since start.");
        Line("# TYPE chainmargin_events_indexed_total counter");
        foreach (var c in chains.All)
        {
            Line(string.Create(CultureInfo.InvariantCulture, $"chainmargin_events_indexed_total{{chain=\"{c.Chain}\"}} {c.EventsIndexed}"));
        }

        Line("# HELP chainmargin_reorgs_total Reorgs rolled back since start.");
        Line("# TYPE chainmargin_reorgs_total counter");
        foreach (var c in chains.All)
        {
            Line(string.Create(CultureInfo.InvariantCulture, $"chainmargin_reorgs_total{{chain=\"{c.Chain}\"}} {c.Reorgs}"));
        }

        Line("# HELP chainmargin_rpc_errors_total Failed RPC attempts since start.");
        Line("# TYPE chainmargin_rpc_errors_total counter");
        foreach (var c in chains.All)
        {
            Line(string.Create(CultureInfo.InvariantCulture, $"chainmargin_rpc_errors_total{{chain=\"{c.Chain}\"}} {c.RpcErrors}"));
        }

        Line("# HELP chainmargin_accounts Accounts by state in the latest recompute.");
        Line("# TYPE chainmargin_accounts gauge");
        foreach (var group in margin.LatestReports.GroupBy(margin.Classify).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            Line(string.Create(CultureInfo.InvariantCulture, $"chainmargin_accounts{{state=\"{group.Key}\"}} {group.Count()}"));
        }

        Line("# HELP chainmargin_alerts_raised_total Alerts raised since start, by kind (a condition that lasts is raised once).");
        Line("# TYPE chainmargin_alerts_raised_total counter");
        foreach (var (kind, count) in margin.AlertLog.RaisedByKind().OrderBy(k => k.Key, StringComparer.Ordinal))
        {
            Line(string.Create(CultureInfo.InvariantCulture, $"chainmargin_alerts_raised_total{{kind=\"{kind}\"}} {count}"));
        }

        Line("# HELP chainmargin_alerts_active Alerts whose condition still holds, by kind.");
        Line("# TYPE chainmargin_alerts_active gauge");
        foreach (var (kind, count) in margin.AlertLog.ActiveByKind().OrderBy(k => k.Key, StringComparer.Ordinal))
        {
            Line(string.Create(CultureInfo.InvariantCulture, $"chainmargin_alerts_active{{kind=\"{kind}\"}} {count}"));
        }

        Line("# HELP chainmargin_recompute_ms Duration of the last recompute.");
        Line("# TYPE chainmargin_recompute_ms gauge");
        Line(string.Create(CultureInfo.InvariantCulture, $"chainmargin_recompute_ms {margin.LastRecomputeMs:0.###}"));
        return text.ToString();
    }
}
