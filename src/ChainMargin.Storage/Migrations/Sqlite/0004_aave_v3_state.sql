-- See the PostgreSQL migration 0005 (big integers are decimal text here). Aave V3 state derived by applying the market's events in order (scaled balances, collateral bits, e-mode) and
-- read at the block (reserve configuration, indices, rates, prices). Every row is a version keyed by the block it
-- became true at: the current state is the latest version per key, and a rollback deletes the versions above the
-- ancestor (RollbackSql.FactTables), exactly like the facts. Written in the watcher's commit transaction.

create table aave_reserve_states (
    chain_id              integer not null,
    asset                 text not null,
    block_number          integer not null,
    block_hash            text not null,
    reserve_id            integer not null,
    a_token               text not null,
    stable_debt_token     text not null,
    variable_debt_token   text not null,
    dropped               integer not null,
    configuration         text not null,
    liquidity_index       text not null,
    liquidity_rate        text not null,
    variable_borrow_index text not null,
    variable_borrow_rate  text not null,
    last_update_timestamp integer not null,
    price                 text,
    price_reason          text,
    primary key (chain_id, asset, block_number)
);
create index aave_reserve_states_by_block on aave_reserve_states (chain_id, block_number);

create table aave_emode_states (
    chain_id              integer not null,
    category_id           integer not null,
    block_number          integer not null,
    block_hash            text not null,
    ltv                   integer not null,
    liquidation_threshold integer not null,
    liquidation_bonus     integer not null,
    price_source          text not null,
    price                 text,
    price_reason          text,
    primary key (chain_id, category_id, block_number)
);
create index aave_emode_states_by_block on aave_emode_states (chain_id, block_number);

create table aave_user_states (
    chain_id      integer not null,
    account       text not null,
    block_number  integer not null,
    block_hash    text not null,
    configuration text not null,
    emode         integer not null,
    primary key (chain_id, account, block_number)
);
create index aave_user_states_by_block on aave_user_states (chain_id, block_number);

create table aave_user_balances (
    chain_id             integer not null,
    account              text not null,
    reserve_id           integer not null,
    block_number         integer not null,
    block_hash           text not null,
    scaled_a_balance     text not null,
    scaled_variable_debt text not null,
    stable_principal     text not null,
    stable_rate          text not null,
    stable_timestamp     integer not null,
    primary key (chain_id, account, reserve_id, block_number)
);
create index aave_user_balances_by_block on aave_user_balances (chain_id, block_number);
