using System.Diagnostics;
using System.Text.Json;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Contracts.Reference;
using ChainMargin.Core;
using Nethereum.Signer;
using Xunit;

namespace ChainMargin.Contracts.Tests;

public sealed class ArtifactsTests
{
    private static readonly string[] Expected = ["Liquidator", "MarginVault", "Multicall3", "OptionMarket", "PerpMarket", "PriceFeed", "TestToken"];

    /// <summary>The committed artifacts must be exactly what the pinned solc makes of contracts/src today.</summary>
    [Fact]
    public async Task Artifacts_EqualAFreshCompileOfTheSources()
    {
        var root = RepositoryPaths.Root();
        var info = new ProcessStartInfo("node", "contracts/build.js --check")
        {
            WorkingDirectory = root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"build.js --check exited {process.ExitCode}:\n{await stdout}\n{await stderr}");
        Assert.Contains($"({Expected.Length} contracts)", await stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Artifacts_EmbedEveryDeployableContract()
    {
        Assert.Equal(Expected, Artifacts.Names);
        foreach (var name in Expected)
        {
            var artifact = Artifacts.Get(name);
            Assert.Equal(name, artifact.Name);
            Assert.StartsWith("0.8.37+", artifact.Compiler, StringComparison.Ordinal);
            Assert.Matches("^0x([0-9a-f]{2})+$", artifact.Bytecode);
            Assert.Matches("^0x([0-9a-f]{2})+$", artifact.DeployedBytecode);
            // Creation code returns the runtime code, so it embeds it (immutables aside) and is longer.
            Assert.True(artifact.Bytecode.Length > artifact.DeployedBytecode.Length && artifact.DeployedBytecode.Length > 100);
            Assert.Equal(JsonValueKind.Array, JsonDocument.Parse(artifact.Abi).RootElement.ValueKind);
        }

        Assert.Throws<KeyNotFoundException>(() => Artifacts.Get("Nope"));
    }

    [Fact]
    public void DevAccounts_KeysDeriveTheirAddresses()
    {
        foreach (var account in DevAccounts.All)
        {
            Assert.Equal(account.Address, new EthECKey(account.PrivateKey).GetPublicAddress().ToLowerInvariant());
        }

        Assert.Equal(AnvilNode.DeployerKey, DevAccounts.Deployer.PrivateKey);
    }

    /// <summary>Reference value from an independent keccak-256 (js-sha3 0.8) over "1:120:0xaa;10:7:0xbb".</summary>
    [Fact]
    public void BlockVectorHash_IsKeccakOfTheCanonicalText()
    {
        var vector = new BlockVector([new BlockRef(new ChainId(10), 7, "0xbb"), new BlockRef(new ChainId(1), 120, "0xaa")]);
        Assert.Equal("1:120:0xaa;10:7:0xbb", vector.Canonical());
        Assert.Equal("0xbbe1e0cb5935ab2548ab00aff95a4279de1e31c8979fb2c6fd77e252f3cf3183", BlockVectorHash.ComputeHex(vector));
        Assert.Equal(32, BlockVectorHash.Compute(new BlockVector()).Length);
    }
}
