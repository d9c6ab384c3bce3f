// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {AggregatorV3Interface} from "./interfaces/AggregatorV3Interface.sol";
import {IERC20} from "./interfaces/IERC20.sol";
import {MarginVault} from "./MarginVault.sol";
import {Owned} from "./utils/Owned.sol";

/// @notice European, cash-settled options traded against the vault. The trader names the premium (the off-chain
/// quote); the vault is the counterparty. Settlement after expiry pays the intrinsic value at the feed's price.
/// @dev Units: size 18 decimals (signed, long positive); strike and settlement price in the feed's decimals;
/// premium per 1e18 units and payouts in the settlement token (USDC, 6 decimals).
contract OptionMarket is Owned {
    struct Series {
        AggregatorV3Interface feed;
        string symbol;
        uint256 strike;
        uint64 expiry;
        bool isCall;
        // 10^(18 + feed decimals - settlement decimals), as in PerpMarket.
        uint256 payoutScale;
    }

    MarginVault public immutable vault;
    address public immutable settlementToken;
    uint8 public immutable settlementDecimals;
    uint256 public seriesCount;

    mapping(uint256 seriesId => Series) private _series;
    mapping(address account => mapping(uint256 seriesId => int256)) public positionOf;

    event SeriesListed(uint256 indexed seriesId, address feed, string symbol, uint256 strike, uint64 expiry, bool isCall);
    event OptionTraded(address indexed account, uint256 indexed seriesId, int256 sizeDelta, int256 newSize, uint256 premium);
    event OptionSettled(address indexed account, uint256 indexed seriesId, int256 size, uint256 settlementPrice, int256 payout);

    constructor(MarginVault vault_) {
        vault = vault_;
        settlementToken = address(vault_.settlementToken());
        settlementDecimals = IERC20(settlementToken).decimals();
    }

    /// @notice Lists a series; ids start at 1. `symbol` names the underlying (e.g. "ETH").
    function listSeries(AggregatorV3Interface feed, string calldata symbol, uint256 strike, uint64 expiry, bool isCall)
        external
        onlyOwner
        returns (uint256 seriesId)
    {
        require(address(feed) != address(0), "zero feed");
        require(strike > 0, "zero strike");
        require(expiry > block.timestamp, "expiry in the past");
        uint8 feedDecimals = feed.decimals();
        require(18 + uint256(feedDecimals) >= settlementDecimals, "feed decimals");
        seriesId = ++seriesCount;
        _series[seriesId] =
            Series(feed, symbol, strike, expiry, isCall, 10 ** (18 + uint256(feedDecimals) - settlementDecimals));
        emit SeriesListed(seriesId, address(feed), symbol, strike, expiry, isCall);
    }

    /// @notice Buys (sizeDelta > 0, pays the premium) or sells (sizeDelta < 0, receives it) before expiry.
    /// premium = |sizeDelta| * premiumPerUnit / 1e18, in settlement-token units.
    function trade(uint256 seriesId, int256 sizeDelta, uint256 premiumPerUnit) external returns (uint256 premium) {
        Series storage s = _get(seriesId);
        require(block.timestamp < s.expiry, "expired");
        require(sizeDelta != 0, "zero size");
        premium = _abs(sizeDelta) * premiumPerUnit / 1e18;
        int256 newSize = positionOf[msg.sender][seriesId] + sizeDelta;
        positionOf[msg.sender][seriesId] = newSize;
        emit OptionTraded(msg.sender, seriesId, sizeDelta, newSize, premium);
        if (premium > 0) {
            if (sizeDelta > 0) {
                // A buyer pays in full; unlike a PnL loss, a premium is never allowed to become bad debt.
                require(vault.balanceOf(msg.sender, settlementToken) >= premium, "insufficient collateral");
                vault.settlePnl(msg.sender, -int256(premium));
            } else {
                vault.settlePnl(msg.sender, int256(premium));
            }
        }
    }

    /// @notice Settles an account's position after expiry at the feed's latest price, which must be a round
    /// updated at or after expiry (a pre-expiry price cannot settle). Anyone may call it.
    function settle(uint256 seriesId, address account) external returns (int256 payout) {
        Series storage s = _get(seriesId);
        require(block.timestamp >= s.expiry, "not expired");
        int256 size = positionOf[account][seriesId];
        require(size != 0, "no position");
        (, int256 answer,, uint256 updatedAt,) = s.feed.latestRoundData();
        require(answer > 0, "bad price");
        require(updatedAt >= s.expiry, "no price after expiry");
        uint256 price = uint256(answer);
        uint256 intrinsic;
        if (s.isCall) {
            intrinsic = price > s.strike ? price - s.strike : 0;
        } else {
            intrinsic = s.strike > price ? s.strike - price : 0;
        }
        payout = size * int256(intrinsic) / int256(s.payoutScale);
        positionOf[account][seriesId] = 0;
        emit OptionSettled(account, seriesId, size, price, payout);
        if (payout != 0) {
            vault.settlePnl(account, payout);
        }
    }

    function series(uint256 seriesId)
        external
        view
        returns (address feed, string memory symbol, uint256 strike, uint64 expiry, bool isCall)
    {
        Series storage s = _get(seriesId);
        return (address(s.feed), s.symbol, s.strike, s.expiry, s.isCall);
    }

    function _get(uint256 seriesId) private view returns (Series storage) {
        require(seriesId != 0 && seriesId <= seriesCount, "unknown series");
        return _series[seriesId];
    }

    function _abs(int256 x) private pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }
}
