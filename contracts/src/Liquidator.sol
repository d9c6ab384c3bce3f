// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {MarginVault} from "./MarginVault.sol";
import {PerpMarket} from "./PerpMarket.sol";
import {Owned} from "./utils/Owned.sol";

/// @notice The entry point keepers call. Whether an account is liquidatable is decided off-chain, across every chain
/// the account uses, and attested by the risk signer with an EIP-712 HealthAttestation; this contract checks the
/// attestation and then liquidates what the account holds on this chain: it closes every perp position (PnL settled
/// in the vault) and seizes each collateral token, bonusBps of it to the keeper and the rest to the insurance fund.
contract Liquidator is Owned {
    struct HealthAttestation {
        address account;
        uint256 health; // wad: 1e18 = 1.0; below 1.0 is liquidatable
        bytes32 blockVectorHash; // keccak256 of the canonical block vector the health was computed at
        uint256 deadline; // unix seconds
        uint256 nonce; // single use, across all accounts
    }

    bytes32 public constant HEALTH_ATTESTATION_TYPEHASH = keccak256(
        "HealthAttestation(address account,uint256 health,bytes32 blockVectorHash,uint256 deadline,uint256 nonce)"
    );
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant NAME_HASH = keccak256("ChainMargin Liquidator");
    bytes32 private constant VERSION_HASH = keccak256("1");
    uint256 private constant WAD = 1e18;
    uint256 private constant MAX_BONUS_BPS = 10_000;
    // secp256k1n / 2: signatures with a larger s are the malleable twin of a valid one (EIP-2).
    uint256 private constant HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    MarginVault public immutable vault;
    PerpMarket public immutable perpMarket;
    address public immutable optionMarket;
    uint256 public immutable bonusBps;
    address public immutable insuranceFund;
    address public riskSigner;

    mapping(uint256 nonce => bool) public usedNonces;

    event Liquidated(
        address indexed account, address indexed keeper, uint256 nonce, uint256 health, bytes32 blockVectorHash
    );
    event RiskSignerChanged(address indexed previousSigner, address indexed newSigner);

    constructor(
        MarginVault vault_,
        PerpMarket perpMarket_,
        address optionMarket_,
        address riskSigner_,
        uint256 bonusBps_,
        address insuranceFund_
    ) {
        require(address(vault_) != address(0) && address(perpMarket_) != address(0), "zero market");
        require(riskSigner_ != address(0), "zero signer");
        require(insuranceFund_ != address(0), "zero insurance fund");
        require(bonusBps_ <= MAX_BONUS_BPS, "bonus too large");
        vault = vault_;
        perpMarket = perpMarket_;
        optionMarket = optionMarket_;
        riskSigner = riskSigner_;
        bonusBps = bonusBps_;
        insuranceFund = insuranceFund_;
        emit RiskSignerChanged(address(0), riskSigner_);
    }

    function setRiskSigner(address newSigner) external onlyOwner {
        require(newSigner != address(0), "zero signer");
        emit RiskSignerChanged(riskSigner, newSigner);
        riskSigner = newSigner;
    }

    /// @dev Computed on every call rather than cached, so it stays right if the chain id changes (a fork).
    function domainSeparator() public view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    /// @notice The EIP-712 digest the risk signer signs.
    function attestationDigest(HealthAttestation calldata att) public view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                HEALTH_ATTESTATION_TYPEHASH, att.account, att.health, att.blockVectorHash, att.deadline, att.nonce
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    function liquidate(HealthAttestation calldata att, bytes calldata signature) external {
        require(_recover(attestationDigest(att), signature) == riskSigner, "bad signature");
        require(att.deadline >= block.timestamp, "expired");
        require(!usedNonces[att.nonce], "replayed");
        require(att.health < WAD, "healthy");
        usedNonces[att.nonce] = true;

        // Close perps first so realised PnL lands in the vault before the collateral is seized.
        uint256[] memory marketIds = perpMarket.openMarkets(att.account);
        for (uint256 i = 0; i < marketIds.length; i++) {
            perpMarket.closeFor(att.account, marketIds[i]);
        }

        address[] memory tokens = vault.collateralTokens();
        for (uint256 i = 0; i < tokens.length; i++) {
            uint256 balance = vault.balanceOf(att.account, tokens[i]);
            if (balance == 0) {
                continue;
            }
            uint256 bonus = balance * bonusBps / MAX_BONUS_BPS;
            if (bonus > 0) {
                vault.seize(att.account, tokens[i], bonus, msg.sender);
            }
            if (balance > bonus) {
                vault.seize(att.account, tokens[i], balance - bonus, insuranceFund);
            }
        }

        emit Liquidated(att.account, msg.sender, att.nonce, att.health, att.blockVectorHash);
    }

    /// @dev Returns address(0) for any malformed signature, which never equals the (non-zero) risk signer.
    function _recover(bytes32 digest, bytes calldata signature) private pure returns (address) {
        if (signature.length != 65) {
            return address(0);
        }
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := calldataload(signature.offset)
            s := calldataload(add(signature.offset, 32))
            v := byte(0, calldataload(add(signature.offset, 64)))
        }
        if (v < 27) {
            v += 27;
        }
        if ((v != 27 && v != 28) || uint256(s) > HALF_ORDER) {
            return address(0);
        }
        return ecrecover(digest, v, r, s);
    }
}
