using System.Globalization;
using ChainMargin.Core;

namespace ChainMargin.Liquidation.Oracles;

/// <summary>
/// Checks of one asset's spot feed (config key Prices:Feeds:ETH), optionally overridden per chain
/// (Prices:Feeds:ETH:Chains:42161). Unset values fall back to the level above, then to the Prices section.
/// </summary>
public sealed class FeedSafetyOptions
{
    /// <summary>The feed's heartbeat: a round older than this plus Prices:HeartbeatBuffer is stale.</summary>
    public long? HeartbeatSeconds { get; set; }

    /// <summary>The aggregator's lower bound in USD: an answer at or below it is the bound, not the market.</summary>
    public decimal? MinAnswer { get; set; }

    /// <summary>The aggregator's upper bound in USD: an answer at or above it is unsafe.</summary>
    public decimal? MaxAnswer { get; set; }

    /// <summary>A move between consecutive rounds larger than this fraction (0.25 = 25%) is flagged.</summary>
    public double? MaxJumpFraction { get; set; }

    /// <summary>Overrides for one chain, keyed by chain id.</summary>
    public Dictionary<string, FeedSafetyOptions> Chains { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>The checks that apply to one feed on one chain, every level of configuration resolved.</summary>
public sealed record FeedLimits(TimeSpan MaxAge, decimal? MinAnswer, decimal? MaxAnswer, double MaxJumpFraction)
{
    public static FeedLimits ForFeed(Portfolio.PriceSafetyOptions options, AssetId asset, ChainId chain)
    {
        long? heartbeat = null;
        decimal? min = null;
        decimal? max = null;
        double? jump = null;
        void Overlay(FeedSafetyOptions? level)
        {
            if (level is null)
            {
                return;
            }

            heartbeat = level.HeartbeatSeconds ?? heartbeat;
            min = level.MinAnswer ?? min;
            max = level.MaxAnswer ?? max;
            jump = level.MaxJumpFraction ?? jump;
        }

        if (options.Feeds.TryGetValue(asset.Symbol, out var feed))
        {
            Overlay(feed);
            Overlay(feed.Chains.GetValueOrDefault(chain.Value.ToString(CultureInfo.InvariantCulture)));
        }

        var maxAge = heartbeat is { } seconds ? TimeSpan.FromSeconds(seconds) + options.HeartbeatBuffer : options.MaxAge;
        return new FeedLimits(maxAge, min, max, jump ?? options.MaxJumpFraction);
    }
}

/// <summary>Names every bad value of the Prices section by its key, so a bad file fails at start-up.</summary>
internal static class PriceSafetyValidation
{
    public static IReadOnlyList<string> Validate(Portfolio.PriceSafetyOptions options)
    {
        var errors = new List<string>();
        if (options.MaxAge <= TimeSpan.Zero)
        {
            errors.Add("Prices:MaxAge must be positive");
        }

        if (options.HeartbeatBuffer < TimeSpan.Zero)
        {
            errors.Add("Prices:HeartbeatBuffer must not be negative");
        }

        if (!(options.CrossChainTolerance >= 0 && options.CrossChainTolerance < 1))
        {
            errors.Add("Prices:CrossChainTolerance must be in [0, 1)");
        }

        if (!(options.MaxJumpFraction > 0))
        {
            errors.Add("Prices:MaxJumpFraction must be positive");
        }

        if (options.SequencerGracePeriod < TimeSpan.Zero)
        {
            errors.Add("Prices:SequencerGracePeriod must not be negative");
        }

        if (!(options.VolatilityFloor >= 0 && options.VolatilityFloor < 10))
        {
            errors.Add("Prices:VolatilityFloor must be in [0, 10)");
        }

        if (options.HistoryRounds < 2)
        {
            errors.Add("Prices:HistoryRounds must be at least 2 (the jump check needs the previous round)");
        }

        if (options.MaxHistoryObservations < 3)
        {
            errors.Add("Prices:MaxHistoryObservations must be at least 3");
        }

        foreach (var (symbol, feed) in options.Feeds)
        {
            Check(errors, $"Prices:Feeds:{symbol}", feed);
            foreach (var (chain, level) in feed?.Chains ?? [])
            {
                if (!ulong.TryParse(chain, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                {
                    errors.Add($"Prices:Feeds:{symbol}:Chains:{chain} is not a chain id");
                }

                Check(errors, $"Prices:Feeds:{symbol}:Chains:{chain}", level);
            }
        }

        return errors;
    }

    private static void Check(List<string> errors, string key, FeedSafetyOptions? feed)
    {
        if (feed is null)
        {
            errors.Add($"{key} must not be empty");
            return;
        }

        if (feed.HeartbeatSeconds is <= 0)
        {
            errors.Add($"{key}:HeartbeatSeconds must be positive");
        }

        if (feed.MinAnswer is < 0)
        {
            errors.Add($"{key}:MinAnswer must not be negative");
        }

        if (feed.MinAnswer is { } min && feed.MaxAnswer is { } max && max <= min)
        {
            errors.Add($"{key}:MaxAnswer must be above MinAnswer");
        }

        if (feed.MaxJumpFraction is { } jump && !(jump > 0))
        {
            errors.Add($"{key}:MaxJumpFraction must be positive");
        }
    }
}
