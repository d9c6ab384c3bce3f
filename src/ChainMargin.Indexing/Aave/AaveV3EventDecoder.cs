using System.Numerics;
using System.Text;
using ChainMargin.Core;
using ChainMargin.Indexing.Decoding;
using Nethereum.Util;

namespace ChainMargin.Indexing.Aave;

/// <summary>What an Aave contract is to the decoder: the same Mint/Burn topic means different things on each token kind.</summary>
public enum AaveV3ContractRole
{
    Pool,
    PoolConfigurator,
    Oracle,
    AToken,
    VariableDebtToken,
    StableDebtToken,
}

/// <summary>
/// Decodes Aave V3.0.2 logs straight from their topics and data hex (no ABI reflection, no Newtonsoft). Logs of
/// events we do not index (Transfer, Approval, admin events) return null; a log that should decode but cannot becomes
/// a <see cref="RejectedLog"/> with the reason. Token contracts are registered as reserves are discovered.
/// </summary>
public sealed class AaveV3EventDecoder
{
    public static readonly string Supply = Topic("Supply(address,address,address,uint256,uint16)");
    public static readonly string Withdraw = Topic("Withdraw(address,address,address,uint256)");
    public static readonly string Borrow = Topic("Borrow(address,address,address,uint256,uint8,uint256,uint16)");
    public static readonly string Repay = Topic("Repay(address,address,address,uint256,bool)");
    public static readonly string LiquidationCall = Topic("LiquidationCall(address,address,address,uint256,uint256,address,bool)");
    public static readonly string ReserveDataUpdated = Topic("ReserveDataUpdated(address,uint256,uint256,uint256,uint256,uint256)");
    public static readonly string CollateralEnabled = Topic("ReserveUsedAsCollateralEnabled(address,address)");
    public static readonly string CollateralDisabled = Topic("ReserveUsedAsCollateralDisabled(address,address)");
    public static readonly string UserEModeSet = Topic("UserEModeSet(address,uint8)");
    public static readonly string ScaledMint = Topic("Mint(address,address,uint256,uint256,uint256)");
    public static readonly string ScaledBurn = Topic("Burn(address,address,uint256,uint256,uint256)");
    public static readonly string BalanceTransfer = Topic("BalanceTransfer(address,address,uint256,uint256)");
    public static readonly string StableMint = Topic("Mint(address,address,uint256,uint256,uint256,uint256,uint256,uint256)");
    public static readonly string StableBurn = Topic("Burn(address,uint256,uint256,uint256,uint256,uint256)");
    public static readonly string ReserveInitialized = Topic("ReserveInitialized(address,address,address,address,address)");
    public static readonly string AssetSourceUpdated = Topic("AssetSourceUpdated(address,address)");
    public static readonly string ReserveDropped = Topic("ReserveDropped(address)");

    private readonly ChainId _chain;
    private readonly Dictionary<EvmAddress, AaveV3ContractRole> _roles = [];

    // Keyed by the log's own address text (any case), so the hot path parses no address it will not use.
    private readonly Dictionary<string, (EvmAddress Address, AaveV3ContractRole Role)> _byText = new(StringComparer.OrdinalIgnoreCase);

    public AaveV3EventDecoder(ChainId chain) => _chain = chain;

    /// <summary>Addresses whose logs we fetch.</summary>
    public IReadOnlyCollection<EvmAddress> Addresses => _roles.Keys;

    public static string Topic(string signature) =>
        "0x" + Convert.ToHexStringLower(Sha3Keccack.Current.CalculateHash(Encoding.UTF8.GetBytes(signature)));

    public void Register(EvmAddress contract, AaveV3ContractRole role)
    {
        _roles[contract] = role;
        _byText[contract.Value] = (contract, role);
    }

    public AaveV3ContractRole? RoleOf(EvmAddress contract) => _roles.TryGetValue(contract, out var role) ? role : null;

    /// <summary>The topics0 we index, for an eth_getLogs topic filter.</summary>
    public static IReadOnlyList<string> IndexedTopics { get; } =
    [
        Supply, Withdraw, Borrow, Repay, LiquidationCall, ReserveDataUpdated, CollateralEnabled, CollateralDisabled, UserEModeSet,
        ScaledMint, ScaledBurn, BalanceTransfer, StableMint, StableBurn, ReserveInitialized, AssetSourceUpdated, ReserveDropped,
    ];

    public ChainFact? Decode(RawLog log)
    {
        ArgumentNullException.ThrowIfNull(log);
        if (!_byText.TryGetValue(log.Address, out var known))
        {
            return null;
        }

        var (contract, role) = known;
        var block = new BlockRef(_chain, log.BlockNumber, IsLower(log.BlockHash) ? log.BlockHash : log.BlockHash.ToLowerInvariant());
        var topic0 = log.Topics.Length > 0 ? (IsLower(log.Topics[0]) ? log.Topics[0] : log.Topics[0].ToLowerInvariant()) : "";

        try
        {
            return Decode(block, log.LogIndex, contract, role, topic0, log.Topics, log.Data);
        }
        catch (FormatException ex)
        {
            return new RejectedLog(block, log.LogIndex, contract, topic0, ex.Message);
        }
        catch (OverflowException ex)
        {
            return new RejectedLog(block, log.LogIndex, contract, topic0, ex.Message);
        }
    }

    private static ChainFact? Decode(BlockRef b, int i, EvmAddress c, AaveV3ContractRole role, string topic0, string[] topics, string data)
    {
        var d = new Words(data);
        switch (role)
        {
            case AaveV3ContractRole.Pool:
                if (topic0 == Supply)
                {
                    Need(topics, 4);
                    return new AaveSupply(b, i, c, A(topics[1]), d.Address(0), A(topics[2]), d.Uint(1), (int)U(topics[3]));
                }

                if (topic0 == Withdraw)
                {
                    Need(topics, 4);
                    return new AaveWithdraw(b, i, c, A(topics[1]), A(topics[2]), A(topics[3]), d.Uint(0));
                }

                if (topic0 == Borrow)
                {
                    Need(topics, 4);
                    return new AaveBorrow(b, i, c, A(topics[1]), d.Address(0), A(topics[2]), d.Uint(1), (int)d.Uint(2), d.Uint(3), (int)U(topics[3]));
                }

                if (topic0 == Repay)
                {
                    Need(topics, 4);
                    return new AaveRepay(b, i, c, A(topics[1]), A(topics[2]), A(topics[3]), d.Uint(0), !d.Uint(1).IsZero);
                }

                if (topic0 == LiquidationCall)
                {
                    Need(topics, 4);
                    return new AaveLiquidationCall(b, i, c, A(topics[1]), A(topics[2]), A(topics[3]), d.Uint(0), d.Uint(1), d.Address(2), !d.Uint(3).IsZero);
                }

                if (topic0 == ReserveDataUpdated)
                {
                    Need(topics, 2);
                    return new AaveReserveDataUpdated(b, i, c, A(topics[1]), d.Uint(0), d.Uint(1), d.Uint(2), d.Uint(3), d.Uint(4));
                }

                if (topic0 == CollateralEnabled || topic0 == CollateralDisabled)
                {
                    Need(topics, 3);
                    return new AaveCollateralSwitched(b, i, c, A(topics[1]), A(topics[2]), topic0 == CollateralEnabled);
                }

                if (topic0 == UserEModeSet)
                {
                    Need(topics, 2);
                    return new AaveUserEModeSet(b, i, c, A(topics[1]), (int)d.Uint(0));
                }

                return null;
            case AaveV3ContractRole.AToken or AaveV3ContractRole.VariableDebtToken:
                if (topic0 == ScaledMint)
                {
                    Need(topics, 3);
                    return new AaveScaledMint(b, i, c, A(topics[1]), A(topics[2]), d.Uint(0), d.Uint(1), d.Uint(2));
                }

                if (topic0 == ScaledBurn)
                {
                    Need(topics, 3);
                    return new AaveScaledBurn(b, i, c, A(topics[1]), A(topics[2]), d.Uint(0), d.Uint(1), d.Uint(2));
                }

                if (topic0 == BalanceTransfer && role == AaveV3ContractRole.AToken)
                {
                    Need(topics, 3);
                    return new AaveBalanceTransfer(b, i, c, A(topics[1]), A(topics[2]), d.Uint(0), d.Uint(1));
                }

                return null;
            case AaveV3ContractRole.StableDebtToken:
                if (topic0 == StableMint)
                {
                    Need(topics, 3);
                    return new AaveStableDebtMint(b, i, c, A(topics[1]), A(topics[2]), d.Uint(0), d.Uint(1), d.Uint(2), d.Uint(3), d.Uint(4), d.Uint(5));
                }

                if (topic0 == StableBurn)
                {
                    Need(topics, 2);
                    return new AaveStableDebtBurn(b, i, c, A(topics[1]), d.Uint(0), d.Uint(1), d.Uint(2), d.Uint(3), d.Uint(4));
                }

                return null;
            case AaveV3ContractRole.PoolConfigurator:
                if (topic0 == ReserveInitialized)
                {
                    Need(topics, 3);
                    return new AaveReserveInitialized(b, i, c, A(topics[1]), A(topics[2]), d.Address(0), d.Address(1), d.Address(2));
                }

                if (topic0 == ReserveDropped)
                {
                    Need(topics, 2);
                    return new AaveReserveDropped(b, i, c, A(topics[1]));
                }

                return null;
            case AaveV3ContractRole.Oracle:
                if (topic0 == AssetSourceUpdated)
                {
                    Need(topics, 3);
                    return new AaveAssetSourceUpdated(b, i, c, A(topics[1]), A(topics[2]));
                }

                return null;
            default:
                return null;
        }
    }

    private static bool IsLower(string hex)
    {
        foreach (var c in hex)
        {
            if (c is >= 'A' and <= 'F')
            {
                return false;
            }
        }

        return true;
    }

    private static void Need(string[] topics, int count)
    {
        if (topics.Length != count)
        {
            throw new FormatException($"expected {count} topics, got {topics.Length}");
        }
    }

    private static EvmAddress A(string topic) =>
        topic.Length == 66 ? EvmAddress.FromWord(topic.AsSpan(2)) : throw new FormatException($"topic '{topic}' is not a 32-byte word");

    private static BigInteger U(string topic) =>
        topic.Length == 66 ? Words.Parse(topic.AsSpan(2)) : throw new FormatException($"topic '{topic}' is not a 32-byte word");

    /// <summary>The 32-byte words of a log's data.</summary>
    private readonly ref struct Words
    {
        private readonly ReadOnlySpan<char> _hex;

        public Words(string data)
        {
            if (data is null || !data.StartsWith("0x", StringComparison.OrdinalIgnoreCase) || (data.Length - 2) % 64 != 0)
            {
                throw new FormatException("log data is not a whole number of 32-byte words");
            }

            _hex = data.AsSpan(2);
        }

        public BigInteger Uint(int index) => Parse(At(index));

        public EvmAddress Address(int index) => EvmAddress.FromWord(At(index));

        public static BigInteger Parse(ReadOnlySpan<char> word)
        {
            Span<byte> bytes = stackalloc byte[32];
            if (Convert.FromHexString(word, bytes, out _, out _) != System.Buffers.OperationStatus.Done)
            {
                throw new FormatException("an ABI word is not hex");
            }

            return new BigInteger(bytes, isUnsigned: true, isBigEndian: true);
        }

        private ReadOnlySpan<char> At(int index) =>
            (index + 1) * 64 <= _hex.Length ? _hex.Slice(index * 64, 64) : throw new FormatException($"log data has no word {index}");
    }
}
