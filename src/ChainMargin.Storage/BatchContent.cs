using ChainMargin.Core;

namespace ChainMargin.Storage;

/// <summary>A batch checked for consistency and split by fact type, before any transaction opens.</summary>
internal sealed class BatchContent
{
    private BatchContent(ChainBatch batch)
    {
        Batch = batch;
        ChainColumn = Columns.ToColumn(batch.Chain);
    }

    public ChainBatch Batch { get; }

    public long ChainColumn { get; }

    /// <summary>Blocks by number, the last one given for a number winning (an upsert cannot touch one row twice).</summary>
    public IReadOnlyList<IndexedBlock> Blocks { get; private set; } = [];

    /// <summary>The distinct block numbers the batch's facts come from.</summary>
    public IReadOnlyList<long> FactBlockNumbers { get; private set; } = [];

    public int FactCount => Collateral.Count + PerpPositions.Count + PerpMarkets.Count + OptionSeries.Count + OptionPositions.Count +
                            PriceRounds.Count + Rejected.Count;

    public List<CollateralChanged> Collateral { get; } = [];

    public List<PerpPositionChanged> PerpPositions { get; } = [];

    public List<PerpMarketListed> PerpMarkets { get; } = [];

    public List<OptionSeriesListed> OptionSeries { get; } = [];

    public List<OptionPositionChanged> OptionPositions { get; } = [];

    public List<PriceRoundUpdated> PriceRounds { get; } = [];

    public List<RejectedLog> Rejected { get; } = [];

    /// <summary>Feed states by (feed, block number), the last one given winning.</summary>
    public IReadOnlyList<FeedState> FeedStates { get; private set; } = [];

    public static BatchContent From(ChainBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var content = new BatchContent(batch);
        var chain = batch.Chain;
        if (batch.Checkpoint.Chain != chain)
        {
            throw new ArgumentException($"checkpoint {batch.Checkpoint} is not on chain {chain}", nameof(batch));
        }

        var blocks = new SortedDictionary<long, IndexedBlock>();
        foreach (var block in batch.Blocks)
        {
            if (block.Block.Chain != chain)
            {
                throw new ArgumentException($"block {block.Block} is not on chain {chain}", nameof(batch));
            }

            blocks[block.Block.Number] = block;
        }

        content.Blocks = [.. blocks.Values];

        // One log is one fact: a log repeated inside the batch is kept once (the first), as a re-commit would be.
        var seen = new HashSet<(string Hash, int LogIndex)>();
        var numbers = new HashSet<long>();
        foreach (var fact in batch.Facts)
        {
            if (fact.Block.Chain != chain)
            {
                throw new ArgumentException($"fact at {fact.Block}/{fact.LogIndex} is not on chain {chain}", nameof(batch));
            }

            if (!seen.Add((fact.Block.Hash, fact.LogIndex)))
            {
                continue;
            }

            numbers.Add(fact.Block.Number);

            switch (fact)
            {
                case CollateralChanged f: content.Collateral.Add(f); break;
                case PerpPositionChanged f: content.PerpPositions.Add(f); break;
                case PerpMarketListed f: content.PerpMarkets.Add(f); break;
                case OptionSeriesListed f: content.OptionSeries.Add(f); break;
                case OptionPositionChanged f: content.OptionPositions.Add(f); break;
                case PriceRoundUpdated f: content.PriceRounds.Add(f); break;
                case RejectedLog f: content.Rejected.Add(f); break;
                default:
                    throw new ArgumentException($"the store does not know fact type {fact.GetType().Name}", nameof(batch));
            }
        }

        content.FactBlockNumbers = [.. numbers];

        var states = new Dictionary<(EvmAddress Feed, long Number), FeedState>();
        foreach (var state in batch.FeedStates ?? [])
        {
            if (state.Block.Chain != chain)
            {
                throw new ArgumentException($"feed state of {state.Feed} at {state.Block} is not on chain {chain}", nameof(batch));
            }

            states[(state.Feed, state.Block.Number)] = state;
        }

        content.FeedStates = [.. states.Values];
        return content;
    }
}
