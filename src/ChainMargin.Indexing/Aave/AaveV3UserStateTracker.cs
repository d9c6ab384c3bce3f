using System.Numerics;
using ChainMargin.Core;

namespace ChainMargin.Indexing.Aave;

/// <summary>
/// Per-user Aave V3.0.2 state rebuilt from events alone, exactly as the tokens store it:
/// - aToken and variable debt scaled balances: Mint value = amount + interest (a repayment or withdrawal smaller than
///   the interest shows up as a Mint with value &lt; balanceIncrease), Burn value = amount - interest; the scaled delta
///   is rayDiv(amount, index) as the token computes it; BalanceTransfer carries the scaled value itself;
/// - stable debt principal, the user's rate and timestamp, from the stable token's Mint/Burn (currentBalance is given);
/// - the collateral bits of the user configuration from ReserveUsedAsCollateralEnabled/Disabled (holding aTokens is
///   not enough: a treasury or a user who switched collateral off holds aTokens that do not count);
/// - the borrowing bits from the debt balances: the Pool sets the bit on every borrow and clears it exactly when a
///   repay or liquidation takes the whole debt to zero, which is when both balances reach zero;
/// - the e-mode category from UserEModeSet;
/// - each reserve's indices and rates from ReserveDataUpdated (with the block's timestamp as the last update).
/// Reserve ids follow PoolLogic.executeInitReserve (first free slot). In memory; the store persists the facts.
/// </summary>
public sealed class AaveV3UserStateTracker
{
    private static readonly BigInteger Ray = BigInteger.Pow(10, 27);

    private readonly Dictionary<EvmAddress, UserState> _users = [];
    private readonly List<AaveV3ReserveTokens?> _reservesById = [];
    private readonly Dictionary<EvmAddress, AaveV3ReserveTokens> _byAsset = [];
    private readonly Dictionary<EvmAddress, (AaveV3ReserveTokens Reserve, TokenKind Kind)> _byToken = [];
    private readonly Dictionary<EvmAddress, AaveV3ReserveIndexes> _indexes = [];
    private readonly HashSet<EvmAddress> _touched = [];

    private enum TokenKind
    {
        AToken,
        VariableDebt,
        StableDebt,
    }

    public int AppliedCount { get; private set; }

    public BlockRef? LastBlock { get; private set; }

    public IReadOnlyList<AaveV3ReserveTokens?> ReservesById => _reservesById;

    public IEnumerable<EvmAddress> Users => _users.Keys;

    /// <summary>Registers a listed reserve (from ReserveInitialized or a getReserveData read) at its id.</summary>
    public void RegisterReserve(AaveV3ReserveTokens reserve)
    {
        ArgumentNullException.ThrowIfNull(reserve);
        while (_reservesById.Count <= reserve.Id)
        {
            _reservesById.Add(null);
        }

        _reservesById[reserve.Id] = reserve;
        _byAsset[reserve.Asset] = reserve;
        _byToken[reserve.AToken] = (reserve, TokenKind.AToken);
        _byToken[reserve.VariableDebtToken] = (reserve, TokenKind.VariableDebt);
        _byToken[reserve.StableDebtToken] = (reserve, TokenKind.StableDebt);
    }

    /// <summary>Users whose state an applied fact touched since the last call (the persisted versions to write).</summary>
    public IReadOnlyList<EvmAddress> TakeTouched()
    {
        var touched = _touched.ToList();
        _touched.Clear();
        return touched;
    }

    /// <summary>
    /// Puts back a user as persisted (a restart resumes from the store): the collateral bits of the configuration,
    /// e-mode and balances; the borrowing bits follow from the balances as they do after events.
    /// </summary>
    public void Restore(AaveV3TrackedUser user)
    {
        ArgumentNullException.ThrowIfNull(user);
        var state = new UserState { EMode = user.EModeCategory };
        state.RestoreCollateralBits(user.Configuration);
        foreach (var b in user.Balances)
        {
            var balances = state.For(b.ReserveId);
            balances.ScaledA = b.ScaledATokenBalance;
            balances.ScaledV = b.ScaledVariableDebt;
            balances.StablePrincipal = b.StablePrincipal;
            balances.StableRate = b.StableRate;
            balances.StableTimestamp = b.StableLastUpdated;
        }

        _users[user.User] = state;
    }

    public AaveV3ReserveTokens? ReserveOf(EvmAddress asset) => _byAsset.TryGetValue(asset, out var r) ? r : null;

    /// <summary>The indices and rates the last ReserveDataUpdated of the reserve set, if any was seen.</summary>
    public AaveV3ReserveIndexes? IndexesOf(EvmAddress asset) => _indexes.TryGetValue(asset, out var i) ? i : null;

    /// <summary>Applies one decoded fact of block <paramref name="blockTimestamp"/>, in log order.</summary>
    public void Apply(ChainFact fact, long blockTimestamp)
    {
        ArgumentNullException.ThrowIfNull(fact);
        switch (fact)
        {
            case AaveReserveInitialized e:
                RegisterReserve(new AaveV3ReserveTokens(NextFreeId(), e.Asset, e.AToken, e.StableDebtToken, e.VariableDebtToken));
                break;
            case AaveReserveDropped e when _byAsset.TryGetValue(e.Asset, out var dropped):
                _reservesById[dropped.Id] = null;
                _byAsset.Remove(e.Asset);
                break;
            case AaveReserveDataUpdated e:
                _indexes[e.Reserve] = new AaveV3ReserveIndexes(
                    e.LiquidityIndex, e.LiquidityRate, e.VariableBorrowIndex, e.VariableBorrowRate, e.StableBorrowRate, blockTimestamp);
                break;
            case AaveCollateralSwitched e:
                User(e.User).SetCollateral(Reserve(e.Reserve).Id, e.Enabled);
                break;
            case AaveUserEModeSet e:
                User(e.User).EMode = e.CategoryId;
                break;
            case AaveScaledMint e:
            {
                var (reserve, kind) = Token(e.Contract);
                var balances = User(e.OnBehalfOf).For(reserve.Id);
                // Mint: value = amount + interest. A burn smaller than the interest is emitted as a Mint of the difference.
                var delta = e.Value > e.BalanceIncrease
                    ? RayDiv(e.Value - e.BalanceIncrease, e.Index)
                    : -RayDiv(e.BalanceIncrease - e.Value, e.Index);
                if (e.Value == e.BalanceIncrease)
                {
                    delta = BigInteger.Zero; // interest-only Mint around a BalanceTransfer
                }

                AddScaled(balances, kind, delta);
                break;
            }

            case AaveScaledBurn e:
            {
                var (reserve, kind) = Token(e.Contract);
                AddScaled(User(e.From).For(reserve.Id), kind, -RayDiv(e.Value + e.BalanceIncrease, e.Index));
                break;
            }

            case AaveBalanceTransfer e:
            {
                var (reserve, _) = Token(e.Contract);
                User(e.From).For(reserve.Id).ScaledA -= e.ScaledValue;
                User(e.To).For(reserve.Id).ScaledA += e.ScaledValue;
                break;
            }

            case AaveStableDebtMint e:
            {
                var (reserve, _) = Token(e.Contract);
                var balances = User(e.OnBehalfOf).For(reserve.Id);
                // Borrow: amount = value - interest; a burn below the interest is a Mint of (interest - amount).
                balances.StablePrincipal = e.CurrentBalance + e.Amount - e.BalanceIncrease;
                balances.StableRate = e.NewRate;
                balances.StableTimestamp = blockTimestamp;
                break;
            }

            case AaveStableDebtBurn e:
            {
                var (reserve, _) = Token(e.Contract);
                var balances = User(e.From).For(reserve.Id);
                balances.StablePrincipal = e.CurrentBalance - (e.Amount + e.BalanceIncrease);
                if (balances.StablePrincipal.IsZero)
                {
                    balances.StableRate = BigInteger.Zero;
                    balances.StableTimestamp = 0;
                }
                else
                {
                    balances.StableTimestamp = blockTimestamp;
                }

                break;
            }

            default:
                // Supply, Withdraw, Borrow, Repay, LiquidationCall, AssetSourceUpdated: their effect on balances
                // arrives through the token events of the same transaction.
                break;
        }

        AppliedCount++;
        if (LastBlock is null || fact.Block.Number >= LastBlock.Value.Number)
        {
            LastBlock = fact.Block;
        }
    }

    /// <summary>A user's state as the Pool stores it: configuration bitmap, e-mode, balances per reserve id.</summary>
    public AaveV3TrackedUser? Snapshot(EvmAddress user)
    {
        if (!_users.TryGetValue(user, out var state))
        {
            return null;
        }

        var configuration = state.CollateralBits;
        var balances = new List<AaveV3TrackedBalance>();
        foreach (var (id, b) in state.Balances.OrderBy(kv => kv.Key))
        {
            if (!b.ScaledV.IsZero || !b.StablePrincipal.IsZero)
            {
                configuration |= BigInteger.One << (id << 1);
            }

            balances.Add(new AaveV3TrackedBalance(id, b.ScaledA, b.ScaledV, b.StablePrincipal, b.StableRate, b.StableTimestamp));
        }

        return new AaveV3TrackedUser(user, configuration, state.EMode, balances);
    }

    private static void AddScaled(Balances balances, TokenKind kind, BigInteger delta)
    {
        if (kind == TokenKind.AToken)
        {
            balances.ScaledA += delta;
        }
        else if (kind == TokenKind.VariableDebt)
        {
            balances.ScaledV += delta;
        }
        else
        {
            throw new InvalidOperationException("a scaled Mint/Burn on a stable debt token");
        }
    }

    /// <summary>WadRayMath.rayDiv (half up), as the tokens compute the scaled amount (duplicated from Risk: Indexing does not reference it).</summary>
    private static BigInteger RayDiv(BigInteger a, BigInteger b) => ((a * Ray) + (b / 2)) / b;

    private int NextFreeId()
    {
        for (var i = 0; i < _reservesById.Count; i++)
        {
            if (_reservesById[i] is null)
            {
                return i;
            }
        }

        return _reservesById.Count;
    }

    private UserState User(EvmAddress user)
    {
        _touched.Add(user);
        if (!_users.TryGetValue(user, out var state))
        {
            state = new UserState();
            _users[user] = state;
        }

        return state;
    }

    private AaveV3ReserveTokens Reserve(EvmAddress asset) =>
        _byAsset.TryGetValue(asset, out var r) ? r : throw new InvalidOperationException($"event for unknown reserve {asset}");

    private (AaveV3ReserveTokens Reserve, TokenKind Kind) Token(EvmAddress token) =>
        _byToken.TryGetValue(token, out var t) ? t : throw new InvalidOperationException($"event from unknown token {token}");

    private sealed class UserState
    {
        public Dictionary<int, Balances> Balances { get; } = [];

        public BigInteger CollateralBits { get; private set; }

        public int EMode { get; set; }

        public Balances For(int reserveId)
        {
            if (!Balances.TryGetValue(reserveId, out var b))
            {
                b = new Balances();
                Balances[reserveId] = b;
            }

            return b;
        }

        public void RestoreCollateralBits(BigInteger configuration)
        {
            var mask = BigInteger.Zero;
            for (var bit = 1; bit < 256; bit += 2)
            {
                mask |= BigInteger.One << bit;
            }

            CollateralBits = configuration & mask;
        }

        public void SetCollateral(int reserveId, bool on)
        {
            var bit = BigInteger.One << ((reserveId << 1) + 1);
            CollateralBits = on ? CollateralBits | bit : CollateralBits & ~bit;
        }
    }

    private sealed class Balances
    {
        public BigInteger ScaledA { get; set; }

        public BigInteger ScaledV { get; set; }

        public BigInteger StablePrincipal { get; set; }

        public BigInteger StableRate { get; set; }

        public long StableTimestamp { get; set; }
    }
}

/// <summary>A listed reserve and its three token contracts.</summary>
public sealed record AaveV3ReserveTokens(int Id, EvmAddress Asset, EvmAddress AToken, EvmAddress StableDebtToken, EvmAddress VariableDebtToken);

/// <summary>A reserve's indices and rates (rays) as of its last update (unix seconds).</summary>
public sealed record AaveV3ReserveIndexes(
    BigInteger LiquidityIndex, BigInteger LiquidityRate, BigInteger VariableBorrowIndex, BigInteger VariableBorrowRate,
    BigInteger StableBorrowRate, long LastUpdateTimestamp);

/// <summary>A user's scaled balances in one reserve, and stable debt principal with its rate (ray) and timestamp.</summary>
public sealed record AaveV3TrackedBalance(
    int ReserveId, BigInteger ScaledATokenBalance, BigInteger ScaledVariableDebt, BigInteger StablePrincipal, BigInteger StableRate, long StableLastUpdated);

/// <summary>A user as the Pool sees them: the configuration bitmap (2 bits per reserve id), e-mode, balances.</summary>
public sealed record AaveV3TrackedUser(EvmAddress User, BigInteger Configuration, int EModeCategory, IReadOnlyList<AaveV3TrackedBalance> Balances);
