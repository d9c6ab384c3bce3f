using System.Data.Common;
using System.Numerics;
using ChainMargin.Core;

namespace ChainMargin.Storage;

/// <summary>
/// The read side shared by both stores: the schemas have the same tables and columns, only the column types of big
/// integers, times and booleans differ, and those are read through the abstract members.
/// Lists come back in a stable order (chain, venue, account, key), sorted here so both stores agree.
/// </summary>
public abstract partial class SqlChainStore : IChainStore
{
    protected SqlChainStore(TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        Time = timeProvider;
    }

    protected TimeProvider Time { get; }

    public abstract Task MigrateAsync(CancellationToken cancellationToken);

    public abstract Task CommitAsync(ChainBatch batch, CancellationToken cancellationToken);

    public abstract Task RollbackToAsync(BlockRef ancestor, CancellationToken cancellationToken);

    public abstract Task<int> PruneSupersededAsync(ChainId chain, long after, long horizon, CancellationToken cancellationToken);

    public abstract Task<bool> RecordAccountStateAsync(AccountStateRecord record, CancellationToken cancellationToken);

    /// <summary>The versions recorded in schema_migrations, ascending.</summary>
    public async Task<IReadOnlyList<int>> GetAppliedMigrationsAsync(CancellationToken cancellationToken)
    {
        return await QueryAsync(
            "select version from schema_migrations order by version",
            _ => { },
            r => r.GetInt32(0),
            cancellationToken).ConfigureAwait(false);
    }

    public async Task<ChainCheckpoint?> GetCheckpointAsync(ChainId chain, CancellationToken cancellationToken)
    {
        var rows = await QueryAsync(
            "select block_number, block_hash, updated_at from chain_checkpoints where chain_id = @chain",
            c => Add(c, "chain", Columns.ToColumn(chain)),
            r => new ChainCheckpoint(new BlockRef(chain, r.GetInt64(0), r.GetString(1)), ReadTime(r, 2)),
            cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task<IReadOnlyList<IndexedBlock>> GetRecentBlocksAsync(ChainId chain, int count, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return await QueryAsync(
            "select number, hash, parent_hash, timestamp from blocks where chain_id = @chain order by number desc limit @count",
            c =>
            {
                Add(c, "chain", Columns.ToColumn(chain));
                Add(c, "count", count);
            },
            r => new IndexedBlock(new BlockRef(chain, r.GetInt64(0), r.GetString(1)), r.GetString(2), r.GetInt64(3)),
            cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<CollateralBalance>> GetCollateralAsync(EvmAddress? account, CancellationToken cancellationToken)
    {
        var rows = await QueryAsync(
            "select chain_id, venue, account, token, balance, block_number, block_hash from collateral_balances" + AccountFilter(account),
            c => AddAccount(c, account),
            r =>
            {
                var chain = Columns.ToChain(r.GetInt64(0));
                return new CollateralBalance(
                    chain, Address(r, 1), Address(r, 2), Address(r, 3), ReadBig(r, 4), new BlockRef(chain, r.GetInt64(5), r.GetString(6)));
            },
            cancellationToken).ConfigureAwait(false);
        return [.. rows.OrderBy(x => x.Chain.Value).ThenBy(x => x.Venue).ThenBy(x => x.Account).ThenBy(x => x.Token)];
    }

    public async Task<IReadOnlyList<PerpPositionRow>> GetPerpPositionsAsync(EvmAddress? account, CancellationToken cancellationToken)
    {
        var rows = await QueryAsync(
            "select chain_id, venue, account, market_id, size, entry_price, block_number, block_hash from perp_positions" + AccountFilter(account),
            c => AddAccount(c, account),
            r =>
            {
                var chain = Columns.ToChain(r.GetInt64(0));
                return new PerpPositionRow(
                    chain, Address(r, 1), Address(r, 2), ReadBig(r, 3), ReadBig(r, 4), ReadBig(r, 5), new BlockRef(chain, r.GetInt64(6), r.GetString(7)));
            },
            cancellationToken).ConfigureAwait(false);
        return [.. rows.OrderBy(x => x.Chain.Value).ThenBy(x => x.Venue).ThenBy(x => x.Account).ThenBy(x => x.MarketId)];
    }

    public async Task<IReadOnlyList<OptionPositionRow>> GetOptionPositionsAsync(EvmAddress? account, CancellationToken cancellationToken)
    {
        var rows = await QueryAsync(
            "select chain_id, venue, account, series_id, size, block_number, block_hash from option_positions" + AccountFilter(account),
            c => AddAccount(c, account),
            r =>
            {
                var chain = Columns.ToChain(r.GetInt64(0));
                return new OptionPositionRow(
                    chain, Address(r, 1), Address(r, 2), ReadBig(r, 3), ReadBig(r, 4), new BlockRef(chain, r.GetInt64(5), r.GetString(6)));
            },
            cancellationToken).ConfigureAwait(false);
        return [.. rows.OrderBy(x => x.Chain.Value).ThenBy(x => x.Venue).ThenBy(x => x.Account).ThenBy(x => x.SeriesId)];
    }

    public async Task<IReadOnlyList<PerpMarketRow>> GetPerpMarketsAsync(CancellationToken cancellationToken)
    {
        var rows = await QueryAsync(
            "select chain_id, venue, market_id, feed, symbol from perp_markets",
            _ => { },
            r => new PerpMarketRow(Columns.ToChain(r.GetInt64(0)), Address(r, 1), ReadBig(r, 2), Address(r, 3), r.GetString(4)),
            cancellationToken).ConfigureAwait(false);
        return [.. rows.OrderBy(x => x.Chain.Value).ThenBy(x => x.Venue).ThenBy(x => x.MarketId)];
    }

    public async Task<IReadOnlyList<OptionSeriesRow>> GetOptionSeriesAsync(CancellationToken cancellationToken)
    {
        var rows = await QueryAsync(
            "select chain_id, venue, series_id, feed, symbol, strike, expiry, is_call from option_series",
            _ => { },
            r => new OptionSeriesRow(
                Columns.ToChain(r.GetInt64(0)), Address(r, 1), ReadBig(r, 2), Address(r, 3), r.GetString(4), ReadBig(r, 5), r.GetInt64(6), ReadBool(r, 7)),
            cancellationToken).ConfigureAwait(false);
        return [.. rows.OrderBy(x => x.Chain.Value).ThenBy(x => x.Venue).ThenBy(x => x.SeriesId)];
    }

    public async Task<IReadOnlyList<PriceRoundRow>> GetLatestPricesAsync(CancellationToken cancellationToken)
    {
        var rows = await QueryAsync(
            "select chain_id, feed, round_id, answer, updated_at, block_number, block_hash from price_latest",
            _ => { },
            r =>
            {
                var chain = Columns.ToChain(r.GetInt64(0));
                return new PriceRoundRow(chain, Address(r, 1), ReadBig(r, 2), ReadBig(r, 3), r.GetInt64(4), new BlockRef(chain, r.GetInt64(5), r.GetString(6)));
            },
            cancellationToken).ConfigureAwait(false);
        return [.. rows.OrderBy(x => x.Chain.Value).ThenBy(x => x.Feed)];
    }

    public async Task<IReadOnlyList<PriceRoundRow>> GetPriceHistoryAsync(ChainId chain, EvmAddress feed, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        var newestFirst = await QueryAsync(
            """
            select round_id, answer, updated_at, block_number, block_hash from price_rounds
            where chain_id = @chain and contract = @feed
            order by block_number desc, log_index desc
            limit @limit
            """,
            c =>
            {
                Add(c, "chain", Columns.ToColumn(chain));
                Add(c, "feed", feed.Value);
                Add(c, "limit", limit);
            },
            r => new PriceRoundRow(chain, feed, ReadBig(r, 0), ReadBig(r, 1), r.GetInt64(2), new BlockRef(chain, r.GetInt64(3), r.GetString(4))),
            cancellationToken).ConfigureAwait(false);
        newestFirst.Reverse();
        return newestFirst;
    }

    public async Task<IReadOnlyList<RejectedLog>> GetRejectedLogsAsync(ChainId chain, CancellationToken cancellationToken)
    {
        return await QueryAsync(
            """
            select block_number, block_hash, log_index, contract, topic0, reason from rejected_logs
            where chain_id = @chain
            order by block_number, log_index
            """,
            c => Add(c, "chain", Columns.ToColumn(chain)),
            r => new RejectedLog(new BlockRef(chain, r.GetInt64(0), r.GetString(1)), r.GetInt32(2), Address(r, 3), r.GetString(4), r.GetString(5)),
            cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<FeedState>> GetFeedStatesAsync(ChainId chain, CancellationToken cancellationToken)
    {
        return await QueryAsync(
            """
            select feed, block_number, block_hash, decimals, round_id, answer, updated_at, reason from feed_states
            where chain_id = @chain
            order by feed, block_number
            """,
            c => Add(c, "chain", Columns.ToColumn(chain)),
            r => new FeedState(
                new BlockRef(chain, r.GetInt64(1), r.GetString(2)), Address(r, 0),
                r.IsDBNull(3) ? null : r.GetInt32(3),
                r.IsDBNull(4) ? null : ReadBig(r, 4),
                r.IsDBNull(5) ? null : ReadBig(r, 5),
                r.IsDBNull(6) ? null : r.GetInt64(6),
                r.IsDBNull(7) ? null : r.GetString(7)),
            cancellationToken).ConfigureAwait(false);
    }

    public async Task<FeedState?> GetFeedDecimalsStateAsync(ChainId chain, EvmAddress feed, CancellationToken cancellationToken)
    {
        // Two backward walks of the primary key (chain, feed, block): the newest read with decimals (usually the newest
        // row), and the newest row, kept only when no read ever got decimals.
        var rows = await QueryAsync(
            """
            select * from (
                select 0 as pick, block_number, block_hash, decimals, round_id, answer, updated_at, reason from feed_states
                where chain_id = @chain and feed = @feed and decimals is not null
                order by block_number desc limit 1) with_decimals
            union all
            select * from (
                select 1 as pick, block_number, block_hash, decimals, round_id, answer, updated_at, reason from feed_states
                where chain_id = @chain and feed = @feed
                order by block_number desc limit 1) newest
            """,
            c =>
            {
                Add(c, "chain", Columns.ToColumn(chain));
                Add(c, "feed", feed.Value);
            },
            r => (Pick: r.GetInt32(0), State: new FeedState(
                new BlockRef(chain, r.GetInt64(1), r.GetString(2)), feed,
                r.IsDBNull(3) ? null : r.GetInt32(3),
                r.IsDBNull(4) ? null : ReadBig(r, 4),
                r.IsDBNull(5) ? null : ReadBig(r, 5),
                r.IsDBNull(6) ? null : r.GetInt64(6),
                r.IsDBNull(7) ? null : r.GetString(7))),
            cancellationToken).ConfigureAwait(false);
        return rows.OrderBy(r => r.Pick).Select(r => r.State).FirstOrDefault();
    }

    public async Task<IReadOnlyList<AccountStateRecord>> GetAccountStateHistoryAsync(EvmAddress account, CancellationToken cancellationToken)
    {
        return await QueryAsync(
            "select account, state, health, reason, block_vector, at from account_state_history where account = @account order by id",
            c => Add(c, "account", account.Value),
            ReadAccountState,
            cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<AccountStateRecord>> GetCurrentAccountStatesAsync(CancellationToken cancellationToken)
    {
        var rows = await QueryAsync(
            "select account, state, health, reason, block_vector, at from account_states",
            _ => { },
            ReadAccountState,
            cancellationToken).ConfigureAwait(false);
        return [.. rows.OrderBy(x => x.Account)];
    }

    protected abstract ValueTask<DbConnection> OpenReadConnectionAsync(CancellationToken cancellationToken);

    protected abstract BigInteger ReadBig(DbDataReader reader, int ordinal);

    protected abstract DateTimeOffset ReadTime(DbDataReader reader, int ordinal);

    protected abstract decimal? ReadDecimal(DbDataReader reader, int ordinal);

    protected abstract bool ReadBool(DbDataReader reader, int ordinal);

    protected static void Add(DbCommand command, string name, object? value)
    {
        ArgumentNullException.ThrowIfNull(command);
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
    }

    protected static EvmAddress Address(DbDataReader reader, int ordinal)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return EvmAddress.Parse(reader.GetString(ordinal));
    }

    private static string AccountFilter(EvmAddress? account) => account is null ? "" : " where account = @account";

    private static void AddAccount(DbCommand command, EvmAddress? account)
    {
        if (account is { } a)
        {
            Add(command, "account", a.Value);
        }
    }

    private AccountStateRecord ReadAccountState(DbDataReader r) =>
        new(Address(r, 0), r.GetString(1), ReadDecimal(r, 2), r.GetString(3), r.GetString(4), ReadTime(r, 5));

    private async Task<List<T>> QueryAsync<T>(
        string sql, Action<DbCommand> bind, Func<DbDataReader, T> read, CancellationToken cancellationToken)
    {
        var connection = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = connection.CreateCommand();
            await using (command.ConfigureAwait(false))
            {
                command.CommandText = sql;
                bind(command);
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    var rows = new List<T>();
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        rows.Add(read(reader));
                    }

                    return rows;
                }
            }
        }
    }
}
