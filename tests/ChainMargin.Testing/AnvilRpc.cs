using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ChainMargin.Testing;

/// <summary>A block as tests need it: number, hash, parent hash, timestamp.</summary>
public sealed record AnvilBlock(long Number, string Hash, string ParentHash, long Timestamp);

/// <summary>
/// Plain JSON-RPC against an anvil node for the test-control methods (evm_mine, evm_snapshot/evm_revert,
/// anvil_reorg, evm_setNextBlockTimestamp, ...) and a few eth_ reads. Independent of Nethereum on purpose: tests use it
/// to steer chains under the code being tested.
/// </summary>
public sealed class AnvilRpc
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private readonly Uri _url;
    private long _id;

    public AnvilRpc(string rpcUrl) => _url = new Uri(rpcUrl);

    /// <summary>Calls a method and returns its result; throws with the node's message on a JSON-RPC error.</summary>
    public async Task<JsonNode?> CallAsync(string method, params object?[] parameters)
    {
        var request = new JsonObject
        {
            ["jsonrpc"] = "2.0",
            ["id"] = Interlocked.Increment(ref _id),
            ["method"] = method,
            ["params"] = JsonSerializer.SerializeToNode(parameters),
        };
        using var content = new StringContent(request.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await Http.PostAsync(_url, content);
        response.EnsureSuccessStatusCode();
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        if (body["error"] is { } error)
        {
            throw new InvalidOperationException($"{method} failed: {error.ToJsonString()}");
        }

        return body["result"];
    }

    /// <summary>Mines one block with evm_mine (optionally at a timestamp).</summary>
    public Task MineAsync(long? timestamp = null) =>
        timestamp is null ? CallAsync("evm_mine") : CallAsync("evm_mine", timestamp.Value);

    /// <summary>Mines <paramref name="blocks"/> empty blocks at once (anvil_mine).</summary>
    public Task MineBlocksAsync(int blocks) => CallAsync("anvil_mine", Hex(blocks));

    /// <summary>Takes a snapshot of the whole chain state; revert to it with <see cref="RevertAsync"/>.</summary>
    public async Task<string> SnapshotAsync() => (await CallAsync("evm_snapshot"))!.GetValue<string>();

    /// <summary>Reverts to a snapshot (which is consumed). Returns false if the snapshot was unknown.</summary>
    public async Task<bool> RevertAsync(string snapshotId) => (await CallAsync("evm_revert", snapshotId))!.GetValue<bool>();

    /// <summary>
    /// Replaces the last <paramref name="depth"/> blocks with as many new ones (new hashes), optionally putting raw
    /// signed transactions into them at a block offset (0 = the first replaced block).
    /// </summary>
    public Task ReorgAsync(int depth, IEnumerable<(string RawTransaction, int BlockOffset)>? transactions = null)
    {
        var pairs = (transactions ?? []).Select(t => new object[] { t.RawTransaction, t.BlockOffset }).ToArray();
        return CallAsync("anvil_reorg", depth, pairs);
    }

    /// <summary>Drops the last <paramref name="depth"/> blocks; the chain is shorter until new blocks are mined.</summary>
    public Task RollbackAsync(int depth) => CallAsync("anvil_rollback", depth);

    public Task SetNextBlockTimestampAsync(long unixSeconds) => CallAsync("evm_setNextBlockTimestamp", unixSeconds);

    public Task IncreaseTimeAsync(long seconds) => CallAsync("evm_increaseTime", seconds);

    public Task SetAutomineAsync(bool enabled) => CallAsync("evm_setAutomine", enabled);

    public Task SetBalanceAsync(string address, BigInteger wei) => CallAsync("anvil_setBalance", address, Hex(wei));

    public Task SetCodeAsync(string address, string code) => CallAsync("anvil_setCode", address, code);

    public async Task<long> BlockNumberAsync() => ParseLong((await CallAsync("eth_blockNumber"))!.GetValue<string>());

    public async Task<ulong> ChainIdAsync() => (ulong)ParseLong((await CallAsync("eth_chainId"))!.GetValue<string>());

    /// <summary>The block with this number, or the latest one.</summary>
    public async Task<AnvilBlock> BlockAsync(long? number = null)
    {
        var tag = number is null ? "latest" : Hex(number.Value);
        var block = await CallAsync("eth_getBlockByNumber", tag, false)
            ?? throw new InvalidOperationException($"no block {tag}");
        return new AnvilBlock(
            ParseLong(block["number"]!.GetValue<string>()),
            block["hash"]!.GetValue<string>(),
            block["parentHash"]!.GetValue<string>(),
            ParseLong(block["timestamp"]!.GetValue<string>()));
    }

    public static string Hex(BigInteger value) => "0x" + (value.IsZero ? "0" : value.ToString("x", CultureInfo.InvariantCulture).TrimStart('0'));

    public static long ParseLong(string hex) => long.Parse(hex.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
