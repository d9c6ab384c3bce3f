using System.Numerics;
using ChainMargin.Contracts.Devnet;

namespace ChainMargin.Contracts.Reference;

/// <summary>What the deployer sets up: roles, the liquidation bonus, initial prices and volatilities, insurance.</summary>
public sealed record ReferenceProtocolOptions
{
    public string RiskSigner { get; init; } = DevAccounts.RiskSigner.Address;

    public string InsuranceFund { get; init; } = DevAccounts.InsuranceFund.Address;

    /// <summary>The keeper's share of seized collateral, in basis points.</summary>
    public int BonusBps { get; init; } = 500;

    public decimal EthUsd { get; init; } = 3000m;

    public decimal BtcUsd { get; init; } = 60000m;

    public decimal UsdcUsd { get; init; } = 1m;

    /// <summary>Annualised implied volatility, 0.8 = 80%.</summary>
    public decimal EthVol { get; init; } = 0.8m;

    public decimal BtcVol { get; init; } = 0.6m;

    /// <summary>USDC (6 decimals) the vault holds to pay PnL credits; 10 million by default.</summary>
    public BigInteger InsuranceUsdc { get; init; } = BigInteger.Parse("10000000000000", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Install our Multicall3 at the canonical address with anvil_setCode (anvil only).</summary>
    public bool InstallMulticall3 { get; init; } = true;
}
