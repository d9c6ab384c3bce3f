using ChainMargin.Contracts.Devnet;
using Xunit;

namespace ChainMargin.Testing;

/// <summary>
/// An xUnit fixture owning one anvil node on a free port. Use it as a class fixture (one node per test class, so test
/// classes can run in parallel) or derive to pick another chain id: <c>class Chain2 : AnvilFixture { public Chain2() : base(2002) {} }</c>.
/// </summary>
public class AnvilFixture : IAsyncLifetime
{
    public const ulong DefaultChainId = 31337;

    private AnvilNode? _node;
    private AnvilRpc? _rpc;

    public AnvilFixture()
        : this(DefaultChainId)
    {
    }

    protected AnvilFixture(ulong chainId) => ChainId = chainId;

    public ulong ChainId { get; }

    public AnvilNode Node => _node ?? throw new InvalidOperationException("the fixture is not initialised");

    public AnvilRpc Rpc => _rpc ?? throw new InvalidOperationException("the fixture is not initialised");

    public string RpcUrl => Node.RpcUrl;

    public virtual async Task InitializeAsync()
    {
        _node = await AnvilNode.StartAsync(ChainId);
        _rpc = new AnvilRpc(_node.RpcUrl);
    }

    public virtual async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
            _node = null;
        }
    }

    /// <summary>Starts a node outside xUnit's fixture lifecycle (e.g. several chains inside one test); dispose it.</summary>
    public static async Task<AnvilFixture> StartAsync(ulong chainId)
    {
        var fixture = new AnvilFixture(chainId);
        await fixture.InitializeAsync();
        return fixture;
    }
}
