-- Collateral facts are the bulk of every backfill, and PostgreSQL spent most of a commit's server time on them per row:
-- a heap tuple and a primary-key entry for each fact. They are now stored one row per block: the block's facts in
-- log order as parallel arrays, keyed by (chain_id, block_number) and carrying the block's hash once. A block is the
-- unit a commit writes and a rollback removes, so nothing ever needs part of a row. Measured server-side (binary COPY
-- of 150,000 facts, 200 per block, into an empty table with its key): 630-715 ms as rows, 220-270 ms as blocks.
-- The arrays are stored uncompressed out of line (storage external): compressing them cost more than writing them.
--
-- collateral_changes stays, as a view with the shape and names it had: one row per fact. Reads (a rollback's sums,
-- operators' queries) go through it; PostgreSQL pushes a block_number condition down to the key.
-- A fact's block hash is the block's, so a block holding facts of two hashes cannot be stored: the commit refuses it.
create table collateral_change_blocks (
    chain_id          bigint not null,
    block_number      bigint not null,
    block_hash        bytea not null,
    log_index         integer[] not null,
    contract          bytea[] not null,
    account           bytea[] not null,
    token             bytea[] not null,
    delta             numeric(78, 0)[] not null,
    kind              text[] not null,
    prev_block_number bigint[] not null,
    primary key (chain_id, block_number)
);
alter table collateral_change_blocks
    alter column log_index set storage external,
    alter column contract set storage external,
    alter column account set storage external,
    alter column token set storage external,
    alter column delta set storage external,
    alter column kind set storage external,
    alter column prev_block_number set storage external;

do $$
begin
    if exists (select 1 from collateral_changes group by chain_id, block_number having count(distinct block_hash) > 1) then
        raise exception 'collateral_changes holds facts of two block hashes at one block number; roll the chain back below it first';
    end if;
end $$;

insert into collateral_change_blocks
    (chain_id, block_number, block_hash, log_index, contract, account, token, delta, kind, prev_block_number)
select chain_id, block_number, (array_agg(block_hash))[1],
       array_agg(log_index order by log_index), array_agg(contract order by log_index),
       array_agg(account order by log_index), array_agg(token order by log_index),
       array_agg(delta order by log_index), array_agg(kind order by log_index),
       array_agg(prev_block_number order by log_index)
from collateral_changes
group by chain_id, block_number;

drop table collateral_changes;

create view collateral_changes as
select b.chain_id, b.block_hash, f.log_index, b.block_number, f.contract, f.account, f.token, f.delta, f.kind, f.prev_block_number
from collateral_change_blocks as b,
     unnest(b.log_index, b.contract, b.account, b.token, b.delta, b.kind, b.prev_block_number)
         as f(log_index, contract, account, token, delta, kind, prev_block_number);
