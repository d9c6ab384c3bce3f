-- Fact tables keyed by (chain_id, block_number, log_index), each fact still carrying its block_hash. The store holds
-- one chain's canonical facts: a fact of another fork at a stored height is refused by the commit (it names both
-- hashes) until a rollback removes the stored block, so the block hash adds no uniqueness to the key. The key now
-- grows in block order instead of at random hash positions, and it serves the rollback's range delete, so the
-- separate (chain_id, block_number) index goes: one index instead of two on the largest tables.
-- Adding the key checks the stored facts: a database holding two forks' facts at one height fails here, loudly.
alter table collateral_changes drop constraint collateral_changes_pkey, add primary key (chain_id, block_number, log_index);
drop index collateral_changes_by_block;
alter table perp_position_changes drop constraint perp_position_changes_pkey, add primary key (chain_id, block_number, log_index);
drop index perp_position_changes_by_block;
alter table perp_market_listings drop constraint perp_market_listings_pkey, add primary key (chain_id, block_number, log_index);
drop index perp_market_listings_by_block;
alter table option_series_listings drop constraint option_series_listings_pkey, add primary key (chain_id, block_number, log_index);
drop index option_series_listings_by_block;
alter table option_position_changes drop constraint option_position_changes_pkey, add primary key (chain_id, block_number, log_index);
drop index option_position_changes_by_block;
alter table price_rounds drop constraint price_rounds_pkey, add primary key (chain_id, block_number, log_index);
drop index price_rounds_by_block;
alter table rejected_logs drop constraint rejected_logs_pkey, add primary key (chain_id, block_number, log_index);
drop index rejected_logs_by_block;
