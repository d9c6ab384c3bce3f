using System.Numerics;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Contracts;

namespace ChainMargin.Contracts.Reference;

// MarginVault. Every change of an account's balance is exactly one of Deposited, Withdrawn, PnlSettled or Seized,
// each with (account, token) as its first two indexed topics.

[Event("Deposited")]
public sealed class DepositedEventDto : IEventDTO
{
    [Parameter("address", "account", 1, true)]
    public string Account { get; set; } = "";

    [Parameter("address", "token", 2, true)]
    public string Token { get; set; } = "";

    [Parameter("uint256", "amount", 3, false)]
    public BigInteger Amount { get; set; }
}

[Event("Withdrawn")]
public sealed class WithdrawnEventDto : IEventDTO
{
    [Parameter("address", "account", 1, true)]
    public string Account { get; set; } = "";

    [Parameter("address", "token", 2, true)]
    public string Token { get; set; } = "";

    [Parameter("uint256", "amount", 3, false)]
    public BigInteger Amount { get; set; }
}

/// <summary>Signed PnL or option premium in the settlement token; a loss is capped at the balance (see BadDebt).</summary>
[Event("PnlSettled")]
public sealed class PnlSettledEventDto : IEventDTO
{
    [Parameter("address", "account", 1, true)]
    public string Account { get; set; } = "";

    [Parameter("address", "token", 2, true)]
    public string Token { get; set; } = "";

    [Parameter("int256", "amount", 3, false)]
    public BigInteger Amount { get; set; }
}

[Event("Seized")]
public sealed class SeizedEventDto : IEventDTO
{
    [Parameter("address", "account", 1, true)]
    public string Account { get; set; } = "";

    [Parameter("address", "token", 2, true)]
    public string Token { get; set; } = "";

    [Parameter("uint256", "amount", 3, false)]
    public BigInteger Amount { get; set; }

    [Parameter("address", "to", 4, true)]
    public string To { get; set; } = "";
}

/// <summary>The part of a loss that exceeded the account's balance; not a balance change.</summary>
[Event("BadDebt")]
public sealed class BadDebtEventDto : IEventDTO
{
    [Parameter("address", "account", 1, true)]
    public string Account { get; set; } = "";

    [Parameter("address", "token", 2, true)]
    public string Token { get; set; } = "";

    [Parameter("uint256", "amount", 3, false)]
    public BigInteger Amount { get; set; }
}

[Event("InsuranceFunded")]
public sealed class InsuranceFundedEventDto : IEventDTO
{
    [Parameter("address", "token", 1, true)]
    public string Token { get; set; } = "";

    [Parameter("address", "from", 2, true)]
    public string From { get; set; } = "";

    [Parameter("uint256", "amount", 3, false)]
    public BigInteger Amount { get; set; }
}

[Event("MarketSet")]
public sealed class MarketSetEventDto : IEventDTO
{
    [Parameter("address", "market", 1, true)]
    public string Market { get; set; } = "";

    [Parameter("bool", "enabled", 2, false)]
    public bool Enabled { get; set; }
}

[Event("CollateralListed")]
public sealed class CollateralListedEventDto : IEventDTO
{
    [Parameter("address", "token", 1, true)]
    public string Token { get; set; } = "";
}

[Function("deposit")]
public sealed class DepositFunction : FunctionMessage
{
    [Parameter("address", "token", 1)]
    public string Token { get; set; } = "";

    [Parameter("uint256", "amount", 2)]
    public BigInteger Amount { get; set; }
}

[Function("withdraw")]
public sealed class WithdrawFunction : FunctionMessage
{
    [Parameter("address", "token", 1)]
    public string Token { get; set; } = "";

    [Parameter("uint256", "amount", 2)]
    public BigInteger Amount { get; set; }
}

[Function("fundInsurance")]
public sealed class FundInsuranceFunction : FunctionMessage
{
    [Parameter("address", "token", 1)]
    public string Token { get; set; } = "";

    [Parameter("uint256", "amount", 2)]
    public BigInteger Amount { get; set; }
}

/// <summary>Owner-only: lets a market (perps, options, liquidator) settle PnL and seize.</summary>
[Function("setMarket")]
public sealed class SetMarketFunction : FunctionMessage
{
    [Parameter("address", "market", 1)]
    public string Market { get; set; } = "";

    [Parameter("bool", "enabled", 2)]
    public bool Enabled { get; set; }
}

[Function("listCollateral")]
public sealed class ListCollateralFunction : FunctionMessage
{
    [Parameter("address", "token", 1)]
    public string Token { get; set; } = "";
}

/// <summary>Market-only: signed credit or debit in the settlement token.</summary>
[Function("settlePnl", "int256")]
public sealed class SettlePnlFunction : FunctionMessage
{
    [Parameter("address", "account", 1)]
    public string Account { get; set; } = "";

    [Parameter("int256", "amount", 2)]
    public BigInteger Amount { get; set; }
}

[Function("seize")]
public sealed class SeizeFunction : FunctionMessage
{
    [Parameter("address", "account", 1)]
    public string Account { get; set; } = "";

    [Parameter("address", "token", 2)]
    public string Token { get; set; } = "";

    [Parameter("uint256", "amount", 3)]
    public BigInteger Amount { get; set; }

    [Parameter("address", "to", 4)]
    public string To { get; set; } = "";
}

/// <summary>An account's vault balance of one token: balanceOf(account, token).</summary>
[Function("balanceOf", "uint256")]
public sealed class VaultBalanceOfFunction : FunctionMessage
{
    [Parameter("address", "account", 1)]
    public string Account { get; set; } = "";

    [Parameter("address", "token", 2)]
    public string Token { get; set; } = "";
}

[Function("insuranceBalance", "uint256")]
public sealed class InsuranceBalanceFunction : FunctionMessage
{
    [Parameter("address", "token", 1)]
    public string Token { get; set; } = "";
}

[Function("collateralTokens", "address[]")]
public sealed class CollateralTokensFunction : FunctionMessage
{
}

[Function("settlementToken", "address")]
public sealed class SettlementTokenFunction : FunctionMessage
{
}

[Function("isMarket", "bool")]
public sealed class IsMarketFunction : FunctionMessage
{
    [Parameter("address", "market", 1)]
    public string Market { get; set; } = "";
}

public sealed class MarginVaultDeployment : ContractDeploymentMessage
{
    public MarginVaultDeployment()
        : base(Artifacts.MarginVault.Bytecode)
    {
    }

    [Parameter("address", "settlementToken_", 1)]
    public string SettlementToken { get; set; } = "";
}
