-- What e-mail carries besides words, and the reminders kuota sends on its
-- own: quotation expiry warnings, the daily overdue digest, and low / zero
-- balance alerts with a threshold per developer.

-- JSON list of attachments, resolved when the message is sent: issued
-- documents by number (immutable), procedure files by SHA-256 (the version
-- current when the message was written).
ALTER TABLE outbox ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]';

-- Procedure documents an administrator uploads (for non-Malaysian applicants
-- without a Malaysian phone number, for OKU applicants); the bytes live in
-- the blob store.
CREATE TABLE procedure_attachments (
    name        TEXT PRIMARY KEY,
    filename    TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    size_bytes  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT NOT NULL
);

-- NULL: the threshold in the settings applies.
ALTER TABLE developers ADD COLUMN low_balance_threshold BIGINT CHECK (low_balance_threshold >= 0);

-- The last balance level a developer was told of, per account, so each
-- crossing is announced once.
CREATE TABLE balance_alerts (
    account_id  BIGINT PRIMARY KEY REFERENCES ledger_accounts (id),
    level       TEXT NOT NULL CHECK (level IN ('ok', 'low', 'zero')),
    changed_at  BIGINT NOT NULL
);

-- A quotation's expiry is announced once.
ALTER TABLE quotations ADD COLUMN expiry_warned_at BIGINT;

-- One overdue digest per working day, whichever node sends it.
CREATE TABLE digests (
    day         TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL
);
