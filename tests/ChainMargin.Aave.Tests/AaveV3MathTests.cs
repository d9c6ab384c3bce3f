using System.Numerics;
using ChainMargin.Contracts.Aave;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Indexing.Rpc;
using ChainMargin.Risk.Aave;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Contracts;
using Xunit;

namespace ChainMargin.Aave.Tests;

public sealed class AaveV3MathTests
{
    private static readonly BigInteger Ray = BigInteger.Pow(10, 27);

    /// <summary>
    /// Reference: the package's own WadRayMathWrapper (the deployed library code) on anvil, for a spread of
    /// magnitudes, including exact halves where rounding direction shows.
    /// </summary>
    [Fact]
    public async Task WadRayMath_ManyInputs_EqualsThePackagesWrapperOnChain()
    {
        await using var node = await AnvilNode.StartAsync(31_403);
        var artifact = AaveV3Artifacts.Load().Get("WadRayMathWrapper");
        var tx = new AaveV3Transactor(node.RpcUrl, node.ChainId, AnvilNode.DeployerKey);
        var wrapper = await tx.DeployAsync(artifact, artifact.Bytecode, CancellationToken.None);
        using var rpc = new JsonRpcClient([node.RpcUrl]);

        var random = new Random(20_240_601);
        var cases = new List<(string Op, BigInteger A, BigInteger B)>();
        for (var i = 0; i < 150; i++)
        {
            var a = RandomBig(random, random.Next(1, 40));
            var b = RandomBig(random, random.Next(1, 30)) + 1;
            foreach (var op in new[] { "wadMul", "wadDiv", "rayMul", "rayDiv" })
            {
                cases.Add((op, a, b));
            }

            cases.Add(("rayToWad", a, 0));
        }

        // Exact halves: x.5 must round up.
        cases.Add(("rayMul", Ray / 2, 1));
        cases.Add(("wadMul", BigInteger.Pow(10, 18) / 2, 1));
        cases.Add(("rayDiv", 1, 2 * Ray));
        cases.Add(("rayToWad", 500_000_000, 0));

        var requests = cases.Select(c => Call(wrapper, c.Op, c.A, c.B)).ToList();
        var answers = await rpc.BatchAsync(requests, CancellationToken.None);
        for (var i = 0; i < cases.Count; i++)
        {
            var (op, a, b) = cases[i];
            var expected = AaveV3Abi.Word(answers[i].GetString()!, 0);
            var actual = op switch
            {
                "wadMul" => AaveV3Math.WadMul(a, b),
                "wadDiv" => AaveV3Math.WadDiv(a, b),
                "rayMul" => AaveV3Math.RayMul(a, b),
                "rayDiv" => AaveV3Math.RayDiv(a, b),
                _ => AaveV3Math.RayToWad(a),
            };
            Assert.True(expected == actual, $"{op}({a}, {b}): chain {expected}, ours {actual}");
        }

        // Overflow: the library reverts; we throw.
        var huge = AaveV3Math.MaxUint256 / 3;
        await Assert.ThrowsAsync<RpcNodeException>(() => rpc.BatchAsync([Call(wrapper, "rayMul", huge, 10)], CancellationToken.None));
        Assert.Throws<OverflowException>(() => AaveV3Math.RayMul(huge, 10));
    }

    /// <summary>Reference values: the MathUtils formulas evaluated with Python 3's exact integers (independent code).</summary>
    [Theory]
    [InlineData("50000000000000000000000000", 31_536_000, "1051265681539063650421944000")]
    [InlineData("1500000000000000000000000000", 2_592_000, "1131199917607900098106687123")]
    public void CompoundedInterest_KnownRates_MatchIndependentComputation(string rate, long seconds, string expected)
    {
        Assert.Equal(BigInteger.Parse(expected), AaveV3Math.CompoundedInterest(BigInteger.Parse(rate), 1_000, 1_000 + seconds));
        Assert.Equal(Ray, AaveV3Math.CompoundedInterest(BigInteger.Parse(rate), 1_000, 1_000));
    }

    [Fact]
    public void LinearInterest_TwoWeeksAt3Point7Percent_MatchesIndependentComputation() =>
        Assert.Equal(BigInteger.Parse("1001419178082191780821917808"), AaveV3Math.LinearInterest(37 * Ray / 1000, 0, 14 * 24 * 3600));

    [Theory]
    [InlineData(12345, 8250, 10185)]
    [InlineData(1, 5000, 1)]
    [InlineData(3, 5000, 2)]
    public void PercentMul_HalfUp(long value, long percentage, long expected) =>
        Assert.Equal(new BigInteger(expected), AaveV3Math.PercentMul(value, percentage));

    [Fact]
    public void Timestamps_BeforeLastUpdate_AreRefusedLikeTheContractsCheckedSubtraction() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => AaveV3Math.LinearInterest(Ray, 100, 99));

    private static BigInteger RandomBig(Random random, int digits)
    {
        var text = new char[digits];
        text[0] = (char)('1' + random.Next(9));
        for (var i = 1; i < digits; i++)
        {
            text[i] = (char)('0' + random.Next(10));
        }

        return BigInteger.Parse(new string(text));
    }

    private static RpcRequest Call(string wrapper, string op, BigInteger a, BigInteger b)
    {
        byte[] data = op switch
        {
            "rayToWad" => new UnaryFunction { A = a }.GetCallData(),
            _ => new BinaryFunction { A = a, B = b }.GetCallData(),
        };
        var selector = Nethereum.Util.Sha3Keccack.Current.CalculateHash(System.Text.Encoding.ASCII.GetBytes(op == "rayToWad" ? "rayToWad(uint256)" : op + "(uint256,uint256)"));
        Array.Copy(selector, data, 4);
        return new RpcRequest("eth_call", [new Dictionary<string, string> { ["to"] = wrapper, ["data"] = "0x" + Convert.ToHexStringLower(data) }, "latest"]);
    }

    // Argument encoding only; the selector is replaced per operation above.
    [Function("op")]
    private sealed class BinaryFunction : FunctionMessage
    {
        [Parameter("uint256", "a", 1)] public BigInteger A { get; set; }

        [Parameter("uint256", "b", 2)] public BigInteger B { get; set; }
    }

    [Function("op")]
    private sealed class UnaryFunction : FunctionMessage
    {
        [Parameter("uint256", "a", 1)] public BigInteger A { get; set; }
    }
}
