using System.Text.Json;
using System.Text.Json.Serialization;
using ChainMargin.Core;

namespace ChainMargin.Host.Api;

/// <summary>JSON forms of the domain's value types: addresses and assets as strings, chain ids as numbers.</summary>
public static class ApiJson
{
    public static void Configure(JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        options.Converters.Add(new EvmAddressConverter());
        options.Converters.Add(new AssetIdConverter());
        options.Converters.Add(new ChainIdConverter());
        options.Converters.Add(new BlockRefConverter());
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower));
    }

    private sealed class EvmAddressConverter : JsonConverter<EvmAddress>
    {
        public override EvmAddress Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => EvmAddress.Parse(reader.GetString());

        public override void Write(Utf8JsonWriter writer, EvmAddress value, JsonSerializerOptions options) => writer.WriteStringValue(value.Value);
    }

    private sealed class AssetIdConverter : JsonConverter<AssetId>
    {
        public override AssetId Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => new(reader.GetString() ?? "");

        public override void Write(Utf8JsonWriter writer, AssetId value, JsonSerializerOptions options) => writer.WriteStringValue(value.Symbol);
    }

    private sealed class ChainIdConverter : JsonConverter<ChainId>
    {
        public override ChainId Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => new(reader.GetUInt64());

        public override void Write(Utf8JsonWriter writer, ChainId value, JsonSerializerOptions options) => writer.WriteNumberValue(value.Value);
    }

    private sealed class BlockRefConverter : JsonConverter<BlockRef>
    {
        public override BlockRef Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            throw new NotSupportedException("block references are not read from requests");

        public override void Write(Utf8JsonWriter writer, BlockRef value, JsonSerializerOptions options)
        {
            writer.WriteStartObject();
            writer.WriteNumber("chainId", value.Chain.Value);
            writer.WriteNumber("number", value.Number);
            writer.WriteString("hash", value.Hash);
            writer.WriteEndObject();
        }
    }
}
