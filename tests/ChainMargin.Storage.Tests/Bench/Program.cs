// Micro-benchmark of the store's write path, run by hand (not a test):
//   dotnet run -c Release --project tests/ChainMargin.Storage.Tests/Bench -- [postgres|sqlite] [events] [batch]
// Commits `events` CollateralChanged facts (default 200,000) in batches of `batch` (default 10,000), 20 facts per
// block, spread over 1,000 accounts x 4 tokens, into a fresh database, and prints events/s for the commits alone.
using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using ChainMargin.Core;
using ChainMargin.Storage;
using ChainMargin.Testing;

var provider = args.Length > 0 ? args[0] : "postgres";
var events = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 200_000;
var batchSize = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 10_000;
const int PerBlock = 20;

PostgresDatabase? database = null;
string? sqlitePath = null;
StorageOptions options;
if (provider == "postgres")
{
    database = await PostgresDatabase.CreateAsync("cm_bench");
    var connection = new Npgsql.NpgsqlConnectionStringBuilder(database.ConnectionString) { ApplicationName = "cm-bench" };
    options = new StorageOptions { Provider = "postgres", ConnectionString = connection.ConnectionString };
}
else
{
    sqlitePath = Path.Combine(Path.GetTempPath(), $"chainmargin-bench-{Guid.NewGuid():N}.db");
    options = new StorageOptions { Provider = "sqlite", ConnectionString = $"Data Source={sqlitePath}" };
}

try
{
    await using var storage = StoreFactory.Create(options);
    await storage.Store.MigrateAsync(CancellationToken.None);

    var chain = new ChainId(31337);
    static EvmAddress Address(int n) => EvmAddress.Parse("0x" + n.ToString("x40", CultureInfo.InvariantCulture));
    // Real block hashes are random: they make the primary key insert at random places, as here.
    static string Hash(long n) =>
        "0x" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(BitConverter.GetBytes(n)));
    var venue = Address(100);
    var tokens = Enumerable.Range(200, 4).Select(Address).ToArray();
    var accounts = Enumerable.Range(1_000, 1_000).Select(Address).ToArray();
    var random = new Random(42);

    // Build every batch first so only the store is timed.
    var batches = new List<ChainBatch>();
    var block = 0L;
    for (var done = 0; done < events; done += batchSize)
    {
        var facts = new List<ChainFact>(batchSize);
        var blocks = new List<IndexedBlock>();
        for (var i = 0; i < batchSize && done + i < events; i++)
        {
            if (i % PerBlock == 0)
            {
                block++;
                blocks.Add(new IndexedBlock(new BlockRef(chain, block, Hash(block)), Hash(block - 1), 1_700_000_000 + block));
            }

            var amount = new BigInteger(random.Next(-1_000_000, 2_000_000)) * BigInteger.Pow(10, 12);
            facts.Add(new CollateralChanged(
                new BlockRef(chain, block, Hash(block)), i % PerBlock, venue, accounts[random.Next(accounts.Length)],
                tokens[random.Next(tokens.Length)], amount, amount.Sign >= 0 ? "deposit" : "withdraw"));
        }

        batches.Add(new ChainBatch(chain, blocks, facts, blocks[^1].Block));
    }

    // Warm the pool and the JIT (tiered compilation needs a few rounds) with batches of another chain, untimed: a
    // long-running indexer is in this steady state.
    var warmChain = new ChainId(1);
    foreach (var warm in batches.Take(4))
    {
        await storage.Store.CommitAsync(
            new ChainBatch(
                warmChain,
                [.. warm.Blocks.Select(b => b with { Block = b.Block with { Chain = warmChain } })],
                [.. warm.Facts.Select(f => (ChainFact)((CollateralChanged)f with { Block = f.Block with { Chain = warmChain } }))],
                warm.Checkpoint with { Chain = warmChain }),
            CancellationToken.None);
        await Task.Delay(200);
    }

    var serverBefore = await ServerCpuAsync(database);
    var clientBefore = Process.GetCurrentProcess().TotalProcessorTime;
    var stopwatch = Stopwatch.StartNew();
    foreach (var batch in batches)
    {
        await storage.Store.CommitAsync(batch, CancellationToken.None);
    }

    stopwatch.Stop();
    var client = (Process.GetCurrentProcess().TotalProcessorTime - clientBefore).TotalSeconds;
    var server = await ServerCpuAsync(database) - serverBefore;
    var rate = events / stopwatch.Elapsed.TotalSeconds;
    Console.WriteLine(
        $"{provider}: {events:N0} CollateralChanged in batches of {batchSize:N0}: {stopwatch.Elapsed.TotalSeconds:F2} s wall, {rate:N0} events/s");
    Console.WriteLine(
        $"{provider}: CPU client {client:F2} s, server backend {server:F2} s -> {events / (client + server):N0} events per CPU-second (client + server)");

    // Re-committing the last batch applies nothing and should be cheap.
    stopwatch.Restart();
    await storage.Store.CommitAsync(batches[^1], CancellationToken.None);
    Console.WriteLine($"{provider}: re-commit of one batch (all duplicates): {stopwatch.Elapsed.TotalMilliseconds:F0} ms");

    stopwatch.Restart();
    await storage.Store.RollbackToAsync(new BlockRef(chain, block - 3, Hash(block - 3)), CancellationToken.None);
    Console.WriteLine($"{provider}: rollback of 3 blocks ({3 * PerBlock:N0} facts): {stopwatch.Elapsed.TotalMilliseconds:F0} ms");
    block -= 3;

    stopwatch.Restart();
    await storage.Store.RollbackToAsync(new BlockRef(chain, block - 500, Hash(block - 500)), CancellationToken.None);
    Console.WriteLine($"{provider}: rollback of 500 blocks ({500 * PerBlock:N0} facts): {stopwatch.Elapsed.TotalMilliseconds:F0} ms");
}
finally
{
    if (database is not null)
    {
        await database.DisposeAsync();
    }

    if (sqlitePath is not null)
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        File.Delete(sqlitePath);
        File.Delete(sqlitePath + "-wal");
        File.Delete(sqlitePath + "-shm");
    }
}

// CPU seconds used so far by the bench's server backends (local server only: reads /proc; 0 when not visible).
static async Task<double> ServerCpuAsync(PostgresDatabase? database)
{
    if (database is null)
    {
        return 0;
    }

    await using var connection = new Npgsql.NpgsqlConnection(database.ConnectionString);
    await connection.OpenAsync();
    await using var command = new Npgsql.NpgsqlCommand("select pid from pg_stat_activity where application_name = 'cm-bench'", connection);
    var total = 0.0;
    await using var reader = await command.ExecuteReaderAsync();
    while (await reader.ReadAsync())
    {
        var stat = $"/proc/{reader.GetInt32(0)}/stat";
        if (File.Exists(stat))
        {
            var fields = File.ReadAllText(stat).Split(") ")[1].Split(' ');
            total += (double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
        }
    }

    return total;
}
