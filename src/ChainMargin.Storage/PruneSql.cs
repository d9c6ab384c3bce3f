namespace ChainMargin.Storage;

/// <summary>
/// Pruning of versioned state (Aave V3 state, feed states), statements both dialects understand (parameters @chain,
/// @after and @horizon). Those tables keep a row per key and block the state was written at, so they grow with every
/// block that touches them. A rollback never goes below the finality horizon, so of a key's versions at or below it
/// only the newest is ever read again: the older ones go. To stay cheap, a prune starts from the versions written in
/// (@after, @horizon] (through the block index) and deletes the older versions of their keys (through the key).
/// </summary>
internal static class PruneSql
{
    /// <summary>Each versioned table with its key (without chain and block) and what makes a version supersede older ones.</summary>
    public static readonly (string Table, string[] Key, string? Supersedes)[] Tables =
    [
        ("aave_reserve_states", ["asset"], null),
        ("aave_emode_states", ["category_id"], null),
        ("aave_user_states", ["account"], null),
        ("aave_user_balances", ["account", "reserve_id"], null),

        // A failed read (decimals null, with its reason) does not replace an earlier read that has the decimals.
        ("feed_states", ["feed"], "n.decimals is not null"),
    ];

    public static string Prune(string table, string[] key, string? supersedes)
    {
        var same = string.Join(" and ", key.Select(k => $"o.{k} = n.{k}"));
        var columns = string.Join(", ", key);
        var old = string.Join(", ", key.Select(k => "o." + k));
        var extra = supersedes is null ? string.Empty : $" and {supersedes}";
        return $"""
            delete from {table}
            where (chain_id, {columns}, block_number) in (
                select o.chain_id, {old}, o.block_number
                from {table} n
                join {table} o on o.chain_id = n.chain_id and {same} and o.block_number < n.block_number
                where n.chain_id = @chain and n.block_number > @after and n.block_number <= @horizon{extra})
            """;
    }
}
