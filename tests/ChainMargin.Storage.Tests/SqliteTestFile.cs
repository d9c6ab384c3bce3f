using Microsoft.Data.Sqlite;

namespace ChainMargin.Storage.Tests;

/// <summary>A fresh SQLite database file for one test, deleted with its WAL files afterwards.</summary>
internal sealed class SqliteTestFile(string suite)
{
    private string? _path;

    public string ConnectionString => $"Data Source={_path ?? throw new InvalidOperationException("no database")}";

    public Task CreateAsync()
    {
        _path = Path.Combine(Path.GetTempPath(), $"chainmargin-{suite}-{Guid.NewGuid():N}.db");
        return Task.CompletedTask;
    }

    public Task DeleteAsync()
    {
        if (_path is { } path)
        {
            _path = null;
            SqliteConnection.ClearAllPools();
            foreach (var file in new[] { path, path + "-wal", path + "-shm" })
            {
                File.Delete(file);
            }
        }

        return Task.CompletedTask;
    }
}
