-- Chain facts, the aggregates derived from them, checkpoints and account states.
-- Facts are keyed by (chain_id, block_hash, log_index) and carry block_number, so a rollback deletes by number
-- through an index. Hashes and addresses are lower-case hex: collate "C" keeps comparisons byte-wise and fast.
-- uint256/int256 values are numeric(78,0): 2^256 has 78 digits, bigint would overflow.

create table chain_checkpoints (
    chain_id     bigint primary key,
    block_number bigint not null,
    block_hash   text collate "C" not null,
    updated_at   timestamptz not null
);

create table blocks (
    chain_id    bigint not null,
    number      bigint not null,
    hash        text collate "C" not null,
    parent_hash text collate "C" not null,
    timestamp   bigint not null,
    primary key (chain_id, number)
);

-- Facts -------------------------------------------------------------------------------------------------------

create table collateral_changes (
    chain_id     bigint not null,
    block_hash   text collate "C" not null,
    log_index    integer not null,
    block_number bigint not null,
    contract     text collate "C" not null,
    account      text collate "C" not null,
    token        text collate "C" not null,
    delta        numeric(78, 0) not null,
    kind         text not null,
    primary key (chain_id, block_hash, log_index)
);
create index collateral_changes_by_block on collateral_changes (chain_id, block_number);
create index collateral_changes_by_key on collateral_changes (chain_id, contract, account, token);

create table perp_position_changes (
    chain_id     bigint not null,
    block_hash   text collate "C" not null,
    log_index    integer not null,
    block_number bigint not null,
    contract     text collate "C" not null,
    account      text collate "C" not null,
    market_id    numeric(78, 0) not null,
    new_size     numeric(78, 0) not null,
    entry_price  numeric(78, 0) not null,
    realized_pnl numeric(78, 0) not null,
    primary key (chain_id, block_hash, log_index)
);
create index perp_position_changes_by_block on perp_position_changes (chain_id, block_number);
create index perp_position_changes_by_key on perp_position_changes (chain_id, contract, account, market_id);

create table perp_market_listings (
    chain_id     bigint not null,
    block_hash   text collate "C" not null,
    log_index    integer not null,
    block_number bigint not null,
    contract     text collate "C" not null,
    market_id    numeric(78, 0) not null,
    feed         text collate "C" not null,
    symbol       text not null,
    primary key (chain_id, block_hash, log_index)
);
create index perp_market_listings_by_block on perp_market_listings (chain_id, block_number);
create index perp_market_listings_by_key on perp_market_listings (chain_id, contract, market_id);

create table option_series_listings (
    chain_id     bigint not null,
    block_hash   text collate "C" not null,
    log_index    integer not null,
    block_number bigint not null,
    contract     text collate "C" not null,
    series_id    numeric(78, 0) not null,
    feed         text collate "C" not null,
    symbol       text not null,
    strike       numeric(78, 0) not null,
    expiry       bigint not null,
    is_call      boolean not null,
    primary key (chain_id, block_hash, log_index)
);
create index option_series_listings_by_block on option_series_listings (chain_id, block_number);
create index option_series_listings_by_key on option_series_listings (chain_id, contract, series_id);

create table option_position_changes (
    chain_id     bigint not null,
    block_hash   text collate "C" not null,
    log_index    integer not null,
    block_number bigint not null,
    contract     text collate "C" not null,
    account      text collate "C" not null,
    series_id    numeric(78, 0) not null,
    new_size     numeric(78, 0) not null,
    primary key (chain_id, block_hash, log_index)
);
create index option_position_changes_by_block on option_position_changes (chain_id, block_number);
create index option_position_changes_by_key on option_position_changes (chain_id, contract, account, series_id);

-- Every round is kept: it is the price history the VaR model reads.
create table price_rounds (
    chain_id     bigint not null,
    block_hash   text collate "C" not null,
    log_index    integer not null,
    block_number bigint not null,
    contract     text collate "C" not null,
    round_id     numeric(78, 0) not null,
    answer       numeric(78, 0) not null,
    updated_at   bigint not null,
    primary key (chain_id, block_hash, log_index)
);
create index price_rounds_by_block on price_rounds (chain_id, block_number);
create index price_rounds_by_feed on price_rounds (chain_id, contract, block_number, log_index);

create table rejected_logs (
    chain_id     bigint not null,
    block_hash   text collate "C" not null,
    log_index    integer not null,
    block_number bigint not null,
    contract     text collate "C" not null,
    topic0       text not null,
    reason       text not null,
    primary key (chain_id, block_hash, log_index)
);
create index rejected_logs_by_block on rejected_logs (chain_id, block_number);

-- Aggregates: derived from the facts in the same transaction; block_number is the last block that touched the row,
-- so the rows a rollback must recompute are exactly those with block_number above the ancestor.

create table collateral_balances (
    chain_id     bigint not null,
    venue        text collate "C" not null,
    account      text collate "C" not null,
    token        text collate "C" not null,
    balance      numeric(78, 0) not null,
    block_number bigint not null,
    block_hash   text collate "C" not null,
    primary key (chain_id, venue, account, token)
);
create index collateral_balances_by_account on collateral_balances (account);
create index collateral_balances_by_block on collateral_balances (chain_id, block_number);

create table perp_positions (
    chain_id     bigint not null,
    venue        text collate "C" not null,
    account      text collate "C" not null,
    market_id    numeric(78, 0) not null,
    size         numeric(78, 0) not null,
    entry_price  numeric(78, 0) not null,
    block_number bigint not null,
    block_hash   text collate "C" not null,
    log_index    integer not null,
    primary key (chain_id, venue, account, market_id)
);
create index perp_positions_by_account on perp_positions (account);
create index perp_positions_by_block on perp_positions (chain_id, block_number);

create table option_positions (
    chain_id     bigint not null,
    venue        text collate "C" not null,
    account      text collate "C" not null,
    series_id    numeric(78, 0) not null,
    size         numeric(78, 0) not null,
    block_number bigint not null,
    block_hash   text collate "C" not null,
    log_index    integer not null,
    primary key (chain_id, venue, account, series_id)
);
create index option_positions_by_account on option_positions (account);
create index option_positions_by_block on option_positions (chain_id, block_number);

create table perp_markets (
    chain_id     bigint not null,
    venue        text collate "C" not null,
    market_id    numeric(78, 0) not null,
    feed         text collate "C" not null,
    symbol       text not null,
    block_number bigint not null,
    block_hash   text collate "C" not null,
    log_index    integer not null,
    primary key (chain_id, venue, market_id)
);
create index perp_markets_by_block on perp_markets (chain_id, block_number);

create table option_series (
    chain_id     bigint not null,
    venue        text collate "C" not null,
    series_id    numeric(78, 0) not null,
    feed         text collate "C" not null,
    symbol       text not null,
    strike       numeric(78, 0) not null,
    expiry       bigint not null,
    is_call      boolean not null,
    block_number bigint not null,
    block_hash   text collate "C" not null,
    log_index    integer not null,
    primary key (chain_id, venue, series_id)
);
create index option_series_by_block on option_series (chain_id, block_number);

create table price_latest (
    chain_id     bigint not null,
    feed         text collate "C" not null,
    round_id     numeric(78, 0) not null,
    answer       numeric(78, 0) not null,
    updated_at   bigint not null,
    block_number bigint not null,
    block_hash   text collate "C" not null,
    log_index    integer not null,
    primary key (chain_id, feed)
);
create index price_latest_by_block on price_latest (chain_id, block_number);

-- Account margin states: the current one per account, and a history row per change.

create table account_states (
    account      text collate "C" primary key,
    state        text not null,
    health       numeric,
    reason       text not null,
    block_vector text not null,
    at           timestamptz not null
);

create table account_state_history (
    id           bigint generated always as identity primary key,
    account      text collate "C" not null,
    state        text not null,
    health       numeric,
    reason       text not null,
    block_vector text not null,
    at           timestamptz not null
);
create index account_state_history_by_account on account_state_history (account, id);
