// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IERC20} from "./interfaces/IERC20.sol";
import {Owned} from "./utils/Owned.sol";

/// @notice Holds every account's collateral (several tokens per account) for the reference protocol.
/// Registered markets (perps, options, the liquidator) settle PnL and premium in the settlement token and seize
/// collateral; the vault is their counterparty, backed by an insurance balance per token.
/// @dev Every change of an account's balance emits exactly one of Deposited, Withdrawn, PnlSettled or Seized, so an
/// indexer can rebuild balances from logs alone. Margin requirements are not enforced here: they are computed
/// off-chain across chains, and the Liquidator acts on a signed health attestation.
contract MarginVault is Owned {
    IERC20 public immutable settlementToken;

    mapping(address account => mapping(address token => uint256)) public balanceOf;
    mapping(address token => uint256) public insuranceBalance;
    mapping(address market => bool) public isMarket;
    mapping(address token => bool) public isCollateral;
    address[] private _collateralTokens;
    uint256 private _locked = 1;

    event Deposited(address indexed account, address indexed token, uint256 amount);
    event Withdrawn(address indexed account, address indexed token, uint256 amount);
    /// @dev Signed: positive credits the account. A loss is capped at the balance; the rest is emitted as BadDebt.
    event PnlSettled(address indexed account, address indexed token, int256 amount);
    event Seized(address indexed account, address indexed token, uint256 amount, address indexed to);
    event BadDebt(address indexed account, address indexed token, uint256 amount);
    event InsuranceFunded(address indexed token, address indexed from, uint256 amount);
    event MarketSet(address indexed market, bool enabled);
    event CollateralListed(address indexed token);

    modifier onlyMarket() {
        require(isMarket[msg.sender], "not a market");
        _;
    }

    modifier nonReentrant() {
        require(_locked == 1, "reentrant");
        _locked = 2;
        _;
        _locked = 1;
    }

    constructor(IERC20 settlementToken_) {
        require(address(settlementToken_) != address(0), "zero token");
        settlementToken = settlementToken_;
        _listCollateral(address(settlementToken_));
    }

    // ---- admin ----

    function setMarket(address market, bool enabled) external onlyOwner {
        require(market != address(0), "zero market");
        isMarket[market] = enabled;
        emit MarketSet(market, enabled);
    }

    function listCollateral(address token) external onlyOwner {
        require(token != address(0), "zero token");
        require(!isCollateral[token], "already listed");
        _listCollateral(token);
    }

    /// @notice Adds tokens to the insurance balance that pays PnL credits. Anyone may fund it.
    function fundInsurance(address token, uint256 amount) external nonReentrant {
        require(amount > 0, "zero amount");
        insuranceBalance[token] += amount;
        _pull(token, msg.sender, amount);
        emit InsuranceFunded(token, msg.sender, amount);
    }

    function collateralTokens() external view returns (address[] memory) {
        return _collateralTokens;
    }

    // ---- accounts ----

    function deposit(address token, uint256 amount) external nonReentrant {
        require(isCollateral[token], "not collateral");
        require(amount > 0, "zero amount");
        balanceOf[msg.sender][token] += amount;
        _pull(token, msg.sender, amount);
        emit Deposited(msg.sender, token, amount);
    }

    function withdraw(address token, uint256 amount) external nonReentrant {
        require(amount > 0, "zero amount");
        uint256 balance = balanceOf[msg.sender][token];
        require(balance >= amount, "insufficient balance");
        balanceOf[msg.sender][token] = balance - amount;
        _push(token, msg.sender, amount);
        emit Withdrawn(msg.sender, token, amount);
    }

    // ---- markets ----

    /// @notice Credits (positive) or debits (negative) an account in the settlement token against the insurance
    /// balance. Returns the amount actually settled: a debit beyond the balance is capped and the rest is bad debt.
    function settlePnl(address account, int256 amount) external onlyMarket returns (int256 settled) {
        address token = address(settlementToken);
        if (amount > 0) {
            uint256 credit = uint256(amount);
            require(insuranceBalance[token] >= credit, "insurance depleted");
            insuranceBalance[token] -= credit;
            balanceOf[account][token] += credit;
            settled = amount;
            emit PnlSettled(account, token, amount);
        } else if (amount < 0) {
            uint256 loss = uint256(-amount);
            uint256 balance = balanceOf[account][token];
            uint256 paid = loss <= balance ? loss : balance;
            balanceOf[account][token] = balance - paid;
            insuranceBalance[token] += paid;
            settled = -int256(paid);
            emit PnlSettled(account, token, settled);
            if (loss > paid) {
                emit BadDebt(account, token, loss - paid);
            }
        }
    }

    /// @notice Moves an account's collateral out of the vault to `to` (a liquidation's keeper or insurance fund).
    function seize(address account, address token, uint256 amount, address to) external onlyMarket nonReentrant {
        require(to != address(0), "seize to zero");
        uint256 balance = balanceOf[account][token];
        require(balance >= amount, "insufficient balance");
        balanceOf[account][token] = balance - amount;
        _push(token, to, amount);
        emit Seized(account, token, amount, to);
    }

    // ---- internals ----

    function _listCollateral(address token) private {
        isCollateral[token] = true;
        _collateralTokens.push(token);
        emit CollateralListed(token);
    }

    function _pull(address token, address from, uint256 amount) private {
        require(IERC20(token).transferFrom(from, address(this), amount), "transferFrom failed");
    }

    function _push(address token, address to, uint256 amount) private {
        require(IERC20(token).transfer(to, amount), "transfer failed");
    }
}
