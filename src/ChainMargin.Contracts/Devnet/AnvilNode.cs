using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ChainMargin.Contracts.Devnet;

/// <summary>
/// One anvil process on 127.0.0.1 with its own chain id. anvil comes from the pinned npm package
/// @foundry-rs/anvil-linux-amd64 installed under contracts/node_modules.
/// </summary>
public sealed class AnvilNode : IAsyncDisposable
{
    /// <summary>The first of anvil's default dev accounts (mnemonic "test test ... junk"): the deployer and owner.</summary>
    public const string DeployerKey = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private AnvilNode(Process process, ulong chainId, int port)
    {
        _process = process;
        ChainId = chainId;
        Port = port;
    }

    public ulong ChainId { get; }

    public int Port { get; }

    public string RpcUrl => string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{Port}");

    public int ProcessId => _process.Id;

    /// <summary>Starts anvil and waits until it answers eth_chainId. Port 0 picks a free port.</summary>
    public static async Task<AnvilNode> StartAsync(ulong chainId, int port = 0, string? stateFile = null, string? extraArgs = null, CancellationToken cancellationToken = default)
    {
        // A free port can be taken by another process between our probe and anvil's bind (tests start many nodes
        // at once); then anvil exits, or another node answers with another chain id. Try again on a new port.
        for (var attempt = 1; ; attempt++)
        {
            var node = await TryStartAsync(chainId, port == 0 ? FreePort() : port, stateFile, extraArgs, cancellationToken).ConfigureAwait(false);
            if (node.Answered == chainId)
            {
                return node;
            }

            await node.DisposeAsync().ConfigureAwait(false);
            if (port != 0 || attempt >= 5)
            {
                throw new InvalidOperationException(
                    $"anvil for chain {chainId} did not come up on port {node.Port} (answered chain id {node.Answered?.ToString(CultureInfo.InvariantCulture) ?? "none"}): {node.RecentOutput()}");
            }
        }
    }

    private ulong? Answered { get; set; }

    private static async Task<AnvilNode> TryStartAsync(ulong chainId, int port, string? stateFile, string? extraArgs, CancellationToken cancellationToken)
    {
        var binary = FindAnvil();

        var args = string.Create(CultureInfo.InvariantCulture,
            $"--host 127.0.0.1 --port {port} --chain-id {chainId} --silent --gas-limit 60000000 --code-size-limit 100000");
        if (stateFile is not null)
        {
            args += $" --state \"{stateFile}\"";
        }

        if (extraArgs is not null)
        {
            args += " " + extraArgs;
        }

        var info = new ProcessStartInfo(binary, args)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {binary}");
        var node = new AnvilNode(process, chainId, port);
        process.OutputDataReceived += (_, e) => node.Append(e.Data);
        process.ErrorDataReceived += (_, e) => node.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        node.Answered = await node.WaitReadyAsync(cancellationToken).ConfigureAwait(false);
        return node;
    }

    /// <summary>Finds the anvil binary: $ANVIL_PATH, else contracts/node_modules above the working or base directory.</summary>
    public static string FindAnvil()
    {
        var fromEnv = Environment.GetEnvironmentVariable("ANVIL_PATH");
        if (!string.IsNullOrEmpty(fromEnv))
        {
            return fromEnv;
        }

        var relative = Path.Combine("contracts", "node_modules", "@foundry-rs", "anvil-linux-amd64", "bin", "anvil");
        var found = RepositoryPaths.FindUp(relative);
        return found ?? throw new FileNotFoundException(
            $"anvil not found: run 'npm ci' in contracts/ (looked for {relative} above {AppContext.BaseDirectory}) or set ANVIL_PATH");
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public string RecentOutput()
    {
        lock (_output)
        {
            return _output.ToString();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().ConfigureAwait(false);
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length > 20_000)
            {
                _output.Remove(0, 10_000);
            }

            _output.AppendLine(line);
        }
    }

    private async Task<ulong?> WaitReadyAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            if (_process.HasExited)
            {
                return null;
            }

            try
            {
                using var content = new StringContent("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_chainId\",\"params\":[]}", Encoding.UTF8, "application/json");
                using var response = await http.PostAsync(new Uri(RpcUrl), content, cancellationToken).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    // Our own process must still be alive: otherwise another node owns the port.
                    var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                    using var json = System.Text.Json.JsonDocument.Parse(body);
                    var hex = json.RootElement.GetProperty("result").GetString() ?? "0x0";
                    var answered = ulong.Parse(hex.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
                    return _process.HasExited ? null : answered;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"anvil on port {Port} did not answer within 30 s");
            }

            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }
}
