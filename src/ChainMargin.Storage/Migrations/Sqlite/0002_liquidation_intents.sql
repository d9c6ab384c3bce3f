-- See the PostgreSQL migration 0003: the same table, the claim and the compare-and-set transitions.
create table liquidation_intents (
    id integer primary key autoincrement,
    chain_id integer not null,
    protocol text not null,
    account text not null,
    trigger_block integer not null,
    state text not null,
    reason text,
    owner text not null,
    health_wad text,
    attestation_nonce text,
    keeper text,
    tx_nonce integer,
    max_fee_wei text,
    priority_fee_wei text,
    raw_tx text,
    tx_hash text,
    replaced_hashes text,
    mined_block integer,
    created_us integer not null,
    updated_us integer not null,
    unique (chain_id, protocol, account, trigger_block)
);

create index liquidation_intents_open on liquidation_intents (chain_id, account) where state in ('planned', 'simulated', 'signed', 'sent');
