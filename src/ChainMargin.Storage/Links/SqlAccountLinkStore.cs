using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Numerics;
using ChainMargin.Core;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace ChainMargin.Storage.Links;

/// <summary>
/// Signed account links on PostgreSQL or SQLite (the same SQL on both). A link and the nonces its message used are
/// written in one transaction; the nonce table's key makes a replayed message fail as a whole, whoever races it.
/// </summary>
public abstract class SqlAccountLinkStore : IAccountLinkStore
{
    private const string Columns = "primary_address, linked, chain_id, nonce, deadline, primary_signature, linked_signature, created_us";

    protected abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    public async Task<LinkWriteResult> LinkAsync(SignedAccountLink link, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(link);
        var at = Storage.Columns.ToMicroseconds(link.At);
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                foreach (var signer in new[] { link.Primary, link.Linked })
                {
                    if (!await UseNonceAsync(connection, transaction, signer, link.Nonce, "link", at, cancellationToken).ConfigureAwait(false))
                    {
                        return LinkWriteResult.NonceUsed;
                    }
                }

                using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = "insert into account_links (" + Columns + ") values (@primary, @linked, @chain, @nonce, @deadline, @ps, @ls, @at) on conflict (linked) do nothing";
                Add(command, "@primary", link.Primary.Value, DbType.String);
                Add(command, "@linked", link.Linked.Value, DbType.String);
                Add(command, "@chain", checked((long)link.ChainId), DbType.Int64);
                Add(command, "@nonce", link.Nonce.ToString(CultureInfo.InvariantCulture), DbType.String);
                Add(command, "@deadline", link.Deadline, DbType.Int64);
                Add(command, "@ps", link.PrimarySignature, DbType.String);
                Add(command, "@ls", link.LinkedSignature, DbType.String);
                Add(command, "@at", at, DbType.Int64);
                if (await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) != 1)
                {
                    return LinkWriteResult.AlreadyLinked;
                }

                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return LinkWriteResult.Done;
            }
        }
    }

    public async Task<LinkWriteResult> UnlinkAsync(EvmAddress primary, EvmAddress linked, EvmAddress signer, BigInteger nonce, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                if (!await UseNonceAsync(connection, transaction, signer, nonce, "unlink", Storage.Columns.ToMicroseconds(at), cancellationToken).ConfigureAwait(false))
                {
                    return LinkWriteResult.NonceUsed;
                }

                using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = "delete from account_links where linked = @linked and primary_address = @primary";
                Add(command, "@primary", primary.Value, DbType.String);
                Add(command, "@linked", linked.Value, DbType.String);
                if (await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) != 1)
                {
                    // Nothing to remove: the nonce stays unused, so the signer may send a corrected message with it.
                    return LinkWriteResult.NotLinked;
                }

                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return LinkWriteResult.Done;
            }
        }
    }

    public async Task<bool> NonceUsedAsync(EvmAddress signer, BigInteger nonce, CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using var command = connection.CreateCommand();
            command.CommandText = "select count(*) from account_link_nonces where address = @address and nonce = @nonce";
            Add(command, "@address", signer.Value, DbType.String);
            Add(command, "@nonce", nonce.ToString(CultureInfo.InvariantCulture), DbType.String);
            return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture) > 0;
        }
    }

    public async Task<IReadOnlyList<SignedAccountLink>> ListAsync(CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using var command = connection.CreateCommand();
            command.CommandText = "select " + Columns + " from account_links order by created_us, linked";
            var links = new List<SignedAccountLink>();
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    links.Add(new SignedAccountLink(
                        EvmAddress.Parse(reader.GetString(0)),
                        EvmAddress.Parse(reader.GetString(1)),
                        (ulong)reader.GetInt64(2),
                        BigInteger.Parse(reader.GetString(3), CultureInfo.InvariantCulture),
                        reader.GetInt64(4),
                        reader.GetString(5),
                        reader.GetString(6),
                        Storage.Columns.FromMicroseconds(reader.GetInt64(7))));
                }
            }

            return links;
        }
    }

    private static async Task<bool> UseNonceAsync(
        DbConnection connection, DbTransaction transaction, EvmAddress signer, BigInteger nonce, string purpose, long at, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "insert into account_link_nonces (address, nonce, purpose, used_us) values (@address, @nonce, @purpose, @at) on conflict (address, nonce) do nothing";
        Add(command, "@address", signer.Value, DbType.String);
        Add(command, "@nonce", nonce.ToString(CultureInfo.InvariantCulture), DbType.String);
        Add(command, "@purpose", purpose, DbType.String);
        Add(command, "@at", at, DbType.Int64);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    private static void Add(DbCommand command, string name, object value, DbType type)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.DbType = type;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }
}

/// <summary>Account links in PostgreSQL, shared by every process of the deployment.</summary>
public sealed class PostgresAccountLinkStore : SqlAccountLinkStore, IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;

    public PostgresAccountLinkStore(string connectionString) => _dataSource = NpgsqlDataSource.Create(connectionString);

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    protected override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
}

/// <summary>Account links in the embedded SQLite file.</summary>
public sealed class SqliteAccountLinkStore : SqlAccountLinkStore
{
    private readonly string _connectionString;

    public SqliteAccountLinkStore(string connectionString) =>
        // A writer waits for the chain store's write transactions instead of failing with SQLITE_BUSY.
        _connectionString = new SqliteConnectionStringBuilder(connectionString) { Pooling = true, DefaultTimeout = 30 }.ConnectionString;

    protected override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        return connection;
    }
}

/// <summary>Builds the link store for the configured storage provider.</summary>
public static class AccountLinkStoreFactory
{
    public static SqlAccountLinkStore Create(StorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return string.Equals(options.Provider, StorageOptions.Postgres, StringComparison.OrdinalIgnoreCase)
            ? new PostgresAccountLinkStore(options.ConnectionString)
            : new SqliteAccountLinkStore(options.ConnectionString);
    }
}
