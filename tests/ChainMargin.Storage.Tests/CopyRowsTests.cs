using ChainMargin.Storage.Postgres;
using ChainMargin.Testing;
using Npgsql;
using Xunit;

namespace ChainMargin.Storage.Tests;

/// <summary>
/// The binary COPY writer's bytea field: hashes and addresses written from their 0x-hex text reach PostgreSQL as their
/// bytes (read back with encode(..., 'hex')), and text that is not 0x-prefixed hex of whole bytes is refused by name.
/// </summary>
public sealed class CopyRowsTests
{
    [Fact]
    public async Task HexBytes_ReachPostgresAsTheirBytes()
    {
        string[] values =
        [
            "0x" + new string('a', 64),
            "0x5fbdb2315678afecb367f032d93f642f64180aa3",
            "0xE7F1725E7734CE288F8367E1BB143E90BB3F0512",
            "0x00",
            "0x",
        ];
        await using var database = await PostgresDatabase.CreateAsync();
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using (var create = new NpgsqlCommand("create table t (n integer not null, b bytea not null)", connection))
        {
            await create.ExecuteNonQueryAsync();
        }

        using (var rows = new CopyRows(2, values.Length))
        {
            for (var i = 0; i < values.Length; i++)
            {
                rows.StartRow();
                rows.Int32(i);
                rows.HexBytes(values[i]);
            }

            rows.Finish();
            await using var stream = await connection.BeginRawBinaryCopyAsync("copy t (n, b) from stdin (format binary)");
            await stream.WriteAsync(rows.Encoded);
        }

        var stored = new List<string>();
        await using (var read = new NpgsqlCommand("select '0x' || encode(b, 'hex'), length(b) from t order by n", connection))
        await using (var reader = await read.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                stored.Add(reader.GetString(0));
                Assert.Equal((reader.GetString(0).Length - 2) / 2, reader.GetInt32(1));
            }
        }

        Assert.Equal(values.Select(v => v.ToLowerInvariant()), stored);
    }

    [Theory]
    [InlineData("5fbdb2315678afecb367f032d93f642f64180aa3")]
    [InlineData("0x5fb")]
    [InlineData("0xzz")]
    [InlineData("1x00")]
    [InlineData("")]
    public void HexBytes_NotHexOfWholeBytes_IsRefusedNamingTheValue(string value)
    {
        using var rows = new CopyRows(1, 1);
        rows.StartRow();
        var error = Assert.Throws<FormatException>(() => rows.HexBytes(value));
        Assert.Contains($"'{value}'", error.Message, StringComparison.Ordinal);
    }
}
