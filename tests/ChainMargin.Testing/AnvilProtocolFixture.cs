using System.Diagnostics;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Contracts.Reference;

namespace ChainMargin.Testing;

/// <summary>
/// An anvil node with the reference protocol deployed by <see cref="ReferenceProtocolDeployer"/> (deployer, risk signer,
/// insurance fund and keeper are the <see cref="DevAccounts"/> roles). Derive to pick another chain id or options.
/// </summary>
public class AnvilProtocolFixture : AnvilFixture
{
    private DeployedProtocol? _protocol;

    public AnvilProtocolFixture()
        : this(DefaultChainId)
    {
    }

    protected AnvilProtocolFixture(ulong chainId, ReferenceProtocolOptions? options = null)
        : base(chainId) => Options = options ?? new ReferenceProtocolOptions();

    public ReferenceProtocolOptions Options { get; }

    public DeployedProtocol Protocol => _protocol ?? throw new InvalidOperationException("the fixture is not initialised");

    /// <summary>How long the deployment took (wall clock), for the deployment-speed check and benchmarks.</summary>
    public TimeSpan DeployTime { get; private set; }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var watch = Stopwatch.StartNew();
        try
        {
            _protocol = await ReferenceProtocolDeployer.DeployAsync(RpcUrl, DevAccounts.Deployer.PrivateKey, ChainId, Options);
        }
        catch
        {
            // A fixture whose start fails is not disposed by xUnit or by StartAsync's caller: its node would outlive the
            // test run (seen after a failed deploy).
            await base.DisposeAsync();
            throw;
        }

        DeployTime = watch.Elapsed;
    }

    /// <summary>
    /// Starts one node with the protocol per chain id, at once; dispose them. Should one fail to start, the others that
    /// did are stopped before the failure is thrown: nothing else would dispose them.
    /// </summary>
    public static async Task<AnvilProtocolFixture[]> StartAllAsync(params ulong[] chainIds)
    {
        ArgumentNullException.ThrowIfNull(chainIds);
        var starts = chainIds.Select(id => StartAsync(id, null)).ToArray();
        try
        {
            return await Task.WhenAll(starts);
        }
        catch
        {
            foreach (var started in starts.Where(t => t.IsCompletedSuccessfully))
            {
                await started.Result.DisposeAsync();
            }

            throw;
        }
    }

    /// <summary>Starts a node with the protocol outside xUnit's fixture lifecycle; dispose it.</summary>
    public static new async Task<AnvilProtocolFixture> StartAsync(ulong chainId) => await StartAsync(chainId, null);

    public static async Task<AnvilProtocolFixture> StartAsync(ulong chainId, ReferenceProtocolOptions? options)
    {
        var fixture = new AnvilProtocolFixture(chainId, options);
        await fixture.InitializeAsync();
        return fixture;
    }
}
