-- See the PostgreSQL migration 0006: price feeds as read with eth_call pinned to a block.
create table feed_states (
    chain_id     integer not null,
    feed         text not null,
    block_number integer not null,
    block_hash   text not null,
    decimals     integer,
    round_id     text,
    answer       text,
    updated_at   integer,
    reason       text,
    primary key (chain_id, feed, block_number)
);
create index feed_states_by_block on feed_states (chain_id, block_number);
