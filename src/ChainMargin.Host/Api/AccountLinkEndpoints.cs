using ChainMargin.Liquidation.Accounts;
using ChainMargin.Liquidation.Flagging;
using Microsoft.AspNetCore.Mvc;

namespace ChainMargin.Host.Api;

/// <summary>
/// Linking addresses into one account by a message both sign (POST), unlinking by a message either signs (DELETE), and
/// the links in force (GET). The signatures are the authorisation, so these sit with the reads, not behind the API key.
/// </summary>
public static class AccountLinkEndpoints
{
    public static RouteGroupBuilder MapAccountLinks(this RouteGroupBuilder v1)
    {
        ArgumentNullException.ThrowIfNull(v1);
        v1.MapPost("/accounts/links", async (AccountLinkRequest? request, AccountLinkService links, MarginService margin, CancellationToken ct) =>
        {
            var outcome = await links.LinkAsync(request, ct).ConfigureAwait(false);
            if (!outcome.Ok)
            {
                return Endpoints.Problem(outcome.Status, outcome.Title, outcome.Detail, outcome.Field!);
            }

            // The account's state is recorded under its primary from now on; recompute it at once.
            await margin.RecomputeAsync(outcome.Addresses.ToHashSet(), "account link", ct).ConfigureAwait(false);
            return Results.Created($"/v1/accounts/{outcome.Addresses[0]}/health", new { account = outcome.Addresses[0], addresses = outcome.Addresses });
        }).WithName("LinkAccounts");

        v1.MapDelete("/accounts/links", async ([FromBody] AccountUnlinkRequest? request, AccountLinkService links, MarginService margin, CancellationToken ct) =>
        {
            var outcome = await links.UnlinkAsync(request, ct).ConfigureAwait(false);
            if (!outcome.Ok)
            {
                return Endpoints.Problem(outcome.Status, outcome.Title, outcome.Detail, outcome.Field!);
            }

            var unlinked = Core.EvmAddress.Parse(request!.Message!.Linked);
            await margin.RecomputeAsync(outcome.Addresses.Append(unlinked).ToHashSet(), "account unlink", ct).ConfigureAwait(false);
            return Results.Ok(new { account = outcome.Addresses[0], addresses = outcome.Addresses, unlinked });
        }).WithName("UnlinkAccounts");

        v1.MapGet("/accounts/links", async (AccountDirectory accounts, CancellationToken ct) =>
        {
            var groups = await accounts.CurrentAsync(ct).ConfigureAwait(false);
            return Results.Ok(groups.Links.Select(l => new { primary = l.Primary, linked = l.Linked, source = l.Source }));
        }).WithName("GetAccountLinks");
        return v1;
    }
}
