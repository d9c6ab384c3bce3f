-- Aggregate rows are updated by almost every batch. Without an index on the columns a batch changes (balance, size,
-- block_number, ...) and with free room in each page, PostgreSQL updates them in place (HOT) instead of writing new
-- entries in every index. A rollback finds the rows above its ancestor by scanning the chain's aggregates, which are
-- small next to the facts.
drop index collateral_balances_by_block;
drop index perp_positions_by_block;
drop index option_positions_by_block;
drop index perp_markets_by_block;
drop index option_series_by_block;
drop index price_latest_by_block;

alter table collateral_balances set (fillfactor = 80);
alter table perp_positions set (fillfactor = 80);
alter table option_positions set (fillfactor = 80);
alter table price_latest set (fillfactor = 80);
