// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {AggregatorV3Interface} from "./interfaces/AggregatorV3Interface.sol";
import {IERC20} from "./interfaces/IERC20.sol";
import {MarginVault} from "./MarginVault.sol";
import {Owned} from "./utils/Owned.sol";

/// @notice Linear perpetual futures traded against the vault at the market feed's latest price.
/// @dev Units: size has 18 decimals (signed, long positive); prices have the feed's decimals; PnL is in the
/// settlement token. With an 8-decimal feed and 6-decimal USDC: pnl = size * (price - entry) / 1e20, truncated
/// toward zero (Solidity's signed division). No funding and no on-chain margin check: margin is computed off-chain
/// across chains and enforced through the Liquidator.
contract PerpMarket is Owned {
    struct Market {
        AggregatorV3Interface feed;
        string symbol;
        // 10^(18 + feed decimals - settlement decimals): turns size x price difference into settlement units.
        uint256 pnlScale;
    }

    struct Position {
        int256 size;
        uint256 entryPrice;
    }

    MarginVault public immutable vault;
    uint8 public immutable settlementDecimals;
    address public liquidator;
    uint256 public marketCount;

    mapping(uint256 marketId => Market) private _markets;
    mapping(address account => mapping(uint256 marketId => Position)) private _positions;
    mapping(address account => uint256[]) private _openMarkets;
    // 1-based index into _openMarkets[account]; 0 = no open position.
    mapping(address account => mapping(uint256 marketId => uint256)) private _openIndex;

    event MarketListed(uint256 indexed marketId, address feed, string symbol);
    event PositionChanged(
        address indexed account,
        uint256 indexed marketId,
        int256 sizeDelta,
        int256 newSize,
        uint256 entryPrice,
        uint256 tradePrice,
        int256 realizedPnl
    );
    event LiquidatorSet(address indexed liquidator);

    constructor(MarginVault vault_) {
        vault = vault_;
        settlementDecimals = IERC20(address(vault_.settlementToken())).decimals();
    }

    // ---- admin ----

    /// @notice Lists a market on an underlying; ids start at 1. `symbol` names the underlying (e.g. "ETH").
    function listMarket(AggregatorV3Interface feed, string calldata symbol) external onlyOwner returns (uint256 marketId) {
        require(address(feed) != address(0), "zero feed");
        uint8 feedDecimals = feed.decimals();
        require(18 + uint256(feedDecimals) >= settlementDecimals, "feed decimals");
        marketId = ++marketCount;
        _markets[marketId] = Market(feed, symbol, 10 ** (18 + uint256(feedDecimals) - settlementDecimals));
        emit MarketListed(marketId, address(feed), symbol);
    }

    function setLiquidator(address liquidator_) external onlyOwner {
        liquidator = liquidator_;
        emit LiquidatorSet(liquidator_);
    }

    // ---- trading ----

    /// @notice Changes the caller's position by `sizeDelta` at the feed's latest price; returns the realised PnL.
    function trade(uint256 marketId, int256 sizeDelta) external returns (int256 realizedPnl) {
        return _trade(msg.sender, marketId, sizeDelta);
    }

    /// @notice Closes an account's whole position in a market; the Liquidator's hook.
    function closeFor(address account, uint256 marketId) external returns (int256 realizedPnl) {
        require(msg.sender == liquidator, "not liquidator");
        int256 size = _positions[account][marketId].size;
        if (size == 0) {
            return 0;
        }
        return _trade(account, marketId, -size);
    }

    // ---- views ----

    function market(uint256 marketId) external view returns (address feed, string memory symbol, uint256 pnlScale) {
        Market storage m = _market(marketId);
        return (address(m.feed), m.symbol, m.pnlScale);
    }

    function positionOf(address account, uint256 marketId) external view returns (int256 size, uint256 entryPrice) {
        Position storage p = _positions[account][marketId];
        return (p.size, p.entryPrice);
    }

    /// @notice The ids of the markets where the account has a non-zero position (unordered).
    function openMarkets(address account) external view returns (uint256[] memory) {
        return _openMarkets[account];
    }

    /// @notice The PnL the position would realise if closed at the feed's latest price.
    function unrealizedPnl(address account, uint256 marketId) external view returns (int256) {
        Market storage m = _market(marketId);
        Position storage p = _positions[account][marketId];
        return p.size * (int256(_price(m.feed)) - int256(p.entryPrice)) / int256(m.pnlScale);
    }

    // ---- internals ----

    function _trade(address account, uint256 marketId, int256 sizeDelta) private returns (int256 pnl) {
        require(sizeDelta != 0, "zero size");
        Market storage m = _market(marketId);
        uint256 price = _price(m.feed);
        Position storage p = _positions[account][marketId];
        int256 oldSize = p.size;
        int256 newSize = oldSize + sizeDelta;
        uint256 entry = p.entryPrice;

        if (oldSize == 0 || (oldSize > 0) == (sizeDelta > 0)) {
            // Open or increase: the entry becomes the size-weighted average of the old entry and this price.
            entry = (_abs(oldSize) * entry + _abs(sizeDelta) * price) / _abs(newSize);
        } else {
            // Reduce, close or flip: PnL is realised on the part that closes; what is left over opens at this price.
            int256 closed = _abs(sizeDelta) >= _abs(oldSize) ? oldSize : -sizeDelta;
            pnl = closed * (int256(price) - int256(entry)) / int256(m.pnlScale);
            if (newSize == 0) {
                entry = 0;
            } else if ((newSize > 0) != (oldSize > 0)) {
                entry = price;
            }
        }

        p.size = newSize;
        p.entryPrice = entry;
        if (oldSize == 0) {
            _openMarkets[account].push(marketId);
            _openIndex[account][marketId] = _openMarkets[account].length;
        } else if (newSize == 0) {
            _removeOpen(account, marketId);
        }

        emit PositionChanged(account, marketId, sizeDelta, newSize, entry, price, pnl);
        if (pnl != 0) {
            vault.settlePnl(account, pnl);
        }
    }

    function _removeOpen(address account, uint256 marketId) private {
        uint256[] storage ids = _openMarkets[account];
        uint256 index = _openIndex[account][marketId] - 1;
        uint256 last = ids[ids.length - 1];
        ids[index] = last;
        _openIndex[account][last] = index + 1;
        ids.pop();
        delete _openIndex[account][marketId];
    }

    function _market(uint256 marketId) private view returns (Market storage m) {
        require(marketId != 0 && marketId <= marketCount, "unknown market");
        return _markets[marketId];
    }

    function _price(AggregatorV3Interface feed) private view returns (uint256) {
        (, int256 answer,,,) = feed.latestRoundData();
        require(answer > 0, "bad price");
        return uint256(answer);
    }

    function _abs(int256 x) private pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }
}
