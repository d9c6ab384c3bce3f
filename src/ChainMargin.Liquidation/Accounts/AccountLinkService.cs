using System.Globalization;
using System.Numerics;
using ChainMargin.Contracts.Accounts;
using ChainMargin.Core;

namespace ChainMargin.Liquidation.Accounts;

/// <summary>An account-link message as sent: addresses as 0x hex, nonce as a decimal uint256, deadline in unix seconds.</summary>
public sealed record AccountLinkMessageRequest(string? Primary, string? Linked, string? Nonce, long? Deadline);

/// <summary>POST /v1/accounts/links: the AccountLink message on chain <see cref="ChainId"/>'s domain, signed by both addresses.</summary>
public sealed record AccountLinkRequest(ulong? ChainId, AccountLinkMessageRequest? Message, string? PrimarySignature, string? LinkedSignature);

/// <summary>DELETE /v1/accounts/links: the AccountUnlink message, signed by either address.</summary>
public sealed record AccountUnlinkRequest(ulong? ChainId, AccountLinkMessageRequest? Message, string? Signature);

/// <summary>
/// The result of a link or unlink: on success the account's addresses; otherwise the HTTP status, a title, a detail and
/// the request field that was wrong.
/// </summary>
public sealed record AccountLinkOutcome(bool Ok, int Status, string Title, string Detail, string? Field, IReadOnlyList<EvmAddress> Addresses)
{
    internal static AccountLinkOutcome Refused(int status, string title, string detail, string field) => new(false, status, title, detail, field, []);
}

/// <summary>
/// Verifies and records signed account links. A link counts only once both EIP-712 signatures recover to the two
/// addresses, the deadline is in the future, neither signer has used the nonce, and the link keeps every address in
/// one account; anything else is refused naming the field.
/// </summary>
public sealed class AccountLinkService
{
    private readonly IAccountLinkStore _store;
    private readonly AccountDirectory _directory;
    private readonly HashSet<ulong> _chains;
    private readonly TimeProvider _time;

    /// <param name="chains">The chain ids whose domain a signature may be made on (the configured chains).</param>
    public AccountLinkService(IAccountLinkStore store, AccountDirectory directory, IEnumerable<ulong> chains, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(chains);
        _store = store;
        _directory = directory;
        _chains = chains.ToHashSet();
        _time = time;
    }

    public async Task<AccountLinkOutcome> LinkAsync(AccountLinkRequest? request, CancellationToken cancellationToken)
    {
        if (request is null)
        {
            return AccountLinkOutcome.Refused(400, "missing body", "send {chainId, message: {primary, linked, nonce, deadline}, primarySignature, linkedSignature}", "body");
        }

        var parsed = Parse(request.ChainId, request.Message);
        if (parsed.Refused is { } refused)
        {
            return refused;
        }

        var (chain, primary, linked, nonce, deadline, _) = parsed;
        var message = new AccountLinkMessage { Primary = primary.Value, Linked = linked.Value, Nonce = nonce, Deadline = deadline };
        if (CheckSignature(AccountLinkTypedData.Recover(message, chain, request.PrimarySignature ?? ""), primary, request.PrimarySignature, "primarySignature") is { } badPrimary)
        {
            return badPrimary;
        }

        if (CheckSignature(AccountLinkTypedData.Recover(message, chain, request.LinkedSignature ?? ""), linked, request.LinkedSignature, "linkedSignature") is { } badLinked)
        {
            return badLinked;
        }

        foreach (var signer in new[] { primary, linked })
        {
            if (await _store.NonceUsedAsync(signer, nonce, cancellationToken).ConfigureAwait(false))
            {
                return NonceUsed(signer, nonce);
            }
        }

        var groups = await _directory.CurrentAsync(cancellationToken).ConfigureAwait(false);
        if (groups.Conflict(primary, linked) is { } conflict)
        {
            return AccountLinkOutcome.Refused(409, "link conflicts", conflict, "message.linked");
        }

        var stored = await _store.LinkAsync(
            new SignedAccountLink(primary, linked, chain, nonce, deadline, request.PrimarySignature!, request.LinkedSignature!, _time.GetUtcNow()),
            cancellationToken).ConfigureAwait(false);
        _directory.Invalidate();
        return stored switch
        {
            LinkWriteResult.Done => new AccountLinkOutcome(true, 201, "linked", $"{linked} is linked to {primary}", null,
                (await _directory.CurrentAsync(cancellationToken).ConfigureAwait(false)).AddressesOf(primary)),
            LinkWriteResult.NonceUsed => NonceUsed(primary, nonce),
            _ => AccountLinkOutcome.Refused(409, "link conflicts", $"{linked} is already linked", "message.linked"),
        };
    }

    public async Task<AccountLinkOutcome> UnlinkAsync(AccountUnlinkRequest? request, CancellationToken cancellationToken)
    {
        if (request is null)
        {
            return AccountLinkOutcome.Refused(400, "missing body", "send {chainId, message: {primary, linked, nonce, deadline}, signature}", "body");
        }

        var parsed = Parse(request.ChainId, request.Message);
        if (parsed.Refused is { } refused)
        {
            return refused;
        }

        var (chain, primary, linked, nonce, deadline, _) = parsed;
        var message = new AccountUnlinkMessage { Primary = primary.Value, Linked = linked.Value, Nonce = nonce, Deadline = deadline };
        if (string.IsNullOrWhiteSpace(request.Signature))
        {
            return AccountLinkOutcome.Refused(400, "missing signature", "the AccountUnlink message must be signed by the primary or the linked address", "signature");
        }

        var signer = AccountLinkTypedData.Recover(message, chain, request.Signature);
        if (signer != primary && signer != linked)
        {
            return AccountLinkOutcome.Refused(400, "bad signature",
                $"the signature recovers to {(signer is { } s ? s.Value : "no address")}, neither {primary} nor {linked}", "signature");
        }

        var groups = await _directory.CurrentAsync(cancellationToken).ConfigureAwait(false);
        if (groups.LinkOf(linked) is { Source: "config" } configured && configured.Primary == primary)
        {
            return AccountLinkOutcome.Refused(409, "linked in configuration", $"{linked} is linked to {primary} in Accounts:Links; change the configuration to unlink it", "message.linked");
        }

        var removed = await _store.UnlinkAsync(primary, linked, signer!.Value, nonce, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        _directory.Invalidate();
        return removed switch
        {
            LinkWriteResult.Done => new AccountLinkOutcome(true, 200, "unlinked", $"{linked} is no longer linked to {primary}", null,
                (await _directory.CurrentAsync(cancellationToken).ConfigureAwait(false)).AddressesOf(primary)),
            LinkWriteResult.NonceUsed => NonceUsed(signer.Value, nonce),
            _ => AccountLinkOutcome.Refused(404, "not linked", $"{linked} is not linked to {primary}", "message.linked"),
        };
    }

    private Parsed Parse(ulong? chainId, AccountLinkMessageRequest? message)
    {
        Parsed Refuse(string title, string detail, string field) => new(0, default, default, 0, 0, AccountLinkOutcome.Refused(400, title, detail, field));

        if (chainId is not { } chain || !_chains.Contains(chain))
        {
            return Refuse("unknown chain", $"chainId {chainId?.ToString(CultureInfo.InvariantCulture) ?? "(missing)"} is not a configured chain; sign on the domain of one", "chainId");
        }

        if (message is null)
        {
            return Refuse("missing message", "send message: {primary, linked, nonce, deadline}", "message");
        }

        if (!EvmAddress.TryParse(message.Primary, out var primary))
        {
            return Refuse("malformed address", $"'{message.Primary}' is not an EVM address (0x followed by 40 hex digits)", "message.primary");
        }

        if (!EvmAddress.TryParse(message.Linked, out var linked))
        {
            return Refuse("malformed address", $"'{message.Linked}' is not an EVM address (0x followed by 40 hex digits)", "message.linked");
        }

        if (primary == linked)
        {
            return Refuse("self-link", $"{primary} cannot be linked to itself", "message.linked");
        }

        if (!BigInteger.TryParse(message.Nonce, NumberStyles.None, CultureInfo.InvariantCulture, out var nonce) || nonce.GetBitLength() > 256)
        {
            return Refuse("malformed nonce", $"nonce '{message.Nonce}' is not a uint256 in decimal digits", "message.nonce");
        }

        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        if (message.Deadline is not { } deadline || deadline <= now)
        {
            return Refuse("expired", $"deadline {message.Deadline?.ToString(CultureInfo.InvariantCulture) ?? "(missing)"} is not after now ({now})", "message.deadline");
        }

        return new Parsed(chain, primary, linked, nonce, deadline, null);
    }

    private static AccountLinkOutcome? CheckSignature(EvmAddress? recovered, EvmAddress expected, string? signature, string field)
    {
        if (string.IsNullOrWhiteSpace(signature))
        {
            return AccountLinkOutcome.Refused(400, "missing signature", $"the AccountLink message must be signed by {expected}", field);
        }

        return recovered == expected
            ? null
            : AccountLinkOutcome.Refused(400, "bad signature", $"the signature recovers to {(recovered is { } r ? r.Value : "no address")}, not {expected}", field);
    }

    private static AccountLinkOutcome NonceUsed(EvmAddress signer, BigInteger nonce) =>
        AccountLinkOutcome.Refused(400, "nonce used", string.Create(CultureInfo.InvariantCulture, $"{signer} has already used nonce {nonce}: the message is a replay"), "message.nonce");

    private readonly record struct Parsed(ulong Chain, EvmAddress Primary, EvmAddress Linked, BigInteger Nonce, long Deadline, AccountLinkOutcome? Refused);
}
