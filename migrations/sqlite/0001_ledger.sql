-- Foundation: product catalogue, developers, API clients, the quota ledger,
-- holds and idempotency records. Times are Unix milliseconds (UTC).

CREATE TABLE products (
    code            TEXT PRIMARY KEY,
    name_ms         TEXT NOT NULL,
    name_en         TEXT NOT NULL,
    validity_months INTEGER NOT NULL CHECK (validity_months > 0),
    active          INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);

INSERT INTO products (code, name_ms, name_en, validity_months, active) VALUES
    ('CERT-1M', 'Sijil digital sahlaku 1 bulan', '1-month digital certificate', 1, 1),
    ('CERT-1Y', 'Sijil digital sahlaku 1 tahun', '1-year digital certificate', 12, 1);

CREATE TABLE developers (
    id              INTEGER PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    registration_no TEXT NOT NULL UNIQUE,
    email           TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending_verification', 'verified', 'rejected')),
    created_at      INTEGER NOT NULL
);

CREATE TABLE api_clients (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL CHECK (scope IN ('hims', 'admin')),
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);

CREATE TABLE ledger_accounts (
    id           INTEGER PRIMARY KEY,
    developer_id INTEGER NOT NULL REFERENCES developers (id),
    product_code TEXT NOT NULL REFERENCES products (code),
    credited     INTEGER NOT NULL DEFAULT 0 CHECK (credited >= 0),
    consumed     INTEGER NOT NULL DEFAULT 0 CHECK (consumed >= 0),
    held         INTEGER NOT NULL DEFAULT 0 CHECK (held >= 0),
    available    INTEGER NOT NULL DEFAULT 0 CHECK (available >= 0),
    CHECK (available = credited - consumed - held),
    UNIQUE (developer_id, product_code)
);

CREATE TABLE ledger_entries (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES ledger_accounts (id),
    developer_id INTEGER NOT NULL REFERENCES developers (id),
    kind         TEXT NOT NULL CHECK (kind IN ('credit', 'consume', 'hold', 'hold_commit', 'hold_release', 'hold_expire', 'adjust')),
    units        INTEGER NOT NULL CHECK (units <> 0 AND (kind = 'adjust' OR units > 0)),
    reference    TEXT NOT NULL,
    actor        TEXT NOT NULL,
    hold_id      INTEGER,
    created_at   INTEGER NOT NULL
);
CREATE INDEX ledger_entries_by_developer ON ledger_entries (developer_id, id);
CREATE INDEX ledger_entries_by_account ON ledger_entries (account_id, id);

CREATE TRIGGER ledger_entries_are_append_only_update BEFORE UPDATE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
CREATE TRIGGER ledger_entries_are_append_only_delete BEFORE DELETE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;

CREATE TABLE holds (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES ledger_accounts (id),
    developer_id INTEGER NOT NULL REFERENCES developers (id),
    units        INTEGER NOT NULL CHECK (units > 0),
    reference    TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'committed', 'released', 'expired')),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    settled_at   INTEGER
);
CREATE INDEX holds_pending_by_expiry ON holds (expires_at) WHERE status = 'pending';
CREATE INDEX holds_pending_by_developer ON holds (developer_id, expires_at) WHERE status = 'pending';

CREATE TABLE idempotency_records (
    api_client_id   INTEGER NOT NULL REFERENCES api_clients (id),
    idempotency_key TEXT NOT NULL,
    request_sha256  TEXT NOT NULL,
    response_status INTEGER NOT NULL,
    response_body   TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (api_client_id, idempotency_key)
);
CREATE INDEX idempotency_records_by_age ON idempotency_records (created_at);
