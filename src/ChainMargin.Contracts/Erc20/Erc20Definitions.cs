using System.Numerics;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Contracts;

namespace ChainMargin.Contracts.Erc20;

[Event("Transfer")]
public sealed class TransferEventDto : IEventDTO
{
    [Parameter("address", "from", 1, true)]
    public string From { get; set; } = "";

    [Parameter("address", "to", 2, true)]
    public string To { get; set; } = "";

    [Parameter("uint256", "value", 3, false)]
    public BigInteger Value { get; set; }
}

[Event("Approval")]
public sealed class ApprovalEventDto : IEventDTO
{
    [Parameter("address", "owner", 1, true)]
    public string Owner { get; set; } = "";

    [Parameter("address", "spender", 2, true)]
    public string Spender { get; set; } = "";

    [Parameter("uint256", "value", 3, false)]
    public BigInteger Value { get; set; }
}

[Function("name", "string")]
public sealed class NameFunction : FunctionMessage
{
}

[Function("symbol", "string")]
public sealed class SymbolFunction : FunctionMessage
{
}

/// <summary>decimals() returning uint8: ERC-20 tokens and Chainlink feeds share this signature.</summary>
[Function("decimals", "uint8")]
public sealed class DecimalsFunction : FunctionMessage
{
}

[Function("totalSupply", "uint256")]
public sealed class TotalSupplyFunction : FunctionMessage
{
}

[Function("balanceOf", "uint256")]
public sealed class BalanceOfFunction : FunctionMessage
{
    [Parameter("address", "account", 1)]
    public string Account { get; set; } = "";
}

[Function("allowance", "uint256")]
public sealed class AllowanceFunction : FunctionMessage
{
    [Parameter("address", "owner", 1)]
    public string Owner { get; set; } = "";

    [Parameter("address", "spender", 2)]
    public string Spender { get; set; } = "";
}

[Function("transfer", "bool")]
public sealed class TransferFunction : FunctionMessage
{
    [Parameter("address", "to", 1)]
    public string To { get; set; } = "";

    [Parameter("uint256", "amount", 2)]
    public BigInteger Amount { get; set; }
}

[Function("approve", "bool")]
public sealed class ApproveFunction : FunctionMessage
{
    [Parameter("address", "spender", 1)]
    public string Spender { get; set; } = "";

    [Parameter("uint256", "amount", 2)]
    public BigInteger Amount { get; set; }
}

[Function("transferFrom", "bool")]
public sealed class TransferFromFunction : FunctionMessage
{
    [Parameter("address", "from", 1)]
    public string From { get; set; } = "";

    [Parameter("address", "to", 2)]
    public string To { get; set; } = "";

    [Parameter("uint256", "amount", 3)]
    public BigInteger Amount { get; set; }
}

/// <summary>TestToken's open faucet (devnet only).</summary>
[Function("mint")]
public sealed class MintFunction : FunctionMessage
{
    [Parameter("address", "to", 1)]
    public string To { get; set; } = "";

    [Parameter("uint256", "amount", 2)]
    public BigInteger Amount { get; set; }
}

/// <summary>Deploys the reference protocol's TestToken (an ERC-20 with an open mint).</summary>
public sealed class TestTokenDeployment : ContractDeploymentMessage
{
    public TestTokenDeployment()
        : base(Artifacts.TestToken.Bytecode)
    {
    }

    [Parameter("string", "name_", 1)]
    public string Name { get; set; } = "";

    [Parameter("string", "symbol_", 2)]
    public string Symbol { get; set; } = "";

    [Parameter("uint8", "decimals_", 3)]
    public byte Decimals { get; set; }
}
