using System.Globalization;

namespace ChainMargin.Core;

/// <summary>The block a value came from: chain, number and hash, so a reorg invalidates exactly what it touched.</summary>
public readonly record struct BlockRef(ChainId Chain, long Number, string Hash)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Chain}:{Number}:{Hash}");
}

/// <summary>The blocks, one per chain, that a cross-chain result was computed at.</summary>
public sealed class BlockVector
{
    private readonly SortedDictionary<ulong, BlockRef> _blocks = [];

    public BlockVector()
    {
    }

    public BlockVector(IEnumerable<BlockRef> blocks)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        foreach (var block in blocks)
        {
            Set(block);
        }
    }

    public IReadOnlyCollection<BlockRef> Blocks => _blocks.Values;

    public void Set(BlockRef block) => _blocks[block.Chain.Value] = block;

    public BlockRef? For(ChainId chain) => _blocks.TryGetValue(chain.Value, out var block) ? block : null;

    /// <summary>A canonical text form (chains in ascending order) that the attestation hash is taken over.</summary>
    public string Canonical() => string.Join(";", _blocks.Values.Select(b => b.ToString()));

    public override string ToString() => Canonical();
}
