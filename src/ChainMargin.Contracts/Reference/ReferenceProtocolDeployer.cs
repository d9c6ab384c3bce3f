using System.Numerics;
using ChainMargin.Contracts.Devnet;
using ChainMargin.Contracts.Erc20;
using ChainMargin.Contracts.Multicall;

namespace ChainMargin.Contracts.Reference;

/// <summary>
/// Deploys the reference protocol on a devnet chain: USDC (6), WBTC (8), WETH (18); USD spot feeds for ETH, BTC and
/// USDC; implied-volatility feeds for ETH and BTC; the vault, perp market (ETH-PERP, BTC-PERP), option market and
/// liquidator, wired together; the insurance balance funded; Multicall3 installed at its canonical address.
/// </summary>
public static class ReferenceProtocolDeployer
{
    public const int FeedDecimals = 8;

    public static async Task<DeployedProtocol> DeployAsync(
        string rpcUrl, string privateKey, ulong chainId, ReferenceProtocolOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new ReferenceProtocolOptions();
        var tx = await DevnetSender.CreateAsync(rpcUrl, privateKey, chainId, cancellationToken).ConfigureAwait(false);
        var fromBlock = (long)(await tx.Web3.Eth.Blocks.GetBlockNumber.SendRequestAsync().ConfigureAwait(false)).Value + 1;

        var tokens = new List<DeployedToken>();
        foreach (var (name, symbol, decimals) in new[] { ("USD Coin", "USDC", 6), ("Wrapped BTC", "WBTC", 8), ("Wrapped Ether", "WETH", 18) })
        {
            var address = await tx.DeployAsync(
                new TestTokenDeployment { Name = name, Symbol = symbol, Decimals = (byte)decimals }, $"deploy {symbol}", cancellationToken).ConfigureAwait(false);
            tokens.Add(new DeployedToken(symbol, address, decimals));
        }

        var feeds = new List<DeployedFeed>();
        foreach (var (asset, kind, value) in new[]
                 {
                     ("ETH", "spot", options.EthUsd), ("BTC", "spot", options.BtcUsd), ("USDC", "spot", options.UsdcUsd),
                     ("ETH", "vol", options.EthVol), ("BTC", "vol", options.BtcVol),
                 })
        {
            var description = kind == "spot" ? $"{asset} / USD" : $"{asset} / IV";
            var address = await tx.DeployAsync(
                new PriceFeedDeployment { Decimals = FeedDecimals, Description = description, InitialAnswer = ToFeedUnits(value) },
                $"deploy feed {description}", cancellationToken).ConfigureAwait(false);
            feeds.Add(new DeployedFeed(asset, kind, address, FeedDecimals, description));
        }

        var usdc = tokens[0].Address;
        var vault = await tx.DeployAsync(new MarginVaultDeployment { SettlementToken = usdc }, "deploy MarginVault", cancellationToken).ConfigureAwait(false);
        var perp = await tx.DeployAsync(new PerpMarketDeployment { Vault = vault }, "deploy PerpMarket", cancellationToken).ConfigureAwait(false);
        var option = await tx.DeployAsync(new OptionMarketDeployment { Vault = vault }, "deploy OptionMarket", cancellationToken).ConfigureAwait(false);
        var liquidator = await tx.DeployAsync(
            new LiquidatorDeployment
            {
                Vault = vault,
                PerpMarket = perp,
                OptionMarket = option,
                RiskSigner = options.RiskSigner,
                BonusBps = options.BonusBps,
                InsuranceFund = options.InsuranceFund,
            },
            "deploy Liquidator",
            cancellationToken).ConfigureAwait(false);

        foreach (var token in tokens.Skip(1))
        {
            await tx.SendAsync(vault, new ListCollateralFunction { Token = token.Address }, $"list collateral {token.Symbol}", cancellationToken).ConfigureAwait(false);
        }

        foreach (var market in new[] { perp, option, liquidator })
        {
            await tx.SendAsync(vault, new SetMarketFunction { Market = market, Enabled = true }, $"register market {market}", cancellationToken).ConfigureAwait(false);
        }

        await tx.SendAsync(perp, new SetLiquidatorFunction { Liquidator = liquidator }, "set liquidator", cancellationToken).ConfigureAwait(false);

        var perpMarkets = new List<DeployedPerpMarket>();
        foreach (var underlying in new[] { "ETH", "BTC" })
        {
            var feed = feeds.Single(f => f.Asset == underlying && f.Kind == "spot").Address;
            await tx.SendAsync(perp, new ListMarketFunction { Feed = feed, Symbol = underlying }, $"list {underlying}-PERP", cancellationToken).ConfigureAwait(false);
            perpMarkets.Add(new DeployedPerpMarket(perpMarkets.Count + 1, underlying, underlying + "-PERP", feed));
        }

        if (options.InsuranceUsdc > 0)
        {
            await tx.SendAsync(usdc, new MintFunction { To = tx.Address, Amount = options.InsuranceUsdc }, "mint insurance", cancellationToken).ConfigureAwait(false);
            await tx.SendAsync(usdc, new ApproveFunction { Spender = vault, Amount = options.InsuranceUsdc }, "approve insurance", cancellationToken).ConfigureAwait(false);
            await tx.SendAsync(vault, new FundInsuranceFunction { Token = usdc, Amount = options.InsuranceUsdc }, "fund insurance", cancellationToken).ConfigureAwait(false);
        }

        var multicall = Multicall3Address.Canonical.ToLowerInvariant();
        if (options.InstallMulticall3)
        {
            // Only the runtime code is installed; Multicall3 has no constructor state to miss.
            await tx.RpcAsync<object>("anvil_setCode", multicall, Artifacts.Multicall3.DeployedBytecode).ConfigureAwait(false);
        }

        await tx.VerifyAsync(cancellationToken).ConfigureAwait(false);
        var toBlock = (long)(await tx.Web3.Eth.Blocks.GetBlockNumber.SendRequestAsync().ConfigureAwait(false)).Value;

        return new DeployedProtocol(
            chainId,
            tx.Address.ToLowerInvariant(),
            fromBlock,
            toBlock,
            tokens,
            feeds,
            vault,
            perp,
            option,
            liquidator,
            multicall,
            perpMarkets,
            options.RiskSigner.ToLowerInvariant(),
            options.InsuranceFund.ToLowerInvariant(),
            options.BonusBps);
    }

    /// <summary>A decimal price or volatility in the feeds' 8 decimals, rounded half away from zero.</summary>
    public static BigInteger ToFeedUnits(decimal value) =>
        new(decimal.Round(value * 100_000_000m, 0, MidpointRounding.AwayFromZero));
}
