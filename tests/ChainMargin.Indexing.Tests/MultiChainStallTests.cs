using ChainMargin.Indexing.Rpc;
using ChainMargin.Indexing.Tests.Harness;
using ChainMargin.Testing;
using Xunit;

namespace ChainMargin.Indexing.Tests;

/// <summary>Three chains with the reference protocol, each behind its own proxy so one can be cut off.</summary>
public sealed class ThreeChainsFixture : IAsyncLifetime
{
    public IReadOnlyList<AnvilProtocolFixture> Chains { get; private set; } = [];

    public async Task InitializeAsync() => Chains = await AnvilProtocolFixture.StartAllAsync(7101, 7102, 7103);

    public async Task DisposeAsync()
    {
        foreach (var chain in Chains)
        {
            await chain.DisposeAsync();
        }
    }
}

public sealed class MultiChainStallTests : IClassFixture<ThreeChainsFixture>
{
    private static readonly TimeSpan StaleAfter = TimeSpan.FromSeconds(2);
    private readonly ThreeChainsFixture _fixture;

    public MultiChainStallTests(ThreeChainsFixture fixture) => _fixture = fixture;

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting: " + what());
            await Task.Delay(25);
        }
    }

    [Fact]
    public async Task OneChainStalls_OtherTwoKeepIndexing_StalledOneTurnsStaleThenRecovers()
    {
        await using var store = await TestStore.CreateAsync();
        var drivers = _fixture.Chains.Select(c => new ChainDriver(c)).ToArray();
        var proxies = _fixture.Chains.Select(c => new FaultProxy(c.RpcUrl)).ToArray();
        var retry = new RpcRetryOptions
        {
            MaxAttempts = 2, InitialBackoff = TimeSpan.FromMilliseconds(20), MaxBackoff = TimeSpan.FromMilliseconds(500), RequestTimeout = TimeSpan.FromSeconds(1),
        };
        var handles = _fixture.Chains.Select((c, i) =>
        {
            var options = IndexRig.Options(proxies[i].Url, c.ChainId, c.Protocol);
            options.StaleAfter = StaleAfter;
            return IndexRig.Watcher(options, store.Store, retry);
        }).ToArray();
        var accounts = new List<Contracts.Devnet.DevAccount>();
        using var cts = new CancellationTokenSource();
        var runs = handles.Select(h => Task.Run(() => h.Watcher.RunAsync(cts.Token))).ToArray();
        try
        {
            async Task<bool> CaughtUp(int i) => handles[i].Status.Indexed?.Number >= await drivers[i].HeadAsync();
            string Describe() => string.Join("; ", handles.Select(h => $"{h.Status.Name}: indexed {h.Status.Indexed?.Number}, error {h.Status.LastError}"));
            await WaitUntilAsync(async () => await CaughtUp(0) && await CaughtUp(1) && await CaughtUp(2), TimeSpan.FromSeconds(60), Describe);

            // Cut chain 3 off: its node still mines, but nothing reaches the watcher.
            proxies[2].Blackhole = true;
            var stalledHeight = handles[2].Status.Indexed!.Value.Number;
            foreach (var driver in drivers)
            {
                var account = await driver.NewAccountAsync();
                accounts.Add(account);
                await driver.DepositAsync(account, "USDC", ChainDriver.Units(1_000, 6));
            }

            var stalledAt = DateTimeOffset.UtcNow;
            await WaitUntilAsync(
                async () => await CaughtUp(0) && await CaughtUp(1) && DateTimeOffset.UtcNow - stalledAt > StaleAfter + TimeSpan.FromSeconds(1),
                TimeSpan.FromSeconds(60),
                Describe);

            var now = DateTimeOffset.UtcNow;
            Assert.Null(handles[0].Status.StaleReason(now));
            Assert.Null(handles[1].Status.StaleReason(now));
            var stale = handles[2].Status.StaleReason(now);
            Assert.NotNull(stale);
            Assert.Contains("no successful poll", stale);
            Assert.NotNull(handles[2].Status.LastError);
            Assert.Equal(stalledHeight, handles[2].Status.Indexed?.Number);
            Assert.True(await drivers[2].HeadAsync() > stalledHeight);

            // Reconnected, it catches up and is fresh again.
            proxies[2].Blackhole = false;
            await WaitUntilAsync(() => CaughtUp(2), TimeSpan.FromSeconds(60), Describe);
            await WaitUntilAsync(() => Task.FromResult(handles[2].Status.StaleReason(DateTimeOffset.UtcNow) is null), TimeSpan.FromSeconds(10), Describe);
        }
        finally
        {
            await cts.CancelAsync();
            await Task.WhenAll(runs);
            foreach (var handle in handles)
            {
                handle.Dispose();
            }

            foreach (var proxy in proxies)
            {
                await proxy.DisposeAsync();
            }
        }

        // One store holds all three chains, each equal to its own contracts.
        for (var i = 0; i < drivers.Length; i++)
        {
            Assert.True(await IndexRig.AssertEqualsChainAsync(store.Store, drivers[i], [accounts[i]]) >= 1);
        }
    }

    [Fact]
    public async Task RestartedWatcher_NodeDown_IsStaleNotFresh()
    {
        // Bug fixed: loading the checkpoint at start counted as a successful poll (with head 0), so a watcher restarted
        // against a dead node reported its chain fresh for StaleAfter.
        await using var store = await TestStore.CreateAsync();
        var chain = _fixture.Chains[0];
        var options = IndexRig.Options(chain.RpcUrl, chain.ChainId, chain.Protocol);
        using (var first = IndexRig.Watcher(options, store.Store))
        {
            await IndexRig.CatchUpAsync(first.Watcher);
        }

        var dead = IndexRig.Options($"http://127.0.0.1:{Contracts.Devnet.AnvilNode.FreePort()}/", chain.ChainId, chain.Protocol);
        dead.StaleAfter = StaleAfter;
        using var restarted = IndexRig.Watcher(dead, store.Store, new RpcRetryOptions { MaxAttempts = 1, RequestTimeout = TimeSpan.FromSeconds(1) });

        await Assert.ThrowsAsync<RpcUnavailableException>(() => restarted.Watcher.StepAsync(CancellationToken.None));

        var checkpoint = await store.Store.GetCheckpointAsync(restarted.Watcher.Chain, CancellationToken.None);
        Assert.Equal(checkpoint!.Block, restarted.Status.Indexed);
        Assert.Null(restarted.Status.Head);
        Assert.Null(restarted.Status.LastSuccessAt);
        Assert.Equal("not polled since start", restarted.Status.StaleReason(DateTimeOffset.UtcNow));

        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1.5)))
        {
            await restarted.Watcher.RunAsync(cts.Token);
        }

        Assert.NotNull(restarted.Status.LastError);
        Assert.StartsWith("never reached", restarted.Status.StaleReason(DateTimeOffset.UtcNow));
    }
}
