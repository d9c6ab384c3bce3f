using System.Data;
using System.Data.Common;
using System.Globalization;
using ChainMargin.Core;

namespace ChainMargin.Storage.Intents;

/// <summary>
/// The liquidation intent table on PostgreSQL or SQLite (the same SQL on both). Every write is one statement, so it
/// is atomic on its own: the claim is an insert that does nothing on a key conflict, and every transition is an update
/// guarded by the expected state (and, for a replacement, the expected hash), so of two keepers racing on one intent
/// exactly one sees its write take effect. The table is created by the store's migrations.
/// </summary>
public abstract class SqlIntentStore : ILiquidationIntentStore
{
    private const string Columns =
        "id, chain_id, protocol, account, trigger_block, state, reason, owner, health_wad, attestation_nonce, keeper, tx_nonce, " +
        "max_fee_wei, priority_fee_wei, raw_tx, tx_hash, replaced_hashes, mined_block, created_us, updated_us";

    private readonly TimeProvider _time;

    protected SqlIntentStore(TimeProvider time) => _time = time;

    protected abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    public async Task<LiquidationIntent?> TryClaimAsync(IntentKey key, string owner, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        var now = Storage.Columns.ToMicroseconds(_time.GetUtcNow());
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using var command = connection.CreateCommand();
            command.CommandText =
                "insert into liquidation_intents (chain_id, protocol, account, trigger_block, state, owner, created_us, updated_us) " +
                "values (@chain, @protocol, @account, @block, 'planned', @owner, @now, @now) " +
                "on conflict (chain_id, protocol, account, trigger_block) do nothing returning " + Columns;
            Add(command, "@chain", checked((long)key.ChainId), DbType.Int64);
            Add(command, "@protocol", key.Protocol, DbType.String);
            Add(command, "@account", key.Account.ToLowerInvariant(), DbType.String);
            Add(command, "@block", key.TriggerBlock, DbType.Int64);
            Add(command, "@owner", owner, DbType.String);
            Add(command, "@now", now, DbType.Int64);
            return await ReadOneAsync(command, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<LiquidationIntent?> GetAsync(IntentKey key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using var command = connection.CreateCommand();
            command.CommandText = "select " + Columns + " from liquidation_intents where chain_id = @chain and protocol = @protocol and account = @account and trigger_block = @block";
            Add(command, "@chain", checked((long)key.ChainId), DbType.Int64);
            Add(command, "@protocol", key.Protocol, DbType.String);
            Add(command, "@account", key.Account.ToLowerInvariant(), DbType.String);
            Add(command, "@block", key.TriggerBlock, DbType.Int64);
            return await ReadOneAsync(command, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<LiquidationIntent?> GetAsync(long id, CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using var command = connection.CreateCommand();
            command.CommandText = "select " + Columns + " from liquidation_intents where id = @id";
            Add(command, "@id", id, DbType.Int64);
            return await ReadOneAsync(command, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<IReadOnlyList<LiquidationIntent>> OpenIntentsAsync(ulong? chainId, string? account, CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using var command = connection.CreateCommand();
            command.CommandText = "select " + Columns + " from liquidation_intents where state in ('planned', 'simulated', 'signed', 'sent')" +
                (chainId is null ? "" : " and chain_id = @chain") + (account is null ? "" : " and account = @account") + " order by id";
            if (chainId is not null)
            {
                Add(command, "@chain", checked((long)chainId.Value), DbType.Int64);
            }

            if (account is not null)
            {
                Add(command, "@account", account.ToLowerInvariant(), DbType.String);
            }

            return await ReadAllAsync(command, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<IReadOnlyList<LiquidationIntent>> ListAsync(ulong chainId, CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using var command = connection.CreateCommand();
            command.CommandText = "select " + Columns + " from liquidation_intents where chain_id = @chain order by id desc";
            Add(command, "@chain", checked((long)chainId), DbType.Int64);
            return await ReadAllAsync(command, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<bool> TransitionAsync(long id, string expected, string target, IntentChange change, string? expectedHash, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using var command = connection.CreateCommand();
            command.CommandText =
                "update liquidation_intents set state = @next, updated_us = @now, " +
                "reason = coalesce(@reason, reason), health_wad = coalesce(@health, health_wad), " +
                "attestation_nonce = coalesce(@att_nonce, attestation_nonce), keeper = coalesce(@keeper, keeper), " +
                "tx_nonce = coalesce(@tx_nonce, tx_nonce), max_fee_wei = coalesce(@max_fee, max_fee_wei), " +
                "priority_fee_wei = coalesce(@priority_fee, priority_fee_wei), raw_tx = coalesce(@raw, raw_tx), " +
                "tx_hash = coalesce(@hash, tx_hash), mined_block = coalesce(@mined, mined_block), " +
                "replaced_hashes = case when @replaced is null then replaced_hashes " +
                "when replaced_hashes is null then @replaced else replaced_hashes || ',' || @replaced end " +
                "where id = @id and state = @expected" + (expectedHash is null ? "" : " and tx_hash = @expected_hash");
            Add(command, "@id", id, DbType.Int64);
            Add(command, "@expected", expected, DbType.String);
            Add(command, "@next", target, DbType.String);
            Add(command, "@now", Storage.Columns.ToMicroseconds(_time.GetUtcNow()), DbType.Int64);
            Add(command, "@reason", change.Reason, DbType.String);
            Add(command, "@health", change.HealthWad, DbType.String);
            Add(command, "@att_nonce", change.AttestationNonce, DbType.String);
            Add(command, "@keeper", change.Keeper, DbType.String);
            Add(command, "@tx_nonce", change.TxNonce, DbType.Int64);
            Add(command, "@max_fee", change.MaxFeeWei, DbType.String);
            Add(command, "@priority_fee", change.PriorityFeeWei, DbType.String);
            Add(command, "@raw", change.RawTx, DbType.String);
            Add(command, "@hash", change.TxHash, DbType.String);
            Add(command, "@mined", change.MinedBlock, DbType.Int64);
            Add(command, "@replaced", change.ReplacedHash, DbType.String);
            if (expectedHash is not null)
            {
                Add(command, "@expected_hash", expectedHash, DbType.String);
            }

            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
        }
    }

    private static void Add(DbCommand command, string name, object? value, DbType type)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.DbType = type;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
    }

    private static async Task<LiquidationIntent?> ReadOneAsync(DbCommand command, CancellationToken cancellationToken)
    {
        var rows = await ReadAllAsync(command, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    private static async Task<IReadOnlyList<LiquidationIntent>> ReadAllAsync(DbCommand command, CancellationToken cancellationToken)
    {
        var rows = new List<LiquidationIntent>();
        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                rows.Add(Read(reader));
            }
        }

        return rows;
    }

    private static LiquidationIntent Read(DbDataReader r)
    {
        string? Text(int i) => r.IsDBNull(i) ? null : r.GetString(i);
        long? Long(int i) => r.IsDBNull(i) ? null : Convert.ToInt64(r.GetValue(i), CultureInfo.InvariantCulture);
        var replaced = Text(16);
        return new LiquidationIntent(
            Long(0)!.Value,
            new IntentKey((ulong)Long(1)!.Value, r.GetString(2), r.GetString(3), Long(4)!.Value),
            r.GetString(5),
            Text(6),
            r.GetString(7),
            Text(8),
            Text(9),
            Text(10),
            Long(11),
            Text(12),
            Text(13),
            Text(14),
            Text(15),
            replaced is null ? [] : replaced.Split(','),
            Long(17),
            Storage.Columns.FromMicroseconds(Long(18)!.Value),
            Storage.Columns.FromMicroseconds(Long(19)!.Value));
    }
}
