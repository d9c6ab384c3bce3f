-- Aave V3 state derived by applying the market's events in order (scaled balances, collateral bits, e-mode) and
-- read at the block (reserve configuration, indices, rates, prices). Every row is a version keyed by the block it
-- became true at: the current state is the latest version per key, and a rollback deletes the versions above the
-- ancestor (RollbackSql.FactTables), exactly like the facts. Written in the watcher's commit transaction.

create table aave_reserve_states (
    chain_id              bigint not null,
    asset                 text collate "C" not null,
    block_number          bigint not null,
    block_hash            text collate "C" not null,
    reserve_id            integer not null,
    a_token               text collate "C" not null,
    stable_debt_token     text collate "C" not null,
    variable_debt_token   text collate "C" not null,
    dropped               boolean not null,
    configuration         numeric(78, 0) not null,
    liquidity_index       numeric(78, 0) not null,
    liquidity_rate        numeric(78, 0) not null,
    variable_borrow_index numeric(78, 0) not null,
    variable_borrow_rate  numeric(78, 0) not null,
    last_update_timestamp bigint not null,
    price                 numeric(78, 0),
    price_reason          text,
    primary key (chain_id, asset, block_number)
);
create index aave_reserve_states_by_block on aave_reserve_states (chain_id, block_number);

create table aave_emode_states (
    chain_id              bigint not null,
    category_id           integer not null,
    block_number          bigint not null,
    block_hash            text collate "C" not null,
    ltv                   integer not null,
    liquidation_threshold integer not null,
    liquidation_bonus     integer not null,
    price_source          text collate "C" not null,
    price                 numeric(78, 0),
    price_reason          text,
    primary key (chain_id, category_id, block_number)
);
create index aave_emode_states_by_block on aave_emode_states (chain_id, block_number);

create table aave_user_states (
    chain_id      bigint not null,
    account       text collate "C" not null,
    block_number  bigint not null,
    block_hash    text collate "C" not null,
    configuration numeric(78, 0) not null,
    emode         integer not null,
    primary key (chain_id, account, block_number)
);
create index aave_user_states_by_block on aave_user_states (chain_id, block_number);

create table aave_user_balances (
    chain_id             bigint not null,
    account              text collate "C" not null,
    reserve_id           integer not null,
    block_number         bigint not null,
    block_hash           text collate "C" not null,
    scaled_a_balance     numeric(78, 0) not null,
    scaled_variable_debt numeric(78, 0) not null,
    stable_principal     numeric(78, 0) not null,
    stable_rate          numeric(78, 0) not null,
    stable_timestamp     bigint not null,
    primary key (chain_id, account, reserve_id, block_number)
);
create index aave_user_balances_by_block on aave_user_balances (chain_id, block_number);
