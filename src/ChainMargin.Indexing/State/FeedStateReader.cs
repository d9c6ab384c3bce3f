using System.Globalization;
using ChainMargin.Contracts.Chainlink;
using ChainMargin.Contracts.Erc20;
using ChainMargin.Core;
using ChainMargin.Indexing.Decoding;
using Nethereum.Contracts;

namespace ChainMargin.Indexing.State;

/// <summary>
/// The configured price feeds' decimals and latest round, read in one pinned snapshot (<see cref="PinnedStateReader"/>):
/// what no log says (decimals), and a feed's current round even when it was published before the indexed range. A feed
/// whose read failed, or that has no code at the block, gets a reason instead of values, never a zero.
/// </summary>
public sealed class FeedStateReader
{
    private static readonly byte[] Decimals = new DecimalsFunction().GetCallData();
    private static readonly byte[] LatestRoundData = new LatestRoundDataFunction().GetCallData();
    private readonly PinnedStateReader _reader;
    private readonly IReadOnlyList<EvmAddress> _feeds;
    private readonly StateCall[] _calls;

    public FeedStateReader(PinnedStateReader reader, IEnumerable<EvmAddress> feeds)
    {
        ArgumentNullException.ThrowIfNull(reader);
        _reader = reader;
        _feeds = [.. feeds.Distinct().Order()];

        // decimals() has the ERC-20 signature; Chainlink aggregators share it.
        _calls = [.. _feeds.SelectMany(f => new[] { new StateCall(f, Decimals), new StateCall(f, LatestRoundData) })];
    }

    public IReadOnlyList<EvmAddress> Feeds => _feeds;

    public async Task<IReadOnlyList<FeedState>> ReadAsync(BlockRef block, CancellationToken cancellationToken) =>
        Decode(await _reader.ReadAsync(block, _calls, cancellationToken).ConfigureAwait(false));

    public async Task<IReadOnlyList<FeedState>> ReadAsync(long blockNumber, CancellationToken cancellationToken) =>
        Decode(await _reader.ReadAsync(blockNumber, _calls, cancellationToken).ConfigureAwait(false));

    private List<FeedState> Decode(PinnedState state)
    {
        var result = new List<FeedState>(_feeds.Count);
        for (var i = 0; i < _feeds.Count; i++)
        {
            var decimals = state.Answers[2 * i];
            var round = state.Answers[(2 * i) + 1];
            result.Add(Decode(state.Block, _feeds[i], decimals, round));
        }

        return result;
    }

    private static FeedState Decode(BlockRef block, EvmAddress feed, StateAnswer decimals, StateAnswer round)
    {
        string? Problem(StateAnswer answer, string call, int words) =>
            !answer.Success ? $"{call} reverted at block {block.Number}"
            : answer.ReturnData.Length < 2 + (64 * words) ? $"{call} returned no data at block {block.Number} (no feed contract there)"
            : null;

        var reason = Problem(decimals, "decimals()", 1) ?? Problem(round, "latestRoundData()", 5);
        if (reason is not null)
        {
            return new FeedState(block, feed, null, null, null, null, reason);
        }

        try
        {
            var d = new AbiWords(decimals.ReturnData).Uint(0);
            var r = new AbiWords(round.ReturnData);
            if (d > 77)
            {
                return new FeedState(block, feed, null, null, null, null, string.Create(CultureInfo.InvariantCulture, $"decimals() answered {d}, not a uint8 of at most 77"));
            }

            return new FeedState(block, feed, (int)d, r.Uint(0), r.Int(1), (long)r.Uint(3), null);
        }
        catch (Exception ex) when (ex is FormatException or OverflowException)
        {
            return new FeedState(block, feed, null, null, null, null, "malformed answer: " + ex.Message);
        }
    }
}
