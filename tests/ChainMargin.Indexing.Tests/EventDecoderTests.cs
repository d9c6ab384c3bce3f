using System.Numerics;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Core;
using ChainMargin.Indexing.Decoding;
using ChainMargin.Indexing.Rpc;
using ChainMargin.Indexing.Tests.Harness;
using ChainMargin.Testing;
using Xunit;

namespace ChainMargin.Indexing.Tests;

/// <summary>
/// A chain with one ordinary deposit and one deposit of uint256 max (a real log no balance can come from), whose real
/// encoded logs the decoder tests take apart.
/// </summary>
public sealed class DecoderChainFixture : AnvilProtocolFixture
{
    public static readonly BigInteger Uint256Max = (BigInteger.One << 256) - 1;

    public static DevAccount Normal => DevAccounts.Traders[0];

    public static DevAccount Huge => DevAccounts.Traders[1];

    public BigInteger NormalAmount { get; } = ChainDriver.Units(5, 18);

    public IReadOnlyList<RawLog> VaultLogs { get; private set; } = [];

    public IReadOnlyList<RawLog> TokenLogs { get; private set; } = [];

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var driver = new ChainDriver(this);
        await driver.DepositAsync(Normal, "WETH", NormalAmount);

        // WBTC has no supply yet, so minting uint256 max does not overflow the token's totalSupply.
        await driver.DepositAsync(Huge, "WBTC", Uint256Max);

        using var rpc = new JsonRpcClient([RpcUrl]);
        VaultLogs = await LogsAsync(rpc, Protocol.Vault);
        TokenLogs = await LogsAsync(rpc, Protocol.Weth);
    }

    private static async Task<IReadOnlyList<RawLog>> LogsAsync(JsonRpcClient rpc, string address)
    {
        var result = await rpc.CallAsync(
            "eth_getLogs", [new Dictionary<string, object> { ["fromBlock"] = "0x0", ["toBlock"] = "latest", ["address"] = address }], CancellationToken.None);
        return result.EnumerateArray().Select(RawLog.From).ToList();
    }
}

public sealed class EventDecoderTests : IClassFixture<DecoderChainFixture>
{
    private readonly DecoderChainFixture _chain;
    private readonly EventDecoder _decoder;

    public EventDecoderTests(DecoderChainFixture chain)
    {
        _chain = chain;
        var options = IndexRig.Options(chain.RpcUrl, chain.ChainId, chain.Protocol);
        _decoder = new EventDecoder(new ChainId(chain.ChainId), ChainWatcher.Roles(options.Contracts));
    }

    private RawLog DepositOf(DevAccount account) =>
        _chain.VaultLogs.Single(l => l.Topics[0] == EventDecoder.Deposited && EvmAddress.FromWord(l.Topics[1].AsSpan(2)) == EvmAddress.Parse(account.Address));

    [Fact]
    public void Decode_RealDeposit_IsCollateralChangeOfTheDepositor()
    {
        var log = DepositOf(DecoderChainFixture.Normal);

        var fact = Assert.IsType<CollateralChanged>(_decoder.Decode(log));

        Assert.Equal(EvmAddress.Parse(DecoderChainFixture.Normal.Address), fact.Account);
        Assert.Equal(EvmAddress.Parse(_chain.Protocol.Weth), fact.Token);
        Assert.Equal(EvmAddress.Parse(_chain.Protocol.Vault), fact.Contract);
        Assert.Equal(_chain.NormalAmount, fact.Delta);
        Assert.Equal("deposit", fact.Kind);
        Assert.Equal(new BlockRef(new ChainId(_chain.ChainId), log.BlockNumber, log.BlockHash.ToLowerInvariant()), fact.Block);
        Assert.Equal(log.LogIndex, fact.LogIndex);
    }

    [Fact]
    public void Decode_Uint256MaxDeposit_IsRejectedWithReason()
    {
        var log = DepositOf(DecoderChainFixture.Huge);
        Assert.Equal("0x" + new string('f', 64), log.Data);

        var rejected = Assert.IsType<RejectedLog>(_decoder.Decode(log));

        Assert.Contains("uint256 max", rejected.Reason);
        Assert.Equal(EventDecoder.Deposited, rejected.Topic0);
        Assert.Equal(log.LogIndex, rejected.LogIndex);
    }

    [Fact]
    public void Decode_UnknownTopic_IsRejectedNamingTheRole()
    {
        var log = DepositOf(DecoderChainFixture.Normal);
        var unknown = log with { Topics = [EventDecoder.Topic("Deposited(address,address,uint128)"), .. log.Topics[1..]] };

        var rejected = Assert.IsType<RejectedLog>(_decoder.Decode(unknown));

        Assert.Contains("unknown event signature", rejected.Reason);
        Assert.Contains("Vault", rejected.Reason);
        Assert.Equal(unknown.Topics[0], rejected.Topic0);
    }

    [Theory]
    [InlineData("short by one byte")]
    [InlineData("long by half a word")]
    [InlineData("empty")]
    [InlineData("not hex")]
    [InlineData("no 0x")]
    public void Decode_MalformedData_IsRejectedNotThrown(string damage)
    {
        var log = DepositOf(DecoderChainFixture.Normal);
        var data = damage switch
        {
            "short by one byte" => log.Data[..^2],
            "long by half a word" => log.Data + new string('0', 32),
            "empty" => "0x",
            "not hex" => "0x" + new string('z', 64),
            _ => log.Data[2..],
        };

        var rejected = Assert.IsType<RejectedLog>(_decoder.Decode(log with { Data = data }));

        Assert.StartsWith("malformed log data", rejected.Reason);
    }

    [Fact]
    public void Decode_MissingIndexedTopic_IsRejected()
    {
        var log = DepositOf(DecoderChainFixture.Normal);

        var rejected = Assert.IsType<RejectedLog>(_decoder.Decode(log with { Topics = log.Topics[..2] }));

        Assert.Contains("expected 3 topics", rejected.Reason);
    }

    [Fact]
    public void Decode_LogFromUnconfiguredContract_IsRejected()
    {
        // The token's own Transfer log: a real log from a contract the watcher was not told about.
        var transfer = _chain.TokenLogs[0];
        var rejected = Assert.IsType<RejectedLog>(_decoder.Decode(transfer));
        Assert.Contains("not configured", rejected.Reason);
        Assert.Equal(EvmAddress.Parse(_chain.Protocol.Weth), rejected.Contract);

        // A vault log, to a decoder that only knows the perp market.
        var perpOnly = new EventDecoder(
            new ChainId(_chain.ChainId), new Dictionary<EvmAddress, ContractRole> { [EvmAddress.Parse(_chain.Protocol.PerpMarket)] = ContractRole.PerpMarket });
        var vaultLog = Assert.IsType<RejectedLog>(perpOnly.Decode(DepositOf(DecoderChainFixture.Normal)));
        Assert.Contains("not configured", vaultLog.Reason);
    }

    [Fact]
    public void Decode_MalformedAddress_IsRejected()
    {
        var log = DepositOf(DecoderChainFixture.Normal);

        var rejected = Assert.IsType<RejectedLog>(_decoder.Decode(log with { Address = "0x1234" }));

        Assert.Contains("malformed log address", rejected.Reason);
    }

    [Fact]
    public async Task Watcher_KeepsRejectedLogsAndLeavesThemOutOfBalances()
    {
        await using var store = await TestStore.CreateAsync();
        var options = IndexRig.Options(_chain.RpcUrl, _chain.ChainId, _chain.Protocol);
        using var handle = IndexRig.Watcher(options, store.Store);

        await IndexRig.CatchUpAsync(handle.Watcher);

        var chain = new ChainId(_chain.ChainId);
        var rejected = await store.Store.GetRejectedLogsAsync(chain, CancellationToken.None);
        var huge = DepositOf(DecoderChainFixture.Huge);
        var row = Assert.Single(rejected);
        Assert.Equal(huge.LogIndex, row.LogIndex);
        Assert.Equal(huge.BlockHash.ToLowerInvariant(), row.Block.Hash);
        Assert.Contains("uint256 max", row.Reason);

        var collateral = await store.Store.GetCollateralAsync(null, CancellationToken.None);
        Assert.DoesNotContain(collateral, c => c.Account == EvmAddress.Parse(DecoderChainFixture.Huge.Address));
        var normal = Assert.Single(collateral, c => c.Account == EvmAddress.Parse(DecoderChainFixture.Normal.Address));
        Assert.Equal(_chain.NormalAmount, normal.Balance);
    }
}
