using System.Numerics;

namespace ChainMargin.Core;

/// <summary>
/// An explicit link: <see cref="Linked"/> belongs to <see cref="Primary"/>'s account. Source says where it came from
/// ("config" or "signed"). The same address on every chain is one account without any link.
/// </summary>
public sealed record AccountLink(EvmAddress Primary, EvmAddress Linked, string Source);

/// <summary>
/// Addresses grouped into accounts. A group is one primary (the account's name) and the addresses linked to it; an
/// address is in at most one group, and a linked address is never itself a primary (groups do not chain), so
/// "which account is this address" has one answer.
/// </summary>
public sealed class AccountGroups
{
    private readonly Dictionary<EvmAddress, EvmAddress> _primaryOf = [];
    private readonly Dictionary<EvmAddress, List<EvmAddress>> _linked = [];
    private readonly List<AccountLink> _links = [];

    private AccountGroups()
    {
    }

    public static AccountGroups None { get; } = new();

    /// <summary>The links that made the groups, in the order they were accepted.</summary>
    public IReadOnlyList<AccountLink> Links => _links;

    /// <summary>
    /// Groups from links; a link that would put an address in two groups, chain groups or link an address to itself
    /// is left out and described in <paramref name="conflicts"/>.
    /// </summary>
    public static AccountGroups Build(IEnumerable<AccountLink> links, out IReadOnlyList<string> conflicts)
    {
        ArgumentNullException.ThrowIfNull(links);
        var groups = new AccountGroups();
        var problems = new List<string>();
        foreach (var link in links)
        {
            if (groups.Conflict(link.Primary, link.Linked) is { } why)
            {
                problems.Add($"{link.Source} link {link.Primary} -> {link.Linked}: {why}");
                continue;
            }

            groups.Add(link);
        }

        conflicts = problems;
        return groups;
    }

    /// <summary>Why linking <paramref name="linked"/> to <paramref name="primary"/> is refused; null when it may be linked.</summary>
    public string? Conflict(EvmAddress primary, EvmAddress linked)
    {
        if (primary == linked)
        {
            return "an address cannot be linked to itself";
        }

        if (_primaryOf.TryGetValue(primary, out var owner) && owner != primary)
        {
            return $"{primary} is already linked to {owner}, so it cannot be a primary";
        }

        if (_primaryOf.TryGetValue(linked, out var current))
        {
            return current == linked
                ? $"{linked} is the primary of its own group"
                : current == primary ? $"{linked} is already linked to {primary}" : $"{linked} is already linked to {current}";
        }

        return null;
    }

    /// <summary>The account (its primary address) an address belongs to: itself when it is not linked.</summary>
    public EvmAddress AccountOf(EvmAddress address) => _primaryOf.TryGetValue(address, out var primary) ? primary : address;

    /// <summary>Every address of the account of <paramref name="address"/>: the primary first, then the linked ones in order.</summary>
    public IReadOnlyList<EvmAddress> AddressesOf(EvmAddress address)
    {
        var primary = AccountOf(address);
        return _linked.TryGetValue(primary, out var linked) ? [primary, .. linked] : [primary];
    }

    /// <summary>Whether the address is in a group (as primary or linked).</summary>
    public bool IsGrouped(EvmAddress address) => _primaryOf.ContainsKey(address);

    /// <summary>The link that put <paramref name="linked"/> in its group, if any.</summary>
    public AccountLink? LinkOf(EvmAddress linked) =>
        _primaryOf.TryGetValue(linked, out var primary) && primary != linked ? _links.First(l => l.Linked == linked) : null;

    private void Add(AccountLink link)
    {
        _primaryOf[link.Primary] = link.Primary;
        _primaryOf[link.Linked] = link.Primary;
        if (!_linked.TryGetValue(link.Primary, out var list))
        {
            list = [];
            _linked[link.Primary] = list;
        }

        list.Add(link.Linked);
        list.Sort();
        _links.Add(link);
    }
}

/// <summary>
/// A link both addresses signed (EIP-712 AccountLink on <see cref="ChainId"/>'s domain), as verified and stored. The
/// signatures are kept so the link can be checked again by anyone.
/// </summary>
public sealed record SignedAccountLink(
    EvmAddress Primary, EvmAddress Linked, ulong ChainId, BigInteger Nonce, long Deadline, string PrimarySignature, string LinkedSignature, DateTimeOffset At);

/// <summary>What a write to the link store did.</summary>
public enum LinkWriteResult
{
    Done,

    /// <summary>A signer's nonce was used before: the message is a replay.</summary>
    NonceUsed,

    /// <summary>The linked address is already in a stored link.</summary>
    AlreadyLinked,

    /// <summary>There is no stored link to remove.</summary>
    NotLinked,
}

/// <summary>
/// The store of signed account links and of the nonces every signed link message used (PostgreSQL and SQLite; the
/// tables come with the chain store's migrations). Each write is one transaction: the nonces and the link land
/// together or not at all.
/// </summary>
public interface IAccountLinkStore
{
    /// <summary>Stores the link and uses the nonce for both signers.</summary>
    Task<LinkWriteResult> LinkAsync(SignedAccountLink link, CancellationToken cancellationToken);

    /// <summary>Removes the stored link of <paramref name="linked"/> to <paramref name="primary"/> and uses the signer's nonce.</summary>
    Task<LinkWriteResult> UnlinkAsync(EvmAddress primary, EvmAddress linked, EvmAddress signer, BigInteger nonce, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Whether <paramref name="signer"/> has used <paramref name="nonce"/> for a link message.</summary>
    Task<bool> NonceUsedAsync(EvmAddress signer, BigInteger nonce, CancellationToken cancellationToken);

    /// <summary>Every stored link, oldest first.</summary>
    Task<IReadOnlyList<SignedAccountLink>> ListAsync(CancellationToken cancellationToken);
}
