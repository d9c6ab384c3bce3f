using ChainMargin.Core;
using Microsoft.Extensions.Logging;

namespace ChainMargin.Liquidation.Accounts;

/// <summary>
/// Which addresses make one account: the configured groups, then the signed links of the store. Read once and kept
/// until a link changes (<see cref="Invalidate"/>), so every recompute does not query the store.
/// </summary>
public sealed class AccountDirectory
{
    private readonly IReadOnlyList<AccountLink> _configured;
    private readonly IAccountLinkStore? _store;
    private readonly ILogger? _log;
    private AccountGroups? _current;

    public AccountDirectory(IReadOnlyList<AccountLink> configured, IAccountLinkStore? store, ILogger<AccountDirectory>? log = null)
    {
        ArgumentNullException.ThrowIfNull(configured);
        _configured = configured;
        _store = store;
        _log = log;
        var groups = AccountGroups.Build(configured, out var conflicts);
        if (conflicts.Count > 0)
        {
            throw new ArgumentException("invalid Accounts:Links: " + string.Join("; ", conflicts), nameof(configured));
        }

        if (store is null)
        {
            _current = groups;
        }
    }

    /// <summary>The groups as of now: configured links first (they win a conflict), then stored signed links.</summary>
    public async Task<AccountGroups> CurrentAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _current) is { } current)
        {
            return current;
        }

        var stored = await _store!.ListAsync(cancellationToken).ConfigureAwait(false);
        var groups = AccountGroups.Build(
            _configured.Concat(stored.Select(l => new AccountLink(l.Primary, l.Linked, "signed"))), out var conflicts);
        foreach (var conflict in conflicts)
        {
            // A signed link made before a configuration change that now contradicts it: configuration wins.
            _log?.LogWarning("account link ignored: {Conflict}", conflict);
        }

        Volatile.Write(ref _current, groups);
        return groups;
    }

    /// <summary>Forgets the groups, so the next read sees a link just stored or removed.</summary>
    public void Invalidate()
    {
        if (_store is not null)
        {
            Volatile.Write(ref _current, null);
        }
    }
}
