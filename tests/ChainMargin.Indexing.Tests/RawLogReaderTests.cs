using System.Text;
using System.Text.Json;
using ChainMargin.Indexing.Decoding;
using Xunit;

namespace ChainMargin.Indexing.Tests;

/// <summary>Reading eth_getLogs results from their bytes: any member order, escapes, unknown members, bad fields named.</summary>
public sealed class RawLogReaderTests
{
    private const string Address = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    private const string Topic0 = "0x2da466a7b24304f47e87fa2e1e5a81b9831ce54fec19055ce277ca2f39ba42c4";
    private const string Topic1 = "0x000000000000000000000000f39fd6e51aad88f6f4ce6ab8827279cfffb92266";
    private const string Hash = "0x8f5bab218b6bb34476f51ca588e9f4553a3a7ce5e13a66c660a5283e97e9a85a";
    private const string Data = "0x0000000000000000000000000000000000000000000000000de0b6b3a7640000";

    private static string Log(string? blockHash = Hash, string? topic1 = Topic1, string extra = "") =>
        "{" + extra + "\"address\":\"" + Address + "\",\"topics\":[\"" + Topic0 + "\",\"" + topic1 + "\"],\"data\":\"" + Data +
        "\",\"blockNumber\":\"0x1f\",\"blockHash\":\"" + blockHash + "\",\"transactionHash\":\"" + Hash +
        "\",\"transactionIndex\":\"0x0\",\"logIndex\":\"0x2a\",\"removed\":false}";

    private static List<RawLog>? ReadAll(string json)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json));
        reader.Read();
        var logs = LogFetcher.ReadLogs(ref reader);
        Assert.False(reader.Read(), "the reader did not stop on the result's last token");
        return logs;
    }

    [Fact]
    public void ReadLogs_CanonicalLog_AllFields()
    {
        var log = Assert.Single(ReadAll("[" + Log() + "]")!);

        Assert.Equal(Address, log.Address);
        Assert.Equal([Topic0, Topic1], log.Topics);
        Assert.Equal(Data, log.Data);
        Assert.Equal(31, log.BlockNumber);
        Assert.Equal(Hash, log.BlockHash);
        Assert.Equal(42, log.LogIndex);
        Assert.False(log.Removed);
    }

    [Fact]
    public void ReadLogs_MembersReversedEscapedAndUnknown_ReadAsTheCanonicalLog()
    {
        var canonical = Assert.Single(ReadAll("[" + Log() + "]")!);
        using var document = JsonDocument.Parse(Log());
        var reversed = "{\"unknown\":{\"topics\":[1,2,{\"data\":null}]}," +
            string.Join(",", document.RootElement.EnumerateObject().Reverse().Select(p => p.ToString())) + "}";
        var escaped = Log(blockHash: "\\u0030x" + Hash[2..], topic1: "0x\\u0030" + Topic1[3..]);

        var logs = ReadAll("[" + reversed + "," + escaped + "]")!;

        Assert.Equal(2, logs.Count);
        foreach (var log in logs)
        {
            Assert.Equal(canonical with { Topics = canonical.Topics }, log with { Topics = canonical.Topics });
            Assert.Equal(canonical.Topics, log.Topics);
        }
    }

    [Fact]
    public void ReadLogs_RepeatedValues_AreOneInstance_NewValuesAreRead()
    {
        var otherHash = "0x" + new string('b', 64);
        var logs = ReadAll("[" + Log() + "," + Log() + "," + Log(blockHash: otherHash) + "]")!;

        Assert.Same(logs[0].BlockHash, logs[1].BlockHash);
        Assert.Same(logs[0].Topics[1], logs[1].Topics[1]);
        Assert.Same(logs[0].Address, logs[2].Address);
        Assert.Equal(otherHash, logs[2].BlockHash);
        Assert.Equal(Hash, logs[1].BlockHash);
    }

    [Fact]
    public void ReadLogs_TopicRecurringLaterInTheAnswer_IsTheSameInstance_OthersKeepTheirValue()
    {
        var others = Enumerable.Range(0, 50).Select(i => "0x" + i.ToString("x64", System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var logs = ReadAll("[" + Log() + "," + string.Join(",", others.Select(t => Log(topic1: t))) + "," + Log() + "]")!;

        Assert.Same(logs[0].Topics[1], logs[^1].Topics[1]);
        Assert.Equal(others, logs.Skip(1).SkipLast(1).Select(l => l.Topics[1]));
        Assert.All(logs, l => Assert.Same(logs[0].Topics[0], l.Topics[0]));
    }

    [Fact]
    public void ReadLogs_MoreThanFourTopics_AllKept()
    {
        var topics = Enumerable.Range(1, 6).Select(i => "0x" + new string((char)('0' + i), 64)).ToArray();
        var json = Log().Replace("[\"" + Topic0 + "\",\"" + Topic1 + "\"]", "[" + string.Join(",", topics.Select(t => "\"" + t + "\"")) + "]", StringComparison.Ordinal);

        Assert.Equal(topics, Assert.Single(ReadAll("[" + json + "]")!).Topics);
    }

    [Theory]
    [InlineData("null")]
    [InlineData("{\"logs\":[]}")]
    [InlineData("\"0x\"")]
    public void ReadLogs_ResultNotAnArray_IsNull(string result) => Assert.Null(ReadAll(result));

    [Theory]
    [InlineData("\"address\":\"" + Address + "\",", "\"address\":7,", "address")]
    [InlineData("\"blockNumber\":\"0x1f\"", "\"blockNumber\":31", "blockNumber")]
    [InlineData("\"blockNumber\":\"0x1f\"", "\"blockNumber\":\"31\"", "31")]
    [InlineData("\"logIndex\":\"0x2a\",", "", "logIndex")]
    [InlineData("\"data\":\"" + Data + "\",", "", "data")]
    [InlineData("\"topics\":[\"" + Topic0 + "\",\"" + Topic1 + "\"],", "\"topics\":\"" + Topic0 + "\",", "topics")]
    [InlineData("\"topics\":[\"" + Topic0 + "\",\"" + Topic1 + "\"],", "", "topics")]
    [InlineData("\"topics\":[\"" + Topic0 + "\",", "\"topics\":[5,", "topic")]
    public void ReadLogs_BadField_FormatExceptionNamingIt(string field, string damaged, string named)
    {
        var json = "[" + Log().Replace(field, damaged, StringComparison.Ordinal) + "]";
        Assert.NotEqual("[" + Log() + "]", json);

        var error = Assert.Throws<FormatException>(() => ReadAll(json));

        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadLogs_RemovedTrueOrNested_ReadWithoutLosingTheNextLog()
    {
        var removed = Log().Replace("\"removed\":false", "\"removed\":true", StringComparison.Ordinal);
        var nested = Log().Replace("\"removed\":false", "\"removed\":{\"address\":\"0x1\",\"topics\":[{}]}", StringComparison.Ordinal);

        var logs = ReadAll("[" + removed + "," + nested + "," + Log() + "]")!;

        Assert.Equal([true, false, false], logs.Select(l => l.Removed));
        Assert.All(logs, l => Assert.Equal(Address, l.Address));
    }

    [Fact]
    public void ReadLogs_ItemNotAnObject_FormatException()
    {
        var error = Assert.Throws<FormatException>(() => ReadAll("[" + Log() + ",\"0x1\"]"));
        Assert.Contains("not an object", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void From_JsonElement_ReadsAsTheBytes()
    {
        using var document = JsonDocument.Parse(Log());
        var fromElement = RawLog.From(document.RootElement);
        var fromBytes = Assert.Single(ReadAll("[" + Log() + "]")!);

        Assert.Equal(fromBytes with { Topics = [] }, fromElement with { Topics = [] });
        Assert.Equal(fromBytes.Topics, fromElement.Topics);
    }
}
