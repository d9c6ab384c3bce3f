using ChainMargin.Core;

namespace ChainMargin.Liquidation.Accounts;

/// <summary>Accounts made of several addresses (config section "Accounts").</summary>
public sealed class AccountOptions
{
    public const string SectionName = "Accounts";

    /// <summary>Groups linked in configuration: each is one account named by its primary.</summary>
    public List<AccountLinkGroupOptions> Links { get; set; } = [];

    /// <summary>Every problem, each naming its key (Accounts:Links:0:Linked:1 ...). Empty when usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        var seen = new Dictionary<EvmAddress, string>();
        void Note(EvmAddress address, string key)
        {
            if (seen.TryGetValue(address, out var first))
            {
                errors.Add($"{key}: {address} is already in the group at {first}; an address belongs to one account");
            }
            else
            {
                seen[address] = key;
            }
        }

        for (var i = 0; i < Links.Count; i++)
        {
            var group = Links[i];
            var key = $"{SectionName}:Links:{i}";
            if (group is null)
            {
                errors.Add($"{key} must not be empty");
                continue;
            }

            if (!EvmAddress.TryParse(group.Primary, out var primary))
            {
                errors.Add($"{key}:Primary: '{group.Primary}' is not an EVM address (0x followed by 40 hex digits)");
            }
            else
            {
                Note(primary, key + ":Primary");
            }

            if (group.Linked is not { Count: > 0 })
            {
                errors.Add($"{key}:Linked must name at least one address");
                continue;
            }

            for (var j = 0; j < group.Linked.Count; j++)
            {
                if (!EvmAddress.TryParse(group.Linked[j], out var linked))
                {
                    errors.Add($"{key}:Linked:{j}: '{group.Linked[j]}' is not an EVM address (0x followed by 40 hex digits)");
                }
                else
                {
                    Note(linked, $"{key}:Linked:{j}");
                }
            }
        }

        return errors;
    }

    /// <summary>The configured links (call <see cref="Validate"/> first).</summary>
    public IReadOnlyList<AccountLink> ToLinks() =>
        [.. Links.SelectMany(g => g.Linked.Select(l => new AccountLink(EvmAddress.Parse(g.Primary), EvmAddress.Parse(l), "config")))];
}

/// <summary>One configured account: its primary address and the addresses linked to it.</summary>
public sealed class AccountLinkGroupOptions
{
    public string? Primary { get; set; }

    public List<string> Linked { get; set; } = [];
}
