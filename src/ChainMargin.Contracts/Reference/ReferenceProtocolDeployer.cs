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
            var address = tx.QueueDeployment(
                new TestTokenDeployment { Name = name, Symbol = symbol, Decimals = (byte)decimals }, $"deploy {symbol}");
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
            var address = tx.QueueDeployment(
                new PriceFeedDeployment { Decimals = FeedDecimals, Description = description, InitialAnswer = ToFeedUnits(value) },
                $"deploy feed {description}");
            feeds.Add(new DeployedFeed(asset, kind, address, FeedDecimals, description));
        }

        var usdc = tokens[0].Address;
        var vault = tx.QueueDeployment(new MarginVaultDeployment { SettlementToken = usdc }, "deploy MarginVault");
        var perp = tx.QueueDeployment(new PerpMarketDeployment { Vault = vault }, "deploy PerpMarket");
        var option = tx.QueueDeployment(new OptionMarketDeployment { Vault = vault }, "deploy OptionMarket");
        var liquidator = tx.QueueDeployment(
            new LiquidatorDeployment
            {
                Vault = vault,
                PerpMarket = perp,
                OptionMarket = option,
                RiskSigner = options.RiskSigner,
                BonusBps = options.BonusBps,
                InsuranceFund = options.InsuranceFund,
            },
            "deploy Liquidator");

        foreach (var token in tokens.Skip(1))
        {
            tx.QueueCall(vault, new ListCollateralFunction { Token = token.Address }, $"list collateral {token.Symbol}");
        }

        foreach (var market in new[] { perp, option, liquidator })
        {
            tx.QueueCall(vault, new SetMarketFunction { Market = market, Enabled = true }, $"register market {market}");
        }

        tx.QueueCall(perp, new SetLiquidatorFunction { Liquidator = liquidator }, "set liquidator");

        var perpMarkets = new List<DeployedPerpMarket>();
        foreach (var underlying in new[] { "ETH", "BTC" })
        {
            var feed = feeds.Single(f => f.Asset == underlying && f.Kind == "spot").Address;
            tx.QueueCall(perp, new ListMarketFunction { Feed = feed, Symbol = underlying }, $"list {underlying}-PERP");
            perpMarkets.Add(new DeployedPerpMarket(perpMarkets.Count + 1, underlying, underlying + "-PERP", feed));
        }

        if (options.InsuranceUsdc > 0)
        {
            tx.QueueCall(usdc, new MintFunction { To = tx.Address, Amount = options.InsuranceUsdc }, "mint insurance");
            tx.QueueCall(usdc, new ApproveFunction { Spender = vault, Amount = options.InsuranceUsdc }, "approve insurance");
            tx.QueueCall(vault, new FundInsuranceFunction { Token = usdc, Amount = options.InsuranceUsdc }, "fund insurance");
        }

        // Every transaction goes to the node as one JSON-RPC batch; then every receipt is checked.
        await tx.VerifyAsync(cancellationToken).ConfigureAwait(false);

        var multicall = Multicall3Address.Canonical.ToLowerInvariant();
        if (options.InstallMulticall3)
        {
            // Only the runtime code is installed; Multicall3 has no constructor state to miss. It goes after the
            // transactions are mined, not in their batch: twice in CI a transaction of a batch that also carried
            // anvil_setCode was accepted and never mined.
            tx.QueueRpc("anvil_setCode", multicall, Artifacts.Multicall3.DeployedBytecode);
            await tx.VerifyAsync(cancellationToken).ConfigureAwait(false);
        }
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
