using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using ChainMargin.Core;

namespace ChainMargin.Storage.Tests;

/// <summary>Test data: blocks with hashes per fork, addresses by number, and a seeded generator of mixed facts.</summary>
internal static class Facts
{
    public static readonly ChainId Chain = new(31337);

    public static readonly ChainId OtherChain = new(10);

    public static string Hash(ChainId chain, long number, string fork) =>
        "0x" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{chain}/{number}/{fork}")));

    public static BlockRef Block(long number, string fork = "a", ChainId? chain = null)
    {
        var c = chain ?? Chain;
        return new BlockRef(c, number, Hash(c, number, fork));
    }

    /// <summary>Block n of a fork; its parent is block n-1 of the same fork (forks share nothing: enough here).</summary>
    public static IndexedBlock Indexed(long number, string fork = "a", ChainId? chain = null)
    {
        var c = chain ?? Chain;
        return new IndexedBlock(Block(number, fork, c), Hash(c, number - 1, fork), 1_700_000_000 + (number * 12));
    }

    public static EvmAddress Address(int n) => EvmAddress.Parse("0x" + n.ToString("x40", CultureInfo.InvariantCulture));

    public static ChainBatch Batch(long from, long to, IEnumerable<ChainFact> facts, string fork = "a", ChainId? chain = null)
    {
        var c = chain ?? Chain;
        var blocks = Enumerable.Range((int)from, (int)(to - from + 1)).Select(n => Indexed(n, fork, c)).ToList();
        return new ChainBatch(c, blocks, facts.ToList(), Block(to, fork, c));
    }

    public static CollateralChanged Collateral(BlockRef block, int log, int account, BigInteger delta, int venue = 100, int token = 200) =>
        new(block, log, Address(venue), Address(account), Address(token), delta, delta.Sign >= 0 ? "deposit" : "withdraw");

    public static PerpPositionChanged Perp(BlockRef block, int log, int account, BigInteger size, BigInteger entry, int market = 1, int venue = 101) =>
        new(block, log, Address(venue), Address(account), market, size, entry, BigInteger.Zero);

    public static PriceRoundUpdated Price(BlockRef block, int log, int feed, BigInteger round, BigInteger answer) =>
        new(block, log, Address(feed), round, answer, 1_700_000_000 + (block.Number * 12));

    public static readonly int[] Feeds = [300, 301];

    /// <summary>
    /// Facts of every kind over blocks [from, to] of a fork, drawn from a small key space so that keys repeat and
    /// aggregates fold many facts (negative deltas included).
    /// </summary>
    public static List<ChainFact> Mixed(long from, long to, string fork, int seed)
    {
        var random = new Random(seed);
        var facts = new List<ChainFact>();
        for (var n = from; n <= to; n++)
        {
            var block = Block(n, fork);
            var logs = random.Next(0, 7);
            for (var log = 0; log < logs; log++)
            {
                var account = 1 + random.Next(3);
                var logIndex = (log * 3) + random.Next(3);
                facts.Add(random.Next(8) switch
                {
                    0 or 1 => Collateral(block, logIndex, account, new BigInteger(random.Next(-5_000, 10_000)) * BigInteger.Pow(10, 15), 100 + random.Next(2), 200 + random.Next(2)),
                    2 => Perp(block, logIndex, account, new BigInteger(random.Next(-50, 50)) * BigInteger.Pow(10, 17), random.Next(1_000, 4_000) * 100_000_000L, 1 + random.Next(2)),
                    3 => new OptionPositionChanged(block, logIndex, Address(102), Address(account), 1 + random.Next(2), new BigInteger(random.Next(-9, 9)) * BigInteger.Pow(10, 18)),
                    4 => Price(block, logIndex, Feeds[random.Next(2)], n * 10 + log, random.Next(1_000, 4_000) * 100_000_000L),
                    5 => new PerpMarketListed(block, logIndex, Address(101), 1 + random.Next(2), Address(Feeds[random.Next(2)]), random.Next(2) == 0 ? "ETH" : "BTC"),
                    6 => new OptionSeriesListed(block, logIndex, Address(102), 1 + random.Next(2), Address(Feeds[random.Next(2)]), "ETH", random.Next(1_000, 4_000) * 100_000_000L, 1_800_000_000 + random.Next(1000), random.Next(2) == 0),
                    _ => new RejectedLog(block, logIndex, Address(103), "0x" + new string('e', 64), $"undecodable data at log {logIndex}"),
                });
            }
        }

        return facts;
    }
}
