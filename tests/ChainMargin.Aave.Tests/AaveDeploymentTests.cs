using System.Diagnostics;
using System.Numerics;
using ChainMargin.Contracts.Aave;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Risk.Aave;
using Nethereum.Contracts;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Web3;
using Xunit;
using Xunit.Abstractions;

namespace ChainMargin.Aave.Tests;

public sealed class AaveDeploymentTests(ITestOutputHelper output)
{
    [Fact]
    public async Task DeployAsync_RealArtifacts_ListsThreeReservesWithTheirConfiguration()
    {
        await using var node = await AnvilNode.StartAsync(31_401);
        var watch = Stopwatch.StartNew();
        var deployment = await AaveV3Deployer.DeployAsync(node.RpcUrl, node.ChainId, AnvilNode.DeployerKey);
        watch.Stop();
        output.WriteLine($"deployed in {watch.ElapsedMilliseconds} ms, {deployment.TransactionCount} transactions, blocks {deployment.FirstBlock}-{deployment.LastBlock}");

        var web3 = new Web3(node.RpcUrl);
        var code = await web3.Eth.GetCode.SendRequestAsync(deployment.Pool.Value);
        Assert.True(code.Length > 1000, "the Pool proxy has code");

        Assert.Equal(["USDC", "WBTC", "WETH"], deployment.Reserves.Select(r => r.Symbol));
        foreach (var (reserve, spec) in deployment.Reserves.Zip(AaveV3DeployOptions.Default.Reserves))
        {
            var hex = await web3.Eth.Transactions.Call.SendRequestAsync(
                new CallInput(new PoolGetReserveDataFunction { Asset = reserve.Asset.Value }.GetCallData().ToHexCompact(), deployment.Pool.Value),
                BlockParameter.CreateLatest());
            var data = AaveV3Abi.DecodeReserveData(hex);
            var config = new AaveV3ReserveConfiguration(data.Configuration);
            Assert.Equal(spec.Decimals, config.Decimals);
            Assert.Equal(spec.Ltv, config.Ltv);
            Assert.Equal(spec.LiquidationThreshold, config.LiquidationThreshold);
            Assert.Equal(spec.LiquidationBonus, config.LiquidationBonus);
            Assert.Equal(spec.LiquidationProtocolFee, config.LiquidationProtocolFee);
            Assert.True(config.IsActive && config.BorrowingEnabled);
            Assert.Equal(BigInteger.Pow(10, 27), data.LiquidityIndex);
        }

        Assert.Equal(1, new AaveV3ReserveConfiguration(await ConfigOf(web3, deployment, "WETH")).EModeCategory);
        Assert.Equal(2, new AaveV3ReserveConfiguration(await ConfigOf(web3, deployment, "WBTC")).EModeCategory);
    }

    private static async Task<BigInteger> ConfigOf(Web3 web3, AaveDeployment deployment, string symbol)
    {
        var hex = await web3.Eth.Transactions.Call.SendRequestAsync(
            new CallInput(new PoolGetReserveDataFunction { Asset = deployment.Reserve(symbol).Asset.Value }.GetCallData().ToHexCompact(), deployment.Pool.Value),
            BlockParameter.CreateLatest());
        return AaveV3Abi.DecodeReserveData(hex).Configuration;
    }
}

internal static class HexExtensions
{
    public static string ToHexCompact(this byte[] bytes) => "0x" + Convert.ToHexString(bytes).ToLowerInvariant();
}
