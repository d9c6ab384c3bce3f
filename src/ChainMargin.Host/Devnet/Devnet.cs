using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Contracts.Erc20;
using ChainMargin.Contracts.Reference;
using ChainMargin.Host.Composition;

namespace ChainMargin.Host.Devnet;

/// <summary>One devnet chain: a name, a chain id and a port on 127.0.0.1.</summary>
public sealed record DevnetChain(string Name, ulong ChainId, int Port)
{
    public string RpcUrl => string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{Port}");
}

/// <summary>
/// The local devnet: three anvil chains with distinct chain ids, the reference protocol and Multicall3 deployed on
/// each, demo accounts whose positions span chains, and the deployed addresses written to the file the service reads
/// (.devnet/chains.json). `devnet down` stops what `devnet up` started.
/// </summary>
public static class Devnet
{
    public static readonly DevnetChain[] DefaultChains =
    [
        new("alpha", 31337, 8545),
        new("beta", 31338, 8546),
        new("gamma", 31339, 8547),
    ];

    /// <summary>Starts the chains as detached processes (they outlive this command), deploys, seeds, writes the file.</summary>
    public static async Task<IReadOnlyList<DeployedProtocol>> UpAsync(string directory, IReadOnlyList<DevnetChain> chains, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chains);
        ArgumentNullException.ThrowIfNull(output);
        Directory.CreateDirectory(directory);
        if (File.Exists(PidFile(directory)))
        {
            await DownAsync(directory, output).ConfigureAwait(false);
        }

        ForgetIndex(directory, output);

        var anvil = AnvilNode.FindAnvil();
        var pids = new List<int>();
        foreach (var chain in chains)
        {
            var log = Path.Combine(directory, $"anvil-{chain.ChainId}.log");
            var info = new ProcessStartInfo("setsid")
            {
                UseShellExecute = false,
                RedirectStandardInput = false,
                RedirectStandardOutput = false,
                RedirectStandardError = false,
            };
            foreach (var arg in new[] { "/bin/sh", "-c", $"exec \"{anvil}\" --host 127.0.0.1 --port {chain.Port} --chain-id {chain.ChainId} --gas-limit 60000000 --code-size-limit 100000 --silent > \"{log}\" 2>&1" })
            {
                info.ArgumentList.Add(arg);
            }

            using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start anvil");
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            pids.Add(FindPid(chain.Port) ?? process.Id);
        }

        await File.WriteAllLinesAsync(PidFile(directory), pids.Select(p => p.ToString(CultureInfo.InvariantCulture)), cancellationToken).ConfigureAwait(false);
        var deployed = new List<DeployedProtocol>();
        foreach (var chain in chains)
        {
            await WaitForRpcAsync(chain.RpcUrl, cancellationToken).ConfigureAwait(false);
            var protocol = await ReferenceProtocolDeployer.DeployAsync(chain.RpcUrl, DevAccounts.Deployer.PrivateKey, chain.ChainId, cancellationToken: cancellationToken).ConfigureAwait(false);
            deployed.Add(protocol);
            output.WriteLine($"devnet: chain {chain.Name} ({chain.ChainId}) on {chain.RpcUrl}: protocol deployed (vault {protocol.Vault})");
        }

        await DemoSeeder.SeedAsync(chains, deployed, output, cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(directory, "chains.json"), ChainsJson(chains, deployed), cancellationToken).ConfigureAwait(false);
        output.WriteLine($"devnet: addresses written to {Path.Combine(directory, "chains.json")}");
        return deployed;
    }

    public static async Task DownAsync(string directory, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var file = PidFile(directory);
        if (!File.Exists(file))
        {
            output.WriteLine("devnet: nothing to stop");
            return;
        }

        foreach (var line in await File.ReadAllLinesAsync(file).ConfigureAwait(false))
        {
            if (int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                try
                {
                    using var process = Process.GetProcessById(pid);
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync().ConfigureAwait(false);
                    output.WriteLine($"devnet: stopped anvil (pid {pid})");
                }
                catch (ArgumentException)
                {
                    // already gone
                }
            }
        }

        File.Delete(file);
        var chains = Path.Combine(directory, "chains.json");
        if (File.Exists(chains))
        {
            File.Delete(chains);
        }
    }

    /// <summary>Whether this directory's devnet runs: its files are there and every chain's process is alive.</summary>
    public static bool IsUp(string directory)
    {
        var file = PidFile(directory);
        if (!File.Exists(file) || !File.Exists(Path.Combine(directory, "chains.json")))
        {
            return false;
        }

        // Chains that died (a reboot, a kill) leave the files behind; a devnet with a dead chain is started afresh.
        var pids = File.ReadAllLines(file);
        return pids.Length > 0 && pids.All(line => int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && Alive(pid));
    }

    private static bool Alive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>The chain configuration the service reads: one entry per chain with every deployed address.</summary>
    public static string ChainsJson(IReadOnlyList<DevnetChain> chains, IReadOnlyList<DeployedProtocol> deployed)
    {
        ArgumentNullException.ThrowIfNull(chains);
        ArgumentNullException.ThrowIfNull(deployed);
        var array = new JsonArray();
        for (var i = 0; i < chains.Count; i++)
        {
            var p = deployed[i];
            var tokens = new JsonObject();
            foreach (var t in p.Tokens)
            {
                tokens[t.Symbol] = new JsonObject { ["Address"] = t.Address, ["Decimals"] = t.Decimals };
            }

            var spot = new JsonObject();
            var vol = new JsonObject();
            foreach (var f in p.Feeds)
            {
                (f.Kind == "spot" ? spot : vol)[f.Asset] = f.Address;
            }

            array.Add(new JsonObject
            {
                ["Name"] = chains[i].Name,
                ["ChainId"] = chains[i].ChainId,
                ["RpcUrls"] = new JsonArray(chains[i].RpcUrl),
                ["StartBlock"] = 0,
                ["Confirmations"] = 0,
                ["Contracts"] = new JsonObject
                {
                    ["Vault"] = p.Vault,
                    ["PerpMarket"] = p.PerpMarket,
                    ["OptionMarket"] = p.OptionMarket,
                    ["Liquidator"] = p.Liquidator,
                    ["Multicall3"] = p.Multicall3,
                    ["Tokens"] = tokens,
                    ["PriceFeeds"] = spot,
                    ["VolatilityFeeds"] = vol,
                },
            });
        }

        return new JsonObject { ["Chains"] = array }.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static string PidFile(string directory) => Path.Combine(directory, "anvil.pids");

    /// <summary>The embedded default's database in the devnet directory (config/chainmargin.json: Storage:ConnectionString).</summary>
    public const string IndexFile = "chainmargin.db";

    /// <summary>
    /// Deletes the index an earlier devnet left in this directory. Its chains are gone and a new devnet's blocks are not
    /// theirs (same heights, other hashes), so every watcher would halt on it, finding no common ancestor within the
    /// finality depth: the demo's second run after `devnet down`, or after the chains died, did exactly that.
    /// </summary>
    private static void ForgetIndex(string directory, TextWriter output)
    {
        foreach (var suffix in new[] { string.Empty, "-wal", "-shm", "-journal" })
        {
            var file = Path.Combine(directory, IndexFile + suffix);
            if (File.Exists(file))
            {
                File.Delete(file);
                output.WriteLine($"devnet: removed {file}, the index of the earlier devnet's chains");
            }
        }
    }

    private static int? FindPid(int port)
    {
        // setsid forks; find the anvil whose command line carries our port.
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var cmd = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                if (cmd.Length > 0 && cmd[0].EndsWith("anvil", StringComparison.Ordinal) &&
                    cmd.Contains(port.ToString(CultureInfo.InvariantCulture)))
                {
                    return pid;
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return null;
    }

    private static async Task WaitForRpcAsync(string url, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (var i = 0; i < 300; i++)
        {
            try
            {
                using var content = new StringContent("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_chainId\",\"params\":[]}", System.Text.Encoding.UTF8, "application/json");
                using var response = await http.PostAsync(new Uri(url), content, cancellationToken).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }

        throw new TimeoutException($"anvil at {url} did not answer within 30 s (is the port taken?)");
    }
}

/// <summary>
/// Demo accounts whose positions span chains: collateral on one chain, perps on another, options on a third.
/// </summary>
public static class DemoSeeder
{
    public sealed record DemoAccount(string Name, string Address, string Story);

    public static IReadOnlyList<DemoAccount> Accounts { get; } =
    [
        new("alice", DevAccounts.Traders[0].Address, "10 WETH + 20,000 USDC on alpha, long 20 ETH-PERP on beta, long 10 ETH calls on gamma"),
        new("bob", DevAccounts.Traders[1].Address, "1.5 WETH on alpha, long 30 ETH-PERP on beta: close to maintenance"),
        new("carol", DevAccounts.Traders[2].Address, "0.5 WBTC on alpha and 10,000 USDC on gamma, short 0.5 BTC-PERP on beta"),
    ];

    public static async Task SeedAsync(IReadOnlyList<DevnetChain> chains, IReadOnlyList<DeployedProtocol> deployed, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chains);
        ArgumentNullException.ThrowIfNull(deployed);
        ArgumentNullException.ThrowIfNull(output);
        var (alpha, beta, gamma) = (0, 1, 2 % chains.Count);
        var alice = DevAccounts.Traders[0];
        var bob = DevAccounts.Traders[1];
        var carol = DevAccounts.Traders[2];

        await DepositAsync(chains[alpha], deployed[alpha], alice, "WETH", Units(10, 18), cancellationToken).ConfigureAwait(false);
        await DepositAsync(chains[alpha], deployed[alpha], alice, "USDC", Units(20_000, 6), cancellationToken).ConfigureAwait(false);
        await TradePerpAsync(chains[beta], deployed[beta], alice, "ETH", Units(20, 18), cancellationToken).ConfigureAwait(false);
        await BuyCallsAsync(chains[gamma], deployed[gamma], alice, cancellationToken).ConfigureAwait(false);

        await DepositAsync(chains[alpha], deployed[alpha], bob, "WETH", Units(15, 17), cancellationToken).ConfigureAwait(false);
        await TradePerpAsync(chains[beta], deployed[beta], bob, "ETH", Units(30, 18), cancellationToken).ConfigureAwait(false);

        await DepositAsync(chains[alpha], deployed[alpha], carol, "WBTC", Units(5, 7), cancellationToken).ConfigureAwait(false);
        await DepositAsync(chains[gamma], deployed[gamma], carol, "USDC", Units(10_000, 6), cancellationToken).ConfigureAwait(false);
        await TradePerpAsync(chains[beta], deployed[beta], carol, "BTC", -Units(5, 17), cancellationToken).ConfigureAwait(false);
        output.WriteLine($"devnet: seeded {Accounts.Count} demo accounts across {chains.Count} chains");
    }

    public static BigInteger Units(long whole, int decimals) => whole * BigInteger.Pow(10, decimals);

    public static async Task DepositAsync(DevnetChain chain, DeployedProtocol protocol, DevAccount account, string symbol, BigInteger amount, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chain);
        ArgumentNullException.ThrowIfNull(protocol);
        ArgumentNullException.ThrowIfNull(account);
        var tx = await DevnetSender.CreateAsync(chain.RpcUrl, account.PrivateKey, chain.ChainId, cancellationToken).ConfigureAwait(false);
        var token = protocol.Token(symbol).Address;
        await tx.SendAsync(token, new MintFunction { To = account.Address, Amount = amount }, $"mint {symbol}", cancellationToken).ConfigureAwait(false);
        await tx.SendAsync(token, new ApproveFunction { Spender = protocol.Vault, Amount = amount }, $"approve {symbol}", cancellationToken).ConfigureAwait(false);
        await tx.SendAsync(protocol.Vault, new DepositFunction { Token = token, Amount = amount }, $"deposit {symbol}", cancellationToken).ConfigureAwait(false);
        await tx.VerifyAsync(cancellationToken).ConfigureAwait(false);
    }

    public static async Task TradePerpAsync(DevnetChain chain, DeployedProtocol protocol, DevAccount account, string underlying, BigInteger sizeDelta, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chain);
        ArgumentNullException.ThrowIfNull(protocol);
        ArgumentNullException.ThrowIfNull(account);
        var tx = await DevnetSender.CreateAsync(chain.RpcUrl, account.PrivateKey, chain.ChainId, cancellationToken).ConfigureAwait(false);
        var market = protocol.PerpMarketFor(underlying);
        await tx.SendAsync(protocol.PerpMarket, new PerpTradeFunction { MarketId = market.MarketId, SizeDelta = sizeDelta }, $"trade {market.Name}", cancellationToken).ConfigureAwait(false);
        await tx.VerifyAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task BuyCallsAsync(DevnetChain chain, DeployedProtocol protocol, DevAccount account, CancellationToken cancellationToken)
    {
        var owner = await DevnetSender.CreateAsync(chain.RpcUrl, DevAccounts.Deployer.PrivateKey, chain.ChainId, cancellationToken).ConfigureAwait(false);
        var block = await owner.Web3.Eth.Blocks.GetBlockWithTransactionsHashesByNumber.SendRequestAsync(Nethereum.RPC.Eth.DTOs.BlockParameter.CreateLatest()).ConfigureAwait(false);
        var expiry = (ulong)block.Timestamp.Value + (30UL * 24 * 3600);
        await owner.SendAsync(protocol.OptionMarket, new ListSeriesFunction
        {
            Feed = protocol.SpotFeed("ETH"), Symbol = "ETH", Strike = ReferenceProtocolDeployer.ToFeedUnits(3200m), Expiry = expiry, IsCall = true,
        }, "list ETH call", cancellationToken).ConfigureAwait(false);
        await owner.VerifyAsync(cancellationToken).ConfigureAwait(false);

        // The premium (about 150 USD per ETH) is paid from the buyer's USDC in the vault on this chain.
        await DepositAsync(chain, protocol, account, "USDC", Units(5_000, 6), cancellationToken).ConfigureAwait(false);
        var tx = await DevnetSender.CreateAsync(chain.RpcUrl, account.PrivateKey, chain.ChainId, cancellationToken).ConfigureAwait(false);
        await tx.SendAsync(protocol.OptionMarket, new OptionTradeFunction { SeriesId = 1, SizeDelta = Units(10, 18), PremiumPerUnit = Units(150, 6) }, "buy ETH calls", cancellationToken).ConfigureAwait(false);
        await tx.VerifyAsync(cancellationToken).ConfigureAwait(false);
    }
}
