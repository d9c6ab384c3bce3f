using System.Numerics;

namespace ChainMargin.Risk.Aave;

/// <summary>
/// Aave V3.0.2's fixed-point arithmetic (WadRayMath, PercentageMath, MathUtils of @aave/core-v3 1.19.3), so our
/// numbers equal the contract's to the last unit. In this version every multiply and divide rounds half up
/// (later releases round some of them down; follow the deployed code, not the newest). Overflow checks of the
/// assembly (a revert) are mirrored as <see cref="OverflowException"/>.
/// </summary>
public static class AaveV3Math
{
    public static readonly BigInteger Wad = BigInteger.Pow(10, 18);
    public static readonly BigInteger HalfWad = Wad / 2;
    public static readonly BigInteger Ray = BigInteger.Pow(10, 27);
    public static readonly BigInteger HalfRay = Ray / 2;
    public static readonly BigInteger WadRayRatio = BigInteger.Pow(10, 9);

    /// <summary>100.00% in basis points.</summary>
    public static readonly BigInteger PercentageFactor = 10_000;
    public static readonly BigInteger HalfPercentageFactor = 5_000;

    /// <summary>MathUtils.SECONDS_PER_YEAR: 365 days, leap years ignored.</summary>
    public static readonly BigInteger SecondsPerYear = 365 * 24 * 3600;

    public static readonly BigInteger MaxUint256 = (BigInteger.One << 256) - 1;

    public static BigInteger WadMul(BigInteger a, BigInteger b)
    {
        if (!b.IsZero && a > (MaxUint256 - HalfWad) / b)
        {
            throw new OverflowException("wadMul overflows uint256");
        }

        return ((a * b) + HalfWad) / Wad;
    }

    public static BigInteger WadDiv(BigInteger a, BigInteger b)
    {
        if (b.IsZero || a > (MaxUint256 - (b / 2)) / Wad)
        {
            throw new OverflowException("wadDiv by zero or overflows uint256");
        }

        return ((a * Wad) + (b / 2)) / b;
    }

    public static BigInteger RayMul(BigInteger a, BigInteger b)
    {
        if (!b.IsZero && a > (MaxUint256 - HalfRay) / b)
        {
            throw new OverflowException("rayMul overflows uint256");
        }

        return ((a * b) + HalfRay) / Ray;
    }

    public static BigInteger RayDiv(BigInteger a, BigInteger b)
    {
        if (b.IsZero || a > (MaxUint256 - (b / 2)) / Ray)
        {
            throw new OverflowException("rayDiv by zero or overflows uint256");
        }

        return ((a * Ray) + (b / 2)) / b;
    }

    public static BigInteger RayToWad(BigInteger a)
    {
        var result = BigInteger.DivRem(a, WadRayRatio, out var remainder);
        return remainder >= WadRayRatio / 2 ? result + 1 : result;
    }

    public static BigInteger WadToRay(BigInteger a) => a * WadRayRatio;

    /// <summary>value x percentage (basis points), half up.</summary>
    public static BigInteger PercentMul(BigInteger value, BigInteger percentage)
    {
        if (!percentage.IsZero && value > (MaxUint256 - HalfPercentageFactor) / percentage)
        {
            throw new OverflowException("percentMul overflows uint256");
        }

        return ((value * percentage) + HalfPercentageFactor) / PercentageFactor;
    }

    /// <summary>value / percentage (basis points), half up.</summary>
    public static BigInteger PercentDiv(BigInteger value, BigInteger percentage)
    {
        if (percentage.IsZero || value > (MaxUint256 - (percentage / 2)) / PercentageFactor)
        {
            throw new OverflowException("percentDiv by zero or overflows uint256");
        }

        return ((value * PercentageFactor) + (percentage / 2)) / percentage;
    }

    /// <summary>MathUtils.calculateLinearInterest: the liquidity index grows linearly between updates (ray).</summary>
    public static BigInteger LinearInterest(BigInteger rate, long lastUpdateTimestamp, long currentTimestamp)
    {
        var elapsed = CheckedElapsed(lastUpdateTimestamp, currentTimestamp);
        return Ray + (rate * elapsed / SecondsPerYear);
    }

    /// <summary>
    /// MathUtils.calculateCompoundedInterest: the three-term binomial (Taylor) approximation of (1 + rate/year)^t,
    /// with the contract's intermediate integer divisions, not exact exponentiation (ray).
    /// </summary>
    public static BigInteger CompoundedInterest(BigInteger rate, long lastUpdateTimestamp, long currentTimestamp)
    {
        var exp = CheckedElapsed(lastUpdateTimestamp, currentTimestamp);
        if (exp.IsZero)
        {
            return Ray;
        }

        var expMinusOne = exp - 1;
        var expMinusTwo = exp > 2 ? exp - 2 : BigInteger.Zero;
        var basePowerTwo = RayMul(rate, rate) / (SecondsPerYear * SecondsPerYear);
        var basePowerThree = RayMul(basePowerTwo, rate) / SecondsPerYear;
        var secondTerm = exp * expMinusOne * basePowerTwo / 2;
        var thirdTerm = exp * expMinusOne * expMinusTwo * basePowerThree / 6;
        return Ray + (rate * exp / SecondsPerYear) + secondTerm + thirdTerm;
    }

    /// <summary>ReserveLogic.getNormalizedIncome at <paramref name="timestamp"/>.</summary>
    public static BigInteger NormalizedIncome(BigInteger liquidityIndex, BigInteger liquidityRate, long lastUpdateTimestamp, long timestamp) =>
        lastUpdateTimestamp == timestamp
            ? liquidityIndex
            : RayMul(LinearInterest(liquidityRate, lastUpdateTimestamp, timestamp), liquidityIndex);

    /// <summary>ReserveLogic.getNormalizedDebt at <paramref name="timestamp"/>.</summary>
    public static BigInteger NormalizedDebt(BigInteger variableBorrowIndex, BigInteger variableBorrowRate, long lastUpdateTimestamp, long timestamp) =>
        lastUpdateTimestamp == timestamp
            ? variableBorrowIndex
            : RayMul(CompoundedInterest(variableBorrowRate, lastUpdateTimestamp, timestamp), variableBorrowIndex);

    /// <summary>StableDebtToken.balanceOf: the principal compounded at the user's own rate since their last update.</summary>
    public static BigInteger StableDebtBalance(BigInteger principal, BigInteger userRate, long userLastUpdated, long timestamp) =>
        principal.IsZero ? BigInteger.Zero : RayMul(principal, CompoundedInterest(userRate, userLastUpdated, timestamp));

    private static BigInteger CheckedElapsed(long last, long current)
    {
        if (current < last)
        {
            // The contract computes block.timestamp - last with checked arithmetic: it would revert.
            throw new ArgumentOutOfRangeException(nameof(current), current, $"timestamp is before the last update {last}");
        }

        return current - last;
    }
}
