-- Price feeds as read with eth_call pinned to a block (Multicall3): state no log carries. One row per feed and block
-- read at, with that block's hash; a rollback deletes the rows above its ancestor like facts. A failed read keeps its
-- reason and no values.
create table feed_states (
    chain_id     bigint not null,
    feed         text collate "C" not null,
    block_number bigint not null,
    block_hash   text collate "C" not null,
    decimals     integer,
    round_id     numeric(78, 0),
    answer       numeric(78, 0),
    updated_at   bigint,
    reason       text,
    primary key (chain_id, feed, block_number)
);
create index feed_states_by_block on feed_states (chain_id, block_number);
