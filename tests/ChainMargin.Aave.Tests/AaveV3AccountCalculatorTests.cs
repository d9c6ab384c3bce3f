using System.Numerics;
using ChainMargin.Core;
using ChainMargin.Risk.Aave;
using Xunit;

namespace ChainMargin.Aave.Tests;

/// <summary>Edge cases of the calculator and the liquidation rules on hand-built inputs (the chain checks are in the scenario).</summary>
public sealed class AaveV3AccountCalculatorTests
{
    private static readonly BigInteger Ray = BigInteger.Pow(10, 27);
    private static readonly EvmAddress Usdc = EvmAddress.Parse("0x00000000000000000000000000000000000000a1");
    private static readonly EvmAddress Weth = EvmAddress.Parse("0x00000000000000000000000000000000000000a2");
    private static readonly EvmAddress User = EvmAddress.Parse("0x00000000000000000000000000000000000000b1");

    [Fact]
    public void Calculate_EmptyConfiguration_ReturnsZerosAndMaxHealth()
    {
        var result = AaveV3AccountCalculator.Calculate(Market(), new AaveV3UserInput(User, default, 0, []));
        Assert.Equal(AaveV3Math.MaxUint256, result.Data!.HealthFactor);
        Assert.Equal(BigInteger.Zero, result.Data.TotalCollateralBase);
        Assert.Null(result.Data.HealthAsDecimal);
    }

    [Fact]
    public void Calculate_SupplyAndBorrow_MatchesHandComputedFixedPoint()
    {
        // 10 WETH at $2,000 (LT 82.5%, LTV 80%) against 8,000 USDC debt at $1; indices at 1 ray, no time elapsed.
        var user = new AaveV3UserInput(User, new AaveV3UserConfiguration(0).WithCollateral(1, true).WithBorrowing(0, true), 0,
        [
            new AaveV3UserReserveInput(0, 0, 8_000_000_000, 0, 0, 0),
            new AaveV3UserReserveInput(1, BigInteger.Parse("10000000000000000000"), 0, 0, 0, 0),
        ]);
        var data = AaveV3AccountCalculator.Calculate(Market(), user).Data!;
        Assert.Equal(new BigInteger(20_000_0000_0000), data.TotalCollateralBase);
        Assert.Equal(new BigInteger(8_000_0000_0000), data.TotalDebtBase);
        Assert.Equal(new BigInteger(8250), data.CurrentLiquidationThreshold);
        Assert.Equal(new BigInteger(8000), data.Ltv);
        Assert.Equal(new BigInteger(16_000_0000_0000 - 8_000_0000_0000), data.AvailableBorrowsBase);
        // 20,000 x 0.825 / 8,000 = 2.0625
        Assert.Equal(BigInteger.Parse("2062500000000000000"), data.HealthFactor);
        Assert.Equal(2.0625m, data.HealthAsDecimal);
    }

    [Fact]
    public void Calculate_MissingPrice_IsUnavailableWithTheReasonNotZero()
    {
        var market = Market() with { Reserves = [Reserve(0, Usdc, 6, 1_0000_0000, 8000, 8500), Reserve(1, Weth, 18, null, 8000, 8250) with { PriceReason = "feed reverted" }] };
        var user = new AaveV3UserInput(User, new AaveV3UserConfiguration(0).WithCollateral(1, true), 0, [new AaveV3UserReserveInput(1, 1, 0, 0, 0, 0)]);
        var result = AaveV3AccountCalculator.Calculate(market, user);
        Assert.Null(result.Data);
        Assert.Contains("feed reverted", result.UnavailableReason, StringComparison.Ordinal);
    }

    [Fact]
    public void Calculate_ZeroLtvCollateral_CountsForThresholdButNotLtv()
    {
        var market = Market() with { Reserves = [Reserve(0, Usdc, 6, 1_0000_0000, 0, 8500), Reserve(1, Weth, 18, 2_000_0000_0000, 8000, 8250)] };
        var user = new AaveV3UserInput(User, new AaveV3UserConfiguration(0).WithCollateral(0, true).WithCollateral(1, true), 0,
        [
            new AaveV3UserReserveInput(0, 2_000_000_000, 0, 0, 0, 0),
            new AaveV3UserReserveInput(1, BigInteger.Pow(10, 18), 0, 0, 0, 0),
        ]);
        var data = AaveV3AccountCalculator.Calculate(market, user).Data!;
        Assert.True(data.HasZeroLtvCollateral);
        Assert.Equal(new BigInteger(2000 * 8000 / 4000), data.Ltv); // floor(2000 x 8000 / 4000) with USDC's 0 left out
        Assert.Equal(new BigInteger(((2000 * 8500) + (2000 * 8250)) / 4000), data.CurrentLiquidationThreshold);
    }

    [Fact]
    public void Calculate_EMode_ReplacesThresholdAndPriceOnlyForAssetsInTheCategory()
    {
        var market = Market() with
        {
            Reserves = [Reserve(0, Usdc, 6, 1_0000_0000, 8000, 8500), Reserve(1, Weth, 18, 2_000_0000_0000, 8000, 8250, eMode: 1)],
            EModeCategories = new Dictionary<int, AaveV3EModeCategoryInput>
            {
                [1] = new(1, 9000, 9300, 10100, EvmAddress.Parse("0x00000000000000000000000000000000000000c1"), 2_100_0000_0000, "eth"),
            },
        };
        var user = new AaveV3UserInput(User, new AaveV3UserConfiguration(0).WithCollateral(0, true).WithCollateral(1, true), 1,
        [
            new AaveV3UserReserveInput(0, 1_000_000_000, 0, 0, 0, 0),
            new AaveV3UserReserveInput(1, BigInteger.Pow(10, 18), 0, 0, 0, 0),
        ]);
        var result = AaveV3AccountCalculator.Calculate(market, user);
        Assert.Equal(new BigInteger(3_100_0000_0000), result.Data!.TotalCollateralBase); // 1,000 + 1 WETH at the category's 2,100
        Assert.Equal(9300, result.Lines.Single(l => l.Asset == Weth).LiquidationThresholdUsed);
        Assert.Equal(8500, result.Lines.Single(l => l.Asset == Usdc).LiquidationThresholdUsed);
    }

    [Fact]
    public void Calculate_InterestSinceLastUpdate_UsesCompoundedDebtAndLinearIncome()
    {
        const long year = 365 * 24 * 3600;
        var market = new AaveV3MarketInput(1_000 + year, [Reserve(0, Usdc, 6, 1_0000_0000, 8000, 8500) with { CurrentLiquidityRate = Ray / 10, CurrentVariableBorrowRate = Ray / 5 }], new Dictionary<int, AaveV3EModeCategoryInput>());
        var user = new AaveV3UserInput(User, new AaveV3UserConfiguration(0).WithCollateral(0, true).WithBorrowing(0, true), 0,
            [new AaveV3UserReserveInput(0, 1_000_000_000, 100_000_000, 0, 0, 0)]);
        var line = AaveV3AccountCalculator.Calculate(market, user).Lines.Single();
        Assert.Equal(new BigInteger(1_100_000_000), line.CollateralAmount); // linear: +10% over a year
        Assert.Equal(AaveV3Math.RayMul(100_000_000, AaveV3Math.CompoundedInterest(Ray / 5, 1_000, 1_000 + year)), line.DebtAmount);
        Assert.True(line.DebtAmount > 120_000_000, "compounded exceeds linear");
    }

    [Theory]
    [InlineData("950000000000000000", 10_000)]
    [InlineData("950000000000000001", 5_000)]
    [InlineData("100000000000000000", 10_000)]
    public void CloseFactor_AtAndAroundThe095Threshold(string health, int expected) =>
        Assert.Equal(expected, AaveV3LiquidationRules.CloseFactor(BigInteger.Parse(health)));

    [Fact]
    public void Quote_HealthyUser_IsRefused()
    {
        var user = new AaveV3UserInput(User, new AaveV3UserConfiguration(0).WithCollateral(1, true).WithBorrowing(0, true), 0,
        [
            new AaveV3UserReserveInput(0, 0, 1_000_000_000, 0, 0, 0),
            new AaveV3UserReserveInput(1, BigInteger.Pow(10, 18), 0, 0, 0, 0),
        ]);
        var quote = AaveV3LiquidationRules.Quote(Market(), user, Weth, Usdc, AaveV3Math.MaxUint256);
        Assert.False(quote.Allowed);
        Assert.Contains("not below 1", quote.RefusedBecause, StringComparison.Ordinal);
    }

    [Fact]
    public void Portfolio_AccountWithDebt_GivesCollateralDebtsAndVenueHealth()
    {
        var user = new AaveV3UserInput(User, new AaveV3UserConfiguration(0).WithCollateral(1, true).WithBorrowing(0, true), 0,
        [
            new AaveV3UserReserveInput(0, 0, 8_000_000_000, 0, 0, 0),
            new AaveV3UserReserveInput(1, BigInteger.Parse("10000000000000000000"), 0, 0, 0, 0),
        ]);
        var result = AaveV3AccountCalculator.Calculate(Market(), user);
        var chain = new ChainId(10);
        var block = new BlockRef(chain, 5, "0xabc");
        var view = AaveV3Portfolio.ToPortfolio(chain, block, result, a => a == Usdc ? new AssetId("USDC") : a == Weth ? new AssetId("ETH") : null);
        Assert.Equal("ETH", Assert.Single(view.Collateral).Asset.Symbol);
        Assert.Equal("10.000000000000000000", view.Collateral[0].Amount.ToString());
        Assert.Equal("USDC", Assert.Single(view.Debts).Asset.Symbol);
        Assert.Equal(8250, Assert.Single(view.CollateralTerms).LiquidationThreshold);
        Assert.Equal(2.0625m, view.Health.Health);
        Assert.Equal(AaveV3Portfolio.Venue, view.Health.Venue);
    }

    private static AaveV3MarketInput Market() => new(
        1_000,
        [Reserve(0, Usdc, 6, 1_0000_0000, 8000, 8500), Reserve(1, Weth, 18, 2_000_0000_0000, 8000, 8250)],
        new Dictionary<int, AaveV3EModeCategoryInput>());

    private static AaveV3ReserveInput Reserve(int id, EvmAddress asset, int decimals, long? price, int ltv, int threshold, int eMode = 0)
    {
        var config = new BigInteger(ltv) | (new BigInteger(threshold) << 16) | (new BigInteger(10500) << 32) | (new BigInteger(decimals) << 48)
                     | (BigInteger.One << 56) | (BigInteger.One << 58) | (new BigInteger(eMode) << 168);
        return new AaveV3ReserveInput(id, asset, new AaveV3ReserveConfiguration(config), Ray, 0, Ray, 0, 1_000, price);
    }
}
