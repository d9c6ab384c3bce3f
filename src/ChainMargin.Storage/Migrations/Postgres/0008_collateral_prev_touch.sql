-- Collateral facts are the bulk of every backfill, and their per-key index (chain_id, contract, account, token) was the
-- largest single cost of a commit (about 40% of the server's insert time for 150,000 facts). Only a rollback read it:
-- to find a balance's last remaining fact. Instead each fact now carries the block number of its key's previous fact
-- (null for a key's first fact), so a rollback subtracts the removed deltas and takes the previous touch from the
-- earliest removed fact of each key, reading only the facts above the ancestor (by block). That block's hash is the
-- one every fact stored at that number carries, so it is not repeated here.
alter table collateral_changes
    add column prev_block_number bigint;

update collateral_changes as c
set prev_block_number = p.prev_number
from (
    select chain_id, block_hash, log_index,
           lag(block_number) over w as prev_number
    from collateral_changes
    window w as (partition by chain_id, contract, account, token order by block_number, log_index)
) as p
where p.prev_number is not null
  and c.chain_id = p.chain_id and c.block_hash = p.block_hash and c.log_index = p.log_index;

drop index collateral_changes_by_key;

-- Every commit of a backfill updates most balances it touched before: with half of each page free, the new row version
-- fits the same page and PostgreSQL updates it in place (HOT) instead of adding entries to both indexes.
alter table collateral_balances set (fillfactor = 50);
