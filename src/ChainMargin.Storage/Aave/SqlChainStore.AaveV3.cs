using System.Data;
using System.Data.Common;
using ChainMargin.Core;
using ChainMargin.Storage.Aave;
using Microsoft.Data.Sqlite;

namespace ChainMargin.Storage;

/// <summary>Both stores read the persisted Aave V3 state (written by <see cref="CommitAsync"/>, trimmed by <see cref="RollbackToAsync"/>).</summary>
public abstract partial class SqlChainStore : IAaveV3StateStore
{
    /// <summary>
    /// The latest Aave V3 state of the chain with the checkpoint it is at, in one read snapshot (a commit landing
    /// meanwhile is either wholly in it or wholly out of it).
    /// </summary>
    public async Task<AaveV3StoredState> LoadAsync(ChainId chain, CancellationToken cancellationToken) =>
        (await LoadInSnapshotAsync(chain, since: null, cancellationToken).ConfigureAwait(false))!;

    public Task<AaveV3StoredState?> LoadChangesAsync(ChainId chain, BlockRef since, CancellationToken cancellationToken) =>
        LoadInSnapshotAsync(chain, since, cancellationToken);

    private async Task<AaveV3StoredState?> LoadInSnapshotAsync(ChainId chain, BlockRef? since, CancellationToken cancellationToken)
    {
        var connection = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            // SQLite: a deferred transaction is a WAL read snapshot that takes no write lock.
            DbTransaction transaction = connection is SqliteConnection sqlite
                ? sqlite.BeginTransaction(IsolationLevel.Serializable, deferred: true)
                : await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                var dialect = connection is SqliteConnection ? AaveV3StateSql.Sqlite : AaveV3StateSql.Postgres;
                var state = await AaveV3StateSql.LoadAsync(connection, transaction, chain, dialect, since, cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return state;
            }
        }
    }
}
