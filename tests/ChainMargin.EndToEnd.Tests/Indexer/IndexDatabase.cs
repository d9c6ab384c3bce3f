using System.Globalization;
using System.Text;
using Npgsql;

namespace ChainMargin.EndToEnd.Tests.Indexer;

/// <summary>What an indexer process left in its PostgreSQL database, read from outside the process.</summary>
public sealed class IndexDatabase(string connectionString)
{
    public static readonly string[] FactTables =
    [
        "collateral_changes", "perp_position_changes", "perp_market_listings", "option_series_listings",
        "option_position_changes", "price_rounds", "rejected_logs",
    ];

    public static readonly string[] AggregateTables =
        ["collateral_balances", "perp_positions", "option_positions", "perp_markets", "option_series", "price_latest"];

    /// <summary>State read with eth_call pinned to a commit's last block (Multicall3), committed with the checkpoint.</summary>
    public static readonly string[] StateTables = ["feed_states"];

    public string ConnectionString { get; } = connectionString;

    /// <summary>The chain's checkpoint block, or null before the first commit (or before the schema exists).</summary>
    public async Task<long?> CheckpointAsync(ulong chain)
    {
        try
        {
            return await ScalarAsync<long?>("select block_number from chain_checkpoints where chain_id = @chain", chain);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return null;
        }
    }

    /// <summary>Every stored fact's (block hash, log index), sorted, duplicates kept: a duplicate or a gap shows.</summary>
    public async Task<List<string>> FactKeysAsync(ulong chain)
    {
        // Collateral facts hold their block hash as bytes (PostgreSQL migration 0010), the other tables as 0x-hex text.
        var union = string.Join(
            " union all ",
            FactTables.Select(t => $"select {(t == "collateral_changes" ? "'0x' || encode(block_hash, 'hex')" : "block_hash")} as block_hash, log_index from {t} where chain_id = @chain"));
        var keys = new List<string>();
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand($"select lower(block_hash) || ':' || log_index from ({union}) as k", connection);
        command.Parameters.AddWithValue("chain", (long)chain);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            keys.Add(reader.GetString(0));
        }

        keys.Sort(StringComparer.Ordinal);
        return keys;
    }

    /// <summary>Fails naming the missing, extra and duplicated keys (a gap, a fact not on the chain, a fact stored twice).</summary>
    public static void AssertSameKeys(IReadOnlyList<string> chain, IReadOnlyList<string> stored)
    {
        var missing = chain.Except(stored).ToList();
        var extra = stored.Except(chain).ToList();
        var duplicated = stored.GroupBy(k => k).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(
            missing.Count == 0 && extra.Count == 0 && duplicated.Count == 0 && chain.Count == stored.Count,
            $"chain {chain.Count} logs, stored {stored.Count} facts; missing {missing.Count} (e.g. {string.Join(", ", missing.Take(3))}), " +
            $"extra {extra.Count} (e.g. {string.Join(", ", extra.Take(3))}), duplicated {duplicated.Count} (e.g. {string.Join(", ", duplicated.Take(3))})");
    }

    /// <summary>Facts (and state reads) stored above a block: after a transaction died, there must be none above the checkpoint.</summary>
    public async Task<long> FactsAboveAsync(ulong chain, long block)
    {
        var union = string.Join(" union all ", FactTables.Concat(StateTables).Select(t => $"select 1 from {t} where chain_id = @chain and block_number > {block.ToString(CultureInfo.InvariantCulture)}"));
        return await ScalarAsync<long>($"select count(*) from ({union}) as f", chain);
    }

    /// <summary>
    /// Row count and digest of every fact and aggregate table and the checkpoint (block and hash; not its wall-clock
    /// time), one line per table: two runs that stored the same thing give the same text.
    /// </summary>
    public async Task<string> ChecksumAsync(ulong chain)
    {
        var text = new StringBuilder();
        await using var connection = await OpenAsync();
        foreach (var table in FactTables.Concat(AggregateTables).Concat(StateTables))
        {
            await using var command = new NpgsqlCommand(
                $"select count(*), coalesce(md5(string_agg(t::text, E'\\n' order by t::text)), '-') from {table} t where chain_id = @chain", connection);
            command.Parameters.AddWithValue("chain", (long)chain);
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            text.Append(CultureInfo.InvariantCulture, $"{table} {reader.GetInt64(0)} {reader.GetString(1)}\n");
        }

        await using (var checkpoint = new NpgsqlCommand("select block_number || ' ' || block_hash from chain_checkpoints where chain_id = @chain", connection))
        {
            checkpoint.Parameters.AddWithValue("chain", (long)chain);
            text.Append(CultureInfo.InvariantCulture, $"checkpoint {await checkpoint.ExecuteScalarAsync()}\n");
        }

        return text.ToString();
    }

    public async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false, ApplicationName = "cm-test-observer" }.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    public async Task<T> ScalarAsync<T>(string sql, ulong chain)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("chain", (long)chain);
        var value = await command.ExecuteScalarAsync();
        return value is null or DBNull ? default! : (T)Convert.ChangeType(value, Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T), CultureInfo.InvariantCulture);
    }

    /// <summary>Polls until <paramref name="condition"/> holds; the bound only turns a hang into a failure that says what it waited for.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, Func<string> context, TimeSpan? bound = null)
    {
        var deadline = DateTime.UtcNow + (bound ?? TimeSpan.FromMinutes(2));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"waited in vain for {what}:\n{context()}");
            }

            await Task.Delay(5);
        }
    }
}
