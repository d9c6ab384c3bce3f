using System.Numerics;
using System.Runtime.CompilerServices;
using System.Text;
using ChainMargin.Core;
using Nethereum.Util;

namespace ChainMargin.Indexing.Decoding;

/// <summary>The role of a configured contract: which events it can emit that we turn into facts.</summary>
public enum ContractRole
{
    Vault,
    PerpMarket,
    OptionMarket,
    PriceFeed,
}

/// <summary>
/// Decodes the reference protocol's and Chainlink feeds' logs straight from their hex (no ABI reflection, no
/// Newtonsoft): a few event types, decoded many times faster than a generic decoder. A log that cannot be decoded
/// becomes a <see cref="RejectedLog"/> with the reason; it never throws and never vanishes.
/// </summary>
public sealed class EventDecoder
{
    public static readonly string Deposited = Topic("Deposited(address,address,uint256)");
    public static readonly string Withdrawn = Topic("Withdrawn(address,address,uint256)");
    public static readonly string PnlSettled = Topic("PnlSettled(address,address,int256)");
    public static readonly string Seized = Topic("Seized(address,address,uint256,address)");
    public static readonly string MarketListed = Topic("MarketListed(uint256,address,string)");
    public static readonly string PositionChanged = Topic("PositionChanged(address,uint256,int256,int256,uint256,uint256,int256)");
    public static readonly string SeriesListed = Topic("SeriesListed(uint256,address,string,uint256,uint64,bool)");
    public static readonly string OptionTraded = Topic("OptionTraded(address,uint256,int256,int256,uint256)");
    public static readonly string OptionSettled = Topic("OptionSettled(address,uint256,int256,uint256,int256)");
    public static readonly string AnswerUpdated = Topic("AnswerUpdated(int256,uint256,uint256)");

    /// <summary>Events our contracts emit that carry no fact we keep (admin, bookkeeping): skipped silently.</summary>
    private static readonly HashSet<string> Ignored = new(StringComparer.OrdinalIgnoreCase)
    {
        Topic("NewRound(uint256,address,uint256)"),
        Topic("OwnershipTransferred(address,address)"),
        Topic("BadDebt(address,address,uint256)"),
        Topic("InsuranceFunded(address,address,uint256)"),
        Topic("MarketSet(address,bool)"),
        Topic("CollateralListed(address)"),
        Topic("LiquidatorSet(address)"),
        Topic("Transfer(address,address,uint256)"),
        Topic("Approval(address,address,uint256)"),
    };

    private static readonly BigInteger Uint256Max = (BigInteger.One << 256) - 1;

    private readonly ChainId _chain;
    private const int MaxRemembered = 1 << 16;
    private readonly Dictionary<string, ContractRole> _roles;
    private readonly Dictionary<string, EvmAddress> _topicAddresses = new(StringComparer.Ordinal);
    private readonly Dictionary<string, EvmAddress> _contracts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _knownTopics;

    // The log reader hands out the same string instance for a value that repeats from log to log (a block's hash, the
    // contract, the event signature): the last instance seen and what it became are kept, so the common case is one
    // reference comparison instead of a lower-casing scan and a hash lookup per log.
    private string? _lastHash;
    private string? _lastHashLower;
    private string? _lastTopic;
    private string? _lastTopicLower;
    private string? _lastContractText;
    private EvmAddress _lastContract;

    // Topic strings recur as the same instances within an answer (the log reader keeps them): a direct-mapped table
    // by object identity finds an account or token parsed before without hashing its 66 characters.
    private readonly (string? Topic, EvmAddress Address)[] _topicInstances = new (string?, EvmAddress)[1024];

    public EventDecoder(ChainId chain, IReadOnlyDictionary<EvmAddress, ContractRole> roles)
    {
        ArgumentNullException.ThrowIfNull(roles);
        _chain = chain;
        _roles = roles.ToDictionary(r => r.Key.Value, r => r.Value, StringComparer.OrdinalIgnoreCase);
        _knownTopics = new[] { Deposited, Withdrawn, PnlSettled, Seized, MarketListed, PositionChanged, SeriesListed, OptionTraded, OptionSettled, AnswerUpdated }
            .ToDictionary(t => t, StringComparer.OrdinalIgnoreCase);
    }

    public IReadOnlyCollection<string> Addresses => _roles.Keys;

    public static string Topic(string signature) =>
        "0x" + Convert.ToHexStringLower(Sha3Keccack.Current.CalculateHash(Encoding.UTF8.GetBytes(signature)));

    /// <summary>Decodes a log into a fact, or null for an event we deliberately skip.</summary>
    public ChainFact? Decode(RawLog log)
    {
        ArgumentNullException.ThrowIfNull(log);
        var block = new BlockRef(_chain, log.BlockNumber, LowerHash(log.BlockHash));
        if (!TryContract(log.Address, out var contract))
        {
            return new RejectedLog(block, log.LogIndex, EvmAddress.Zero, log.Topics.FirstOrDefault() ?? "", $"malformed log address '{log.Address}'");
        }

        var topic0 = log.Topics.Length > 0 ? LowerTopic(log.Topics[0]) : "";
        if (!_roles.TryGetValue(contract.Value, out var role))
        {
            return new RejectedLog(block, log.LogIndex, contract, topic0, "log from a contract that is not configured");
        }

        try
        {
            return DecodeKnown(role, topic0, log, block, contract);
        }
        catch (FormatException ex)
        {
            return new RejectedLog(block, log.LogIndex, contract, topic0, "malformed log data: " + ex.Message);
        }
        catch (ArgumentException ex)
        {
            return new RejectedLog(block, log.LogIndex, contract, topic0, "malformed log data: " + ex.Message);
        }
    }

    private ChainFact? DecodeKnown(ContractRole role, string topic0, RawLog log, BlockRef block, EvmAddress contract)
    {
        var data = new AbiWords(log.Data);
        switch (role)
        {
            case ContractRole.Vault when topic0 == Deposited || topic0 == Withdrawn || topic0 == PnlSettled || topic0 == Seized:
            {
                RequireTopics(log, topic0 == Seized ? 4 : 3);
                var account = TopicAddress(log.Topics[1]);
                var token = TopicAddress(log.Topics[2]);
                var amount = topic0 == PnlSettled ? data.Int(0) : data.Uint(0);
                if (amount == Uint256Max)
                {
                    return new RejectedLog(block, log.LogIndex, contract, topic0, "amount is uint256 max: not a real balance change");
                }

                var (delta, kind) = topic0 == Deposited ? (amount, "deposit")
                    : topic0 == Withdrawn ? (-amount, "withdraw")
                    : topic0 == PnlSettled ? (amount, "pnl")
                    : (-amount, "seize");
                return new CollateralChanged(block, log.LogIndex, contract, account, token, delta, kind);
            }

            case ContractRole.PerpMarket when topic0 == MarketListed:
                RequireTopics(log, 2);
                return new PerpMarketListed(block, log.LogIndex, contract, Word(log.Topics[1]), data.Address(0), data.String(1));

            case ContractRole.PerpMarket when topic0 == PositionChanged:
                RequireTopics(log, 3);
                return new PerpPositionChanged(
                    block, log.LogIndex, contract, TopicAddress(log.Topics[1]), Word(log.Topics[2]),
                    NewSize: data.Int(1), EntryPrice: data.Uint(2), RealizedPnl: data.Int(4));

            case ContractRole.OptionMarket when topic0 == SeriesListed:
                RequireTopics(log, 2);
                return new OptionSeriesListed(
                    block, log.LogIndex, contract, Word(log.Topics[1]), data.Address(0), data.String(1),
                    Strike: data.Uint(2), Expiry: (long)data.Uint(3), IsCall: data.Uint(4) != 0);

            case ContractRole.OptionMarket when topic0 == OptionTraded:
                RequireTopics(log, 3);
                return new OptionPositionChanged(block, log.LogIndex, contract, TopicAddress(log.Topics[1]), Word(log.Topics[2]), data.Int(1));

            case ContractRole.OptionMarket when topic0 == OptionSettled:
                RequireTopics(log, 3);
                return new OptionPositionChanged(block, log.LogIndex, contract, TopicAddress(log.Topics[1]), Word(log.Topics[2]), BigInteger.Zero);

            case ContractRole.PriceFeed when topic0 == AnswerUpdated:
                RequireTopics(log, 3);
                return new PriceRoundUpdated(
                    block, log.LogIndex, contract, RoundId: Word(log.Topics[2]), Answer: SignedWord(log.Topics[1]), UpdatedAt: (long)data.Uint(0));

            default:
                return Ignored.Contains(topic0)
                    ? null
                    : new RejectedLog(block, log.LogIndex, contract, topic0, $"unknown event signature for a {role} contract");
        }
    }

    /// <summary>
    /// An address from a topic word, remembered: the same accounts and tokens recur in log after log, and parsing
    /// allocates several strings each time. Bounded; a decoder is used by one watcher loop at a time.
    /// </summary>
    private EvmAddress TopicAddress(string topic)
    {
        ref var instance = ref _topicInstances[RuntimeHelpers.GetHashCode(topic) & (1024 - 1)];
        if (ReferenceEquals(instance.Topic, topic))
        {
            return instance.Address;
        }

        if (_topicAddresses.TryGetValue(topic, out var address))
        {
            instance = (topic, address);
            return address;
        }

        address = EvmAddress.FromWord(topic.AsSpan(2));
        if (_topicAddresses.Count >= MaxRemembered)
        {
            _topicAddresses.Clear();
        }

        _topicAddresses[topic] = address;
        instance = (topic, address);
        return address;
    }

    private string LowerHash(string hash)
    {
        if (!ReferenceEquals(hash, _lastHash))
        {
            _lastHashLower = hash.ToLowerInvariant();
            _lastHash = hash;
        }

        return _lastHashLower!;
    }

    /// <summary>Topic 0 in lower case; one of the signatures above is returned as that very instance.</summary>
    private string LowerTopic(string topic)
    {
        if (!ReferenceEquals(topic, _lastTopic))
        {
            _lastTopicLower = _knownTopics.TryGetValue(topic, out var known) ? known : topic.ToLowerInvariant();
            _lastTopic = topic;
        }

        return _lastTopicLower!;
    }

    private bool TryContract(string text, out EvmAddress contract)
    {
        if (ReferenceEquals(text, _lastContractText))
        {
            contract = _lastContract;
            return true;
        }

        if (_contracts.TryGetValue(text, out contract))
        {
            _lastContractText = text;
            _lastContract = contract;
            return true;
        }

        if (!EvmAddress.TryParse(text, out contract))
        {
            return false;
        }

        if (_contracts.Count >= MaxRemembered)
        {
            _contracts.Clear();
        }

        _contracts[text] = contract;
        return true;
    }

    private static void RequireTopics(RawLog log, int count)
    {
        if (log.Topics.Length != count)
        {
            throw new FormatException($"expected {count} topics, got {log.Topics.Length}");
        }
    }

    private static BigInteger Word(string topic) => AbiWords.ParseWord(topic.AsSpan(2), signed: false);

    private static BigInteger SignedWord(string topic) => AbiWords.ParseWord(topic.AsSpan(2), signed: true);
}

/// <summary>The 32-byte words of a log's data field.</summary>
internal readonly ref struct AbiWords
{
    private readonly ReadOnlySpan<char> _hex;

    public AbiWords(string data)
    {
        if (data is null || !data.StartsWith("0x", StringComparison.OrdinalIgnoreCase) || (data.Length - 2) % 64 != 0)
        {
            throw new FormatException("log data is not a whole number of 32-byte words");
        }

        _hex = data.AsSpan(2);
    }

    public int Count => _hex.Length / 64;

    public BigInteger Uint(int index) => ParseWord(WordAt(index), signed: false);

    public BigInteger Int(int index) => ParseWord(WordAt(index), signed: true);

    public EvmAddress Address(int index)
    {
        var word = WordAt(index);
        for (var i = 0; i < 24; i++)
        {
            if (word[i] != '0')
            {
                throw new FormatException($"word {index} is not an address");
            }
        }

        return EvmAddress.FromWord(word);
    }

    /// <summary>A dynamic string whose offset is the word at <paramref name="index"/>.</summary>
    public string String(int index)
    {
        var offset = Uint(index);
        if (offset % 32 != 0 || offset / 32 >= Count)
        {
            throw new FormatException($"string offset {offset} is out of the data");
        }

        var start = (int)(offset / 32);
        var length = Uint(start);
        if (length > (Count - start - 1) * 32)
        {
            throw new FormatException($"string length {length} runs past the data");
        }

        var bytes = Convert.FromHexString(_hex.Slice((start + 1) * 64, (int)length * 2));
        return Encoding.UTF8.GetString(bytes);
    }

    public static BigInteger ParseWord(ReadOnlySpan<char> word, bool signed)
    {
        if (word.Length != 64)
        {
            throw new FormatException("an ABI word has 64 hex digits");
        }

        Span<byte> bytes = stackalloc byte[32];
        if (Convert.FromHexString(word, bytes, out _, out _) != System.Buffers.OperationStatus.Done)
        {
            throw new FormatException("an ABI word is not hex");
        }

        return new BigInteger(bytes, isUnsigned: !signed, isBigEndian: true);
    }

    private ReadOnlySpan<char> WordAt(int index) =>
        index < Count ? _hex.Slice(index * 64, 64) : throw new FormatException($"log data has no word {index}");
}
