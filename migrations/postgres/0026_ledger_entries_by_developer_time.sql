-- The developer dashboard's 30-day usage chart reads only the last 30 days
-- of a developer's entries (ledger::store::daily_usage), not all of them.
CREATE INDEX ledger_entries_by_developer_time ON ledger_entries (developer_id, created_at);
