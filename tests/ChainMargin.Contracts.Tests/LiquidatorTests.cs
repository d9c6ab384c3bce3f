using System.Numerics;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Contracts.Reference;
using ChainMargin.Core;
using ChainMargin.Testing;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.RPC.Eth.DTOs;
using Xunit;

namespace ChainMargin.Contracts.Tests;

public sealed class LiquidatorTests(AnvilProtocolFixture fixture) : ProtocolTestBase(fixture), IClassFixture<AnvilProtocolFixture>
{
    private static readonly BigInteger Unhealthy = BigInteger.Parse("930000000000000000"); // 0.93

    [Fact]
    public async Task Liquidate_ValidAttestation_ClosesPerpsAndSeizesWithTheKeepersBonus()
    {
        // Alice: 1000 USDC, 0.5 WETH, 0.01 WBTC; long 1 ETH at 3000 and short 0.1 BTC at 60000.
        await FundAndDepositAsync(Alice, P.Usdc, Usdc(1_000m));
        await FundAndDepositAsync(Alice, P.Weth, Units18(0.5m));
        await FundAndDepositAsync(Alice, P.Wbtc, 1_000_000);
        await SendAsync(Alice, P.PerpMarket, new PerpTradeFunction { MarketId = 1, SizeDelta = OneUnit });
        await SendAsync(Alice, P.PerpMarket, new PerpTradeFunction { MarketId = 2, SizeDelta = -Units18(0.1m) });
        await SetPriceAsync(P.SpotFeed("ETH"), 2500m); // -500
        await SetPriceAsync(P.SpotFeed("BTC"), 61_000m); // -100

        var before = await BalancesAsync();
        var signed = await SignAsync(Alice.Address, Unhealthy, nonce: 1);
        var receipt = await LiquidateAsync(Keeper, signed);

        // Both perps closed at the feeds' prices with their PnL settled first.
        var closes = Events<PositionChangedEventDto>(receipt).Select(e => e.Event).OrderBy(e => e.MarketId).ToArray();
        Assert.Equal(2, closes.Length);
        Assert.All(closes, c => Assert.Equal(BigInteger.Zero, c.NewSize));
        Assert.Equal(-Usdc(500m), closes[0].RealizedPnl);
        Assert.Equal(-Usdc(100m), closes[1].RealizedPnl);
        Assert.Empty(await QueryAsync<OpenMarketsFunction, List<BigInteger>>(P.PerpMarket, new OpenMarketsFunction { Account = Alice.Address }));

        // What is left (400 USDC, 0.5 WETH, 0.01 WBTC) is seized: 5% to the keeper, 95% to the insurance fund.
        var expected = new Dictionary<string, BigInteger> { [P.Usdc] = Usdc(400m), [P.Weth] = Units18(0.5m), [P.Wbtc] = 1_000_000 };
        var after = await BalancesAsync();
        foreach (var (token, left) in expected)
        {
            var bonus = left * 500 / 10_000;
            Assert.Equal(before.Keeper[token] + bonus, after.Keeper[token]);
            Assert.Equal(before.Insurance[token] + left - bonus, after.Insurance[token]);
            Assert.Equal(BigInteger.Zero, await VaultBalanceAsync(Alice.Address, token));
        }

        Assert.Equal(Usdc(20m), after.Keeper[P.Usdc] - before.Keeper[P.Usdc]);
        var seized = Events<SeizedEventDto>(receipt).Select(e => e.Event).ToArray();
        Assert.Equal(6, seized.Length);
        Assert.All(seized, s => Assert.Equal(Alice.Address, s.Account.ToLowerInvariant()));
        Assert.Equal(3, seized.Count(s => s.To.Equals(Keeper.Address, StringComparison.OrdinalIgnoreCase)));

        var liquidated = Assert.Single(Events<LiquidatedEventDto>(receipt)).Event;
        Assert.Equal(Alice.Address, liquidated.Account.ToLowerInvariant());
        Assert.Equal(Keeper.Address, liquidated.Keeper.ToLowerInvariant());
        Assert.Equal(Unhealthy, liquidated.Health);
        Assert.Equal(BigInteger.One, liquidated.Nonce);
        Assert.Equal(signed.Attestation.BlockVectorHash.ToHex(), liquidated.BlockVectorHash.ToHex());
        Assert.True(await QueryAsync<UsedNoncesFunction, bool>(P.Liquidator, new UsedNoncesFunction { AttestationNonce = 1 }));
    }

    [Fact]
    public async Task Liquidate_SignedByAnotherKey_RevertsBadSignature()
    {
        await FundAndDepositAsync(Alice, P.Usdc, Usdc(100m));
        var forger = new AttestationSigner(Bob.PrivateKey, Fixture.ChainId, P.Liquidator);
        var attestation = AttestationSigner.Create(EvmAddress.Parse(Alice.Address), Unhealthy, Vector(), await DeadlineAsync(), 7);
        await ExpectRevertAsync(Keeper, P.Liquidator, Call(forger.Sign(attestation)), "bad signature");

        // A genuine signature over different contents is just as bad.
        var genuine = await SignAsync(Alice.Address, Unhealthy, nonce: 7);
        genuine.Attestation.Health = Unhealthy - 1;
        await ExpectRevertAsync(Keeper, P.Liquidator, Call(genuine), "bad signature");

        // So is a signature for another chain's liquidator (another EIP-712 domain).
        var otherChain = new AttestationSigner(DevAccounts.RiskSigner.PrivateKey, Fixture.ChainId + 1, P.Liquidator);
        await ExpectRevertAsync(Keeper, P.Liquidator, Call(otherChain.Sign(attestation)), "bad signature");
        Assert.Equal(Usdc(100m), await VaultBalanceAsync(Alice.Address, P.Usdc));
    }

    [Fact]
    public async Task Liquidate_PastDeadline_RevertsExpired()
    {
        var now = (await Fixture.Rpc.BlockAsync()).Timestamp;
        var signer = new AttestationSigner(DevAccounts.RiskSigner.PrivateKey, Fixture.ChainId, P.Liquidator);
        var attestation = AttestationSigner.Create(EvmAddress.Parse(Alice.Address), Unhealthy, Vector(), now - 1, 8);
        await ExpectRevertAsync(Keeper, P.Liquidator, Call(signer.Sign(attestation)), "expired");
    }

    [Fact]
    public async Task Liquidate_SameNonceTwice_RevertsReplayed()
    {
        await FundAndDepositAsync(Alice, P.Usdc, Usdc(100m));
        var signed = await SignAsync(Alice.Address, Unhealthy, nonce: 9);
        await LiquidateAsync(Keeper, signed);

        await FundAndDepositAsync(Alice, P.Usdc, Usdc(100m));
        await ExpectRevertAsync(Keeper, P.Liquidator, Call(signed), "replayed");
        // The nonce is spent for every account, not per account.
        await ExpectRevertAsync(Keeper, P.Liquidator, Call(await SignAsync(Bob.Address, Unhealthy, nonce: 9)), "replayed");
        Assert.Equal(Usdc(100m), await VaultBalanceAsync(Alice.Address, P.Usdc));
    }

    [Fact]
    public async Task Liquidate_HealthAtOrAboveOne_RevertsHealthy()
    {
        await ExpectRevertAsync(Keeper, P.Liquidator, Call(await SignAsync(Alice.Address, AttestationSigner.Wad, nonce: 10)), "healthy");
        await ExpectRevertAsync(Keeper, P.Liquidator, Call(await SignAsync(Alice.Address, AttestationSigner.Wad * 2, nonce: 10)), "healthy");
        // Just below 1.0 passes.
        await LiquidateAsync(Keeper, await SignAsync(Alice.Address, AttestationSigner.Wad - 1, nonce: 10));
    }

    [Fact]
    public async Task Sign_Digest_EqualsTheContractsEip712Digest()
    {
        var signer = new AttestationSigner(DevAccounts.RiskSigner.PrivateKey, Fixture.ChainId, P.Liquidator);
        Assert.Equal(DevAccounts.RiskSigner.Address, signer.SignerAddress);
        var attestation = AttestationSigner.Create(EvmAddress.Parse(Bob.Address), 123_456_789, Vector(), 1_900_000_000, 42);
        var onChain = await QueryAsync<AttestationDigestFunction, byte[]>(P.Liquidator, new AttestationDigestFunction { Attestation = attestation });
        Assert.Equal(onChain.ToHex(), signer.Digest(attestation).ToHex());
        var signature = signer.Sign(attestation).Signature;
        Assert.Equal(65, signature.Length);
        Assert.Contains(signature[64], new byte[] { 27, 28 });
    }

    [Fact]
    public async Task SetRiskSigner_RotatesTheKeyTheLiquidatorTrusts()
    {
        await ExpectRevertAsync(Alice, P.Liquidator, new SetRiskSignerFunction { NewSigner = Alice.Address }, "not owner");
        var newSigner = DevAccounts.Traders[5];
        var receipt = await SendAsync(Deployer, P.Liquidator, new SetRiskSignerFunction { NewSigner = newSigner.Address });
        Assert.Equal(newSigner.Address, Assert.Single(Events<RiskSignerChangedEventDto>(receipt)).Event.NewSigner.ToLowerInvariant());

        await ExpectRevertAsync(Keeper, P.Liquidator, Call(await SignAsync(Alice.Address, Unhealthy, nonce: 11)), "bad signature");
        var rotated = new AttestationSigner(newSigner.PrivateKey, Fixture.ChainId, P.Liquidator);
        var attestation = AttestationSigner.Create(EvmAddress.Parse(Alice.Address), Unhealthy, Vector(), await DeadlineAsync(), 11);
        await LiquidateAsync(Keeper, rotated.Sign(attestation));
    }

    private static BlockVector Vector() =>
        new([new BlockRef(new ChainId(31337), 12, "0x" + new string('a', 64)), new BlockRef(new ChainId(2002), 40, "0x" + new string('b', 64))]);

    private async Task<long> DeadlineAsync() => (await Fixture.Rpc.BlockAsync()).Timestamp + 3600;

    private async Task<SignedAttestation> SignAsync(string account, BigInteger health, BigInteger nonce)
    {
        var signer = new AttestationSigner(DevAccounts.RiskSigner.PrivateKey, Fixture.ChainId, P.Liquidator);
        return signer.Sign(AttestationSigner.Create(EvmAddress.Parse(account), health, Vector(), await DeadlineAsync(), nonce));
    }

    private static LiquidateFunction Call(SignedAttestation signed) => new() { Attestation = signed.Attestation, Signature = signed.Signature };

    private Task<TransactionReceipt> LiquidateAsync(DevAccount keeper, SignedAttestation signed) => SendAsync(keeper, P.Liquidator, Call(signed));

    private async Task<(Dictionary<string, BigInteger> Keeper, Dictionary<string, BigInteger> Insurance)> BalancesAsync()
    {
        var keeper = new Dictionary<string, BigInteger>();
        var insurance = new Dictionary<string, BigInteger>();
        foreach (var token in P.Tokens)
        {
            keeper[token.Address] = await TokenBalanceAsync(token.Address, Keeper.Address);
            insurance[token.Address] = await TokenBalanceAsync(token.Address, P.InsuranceFund);
        }

        return (keeper, insurance);
    }
}
