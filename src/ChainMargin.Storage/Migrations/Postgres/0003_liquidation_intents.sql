-- One row per liquidation the keeper decided on. The unique key makes the claim atomic across processes; state moves
-- only by compare-and-set (update ... where state = expected). The signed raw transaction and its hash are written
-- before it is broadcast, so a restarted keeper looks the transaction up instead of sending a second one.
create table liquidation_intents (
    id bigserial primary key,
    chain_id bigint not null,
    protocol text not null,
    account text not null,
    trigger_block bigint not null,
    state text not null,
    reason text,
    owner text not null,
    health_wad text,
    attestation_nonce text,
    keeper text,
    tx_nonce bigint,
    max_fee_wei text,
    priority_fee_wei text,
    raw_tx text,
    tx_hash text,
    replaced_hashes text,
    mined_block bigint,
    created_us bigint not null,
    updated_us bigint not null,
    unique (chain_id, protocol, account, trigger_block)
);

create index liquidation_intents_open on liquidation_intents (chain_id, account) where state in ('planned', 'simulated', 'signed', 'sent');
