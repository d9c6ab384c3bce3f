using ChainMargin.Contracts.Devnet;
using ChainMargin.Host.Devnet;
using HostDevnet = ChainMargin.Host.Devnet.Devnet;

namespace ChainMargin.EndToEnd.Tests;

/// <summary>`devnet up` and `devnet down` on real anvil chains, in a directory of their own on free ports.</summary>
public sealed class DevnetTests
{
    [Fact]
    public async Task Up_InADirectoryHoldingAnEarlierDevnetsIndex_StartsWithoutIt_ADeadChainMakesItDown_AndDownStopsTheChains()
    {
        var directory = Path.Combine(Path.GetTempPath(), "cm-devnet-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var index = Path.Combine(directory, HostDevnet.IndexFile);
        var wal = index + "-wal";
        var other = Path.Combine(directory, "notes.txt");
        foreach (var file in new[] { index, wal, other })
        {
            await File.WriteAllTextAsync(file, "left by an earlier devnet");
        }

        DevnetChain[] chains = [new("one", 41_201, AnvilNode.FreePort()), new("two", 41_202, AnvilNode.FreePort())];
        var output = new StringWriter();
        try
        {
            var deployed = await HostDevnet.UpAsync(directory, chains, output, CancellationToken.None);

            Assert.Equal(2, deployed.Count);
            Assert.False(File.Exists(index), "the earlier devnet's index is gone");
            Assert.False(File.Exists(wal), "and its write-ahead log");
            Assert.True(File.Exists(other), "nothing else in the directory is touched");
            Assert.Contains($"removed {index}", output.ToString(), StringComparison.Ordinal);
            Assert.True(HostDevnet.IsUp(directory));
            var written = await File.ReadAllTextAsync(Path.Combine(directory, "chains.json"));
            Assert.Contains("41201", written, StringComparison.Ordinal);
            Assert.Contains("41202", written, StringComparison.Ordinal);

            // One chain dies and leaves the files behind: the devnet is not up, and the next `up` starts it afresh,
            // again without the index of the chains that were.
            await File.WriteAllTextAsync(index, "indexed the chains that died");
            var pids = (await File.ReadAllLinesAsync(Path.Combine(directory, "anvil.pids"))).Select(int.Parse).ToList();
            using (var first = System.Diagnostics.Process.GetProcessById(pids[0]))
            {
                first.Kill();
                await first.WaitForExitAsync();
            }

            Assert.False(HostDevnet.IsUp(directory), "a devnet with a dead chain is not up");
            await HostDevnet.UpAsync(directory, chains, output, CancellationToken.None);
            Assert.True(HostDevnet.IsUp(directory));
            Assert.False(File.Exists(index), "the index of the chains that died is gone");
        }
        finally
        {
            await HostDevnet.DownAsync(directory, output);
        }

        Assert.False(HostDevnet.IsUp(directory));
        foreach (var chain in chains)
        {
            using var http = new HttpClient();
            await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(new Uri(chain.RpcUrl)));
        }

        Directory.Delete(directory, recursive: true);
    }
}
