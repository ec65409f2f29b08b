-- Foundation: product catalogue, developers, API clients, the quota ledger,
-- holds and idempotency records. Times are Unix milliseconds (UTC).

CREATE TABLE products (
    code            TEXT PRIMARY KEY,
    name_ms         TEXT NOT NULL,
    name_en         TEXT NOT NULL,
    validity_months BIGINT NOT NULL CHECK (validity_months > 0),
    active          BOOLEAN NOT NULL DEFAULT TRUE
);

INSERT INTO products (code, name_ms, name_en, validity_months, active) VALUES
    ('CERT-1M', 'Sijil digital sahlaku 1 bulan', '1-month digital certificate', 1, TRUE),
    ('CERT-1Y', 'Sijil digital sahlaku 1 tahun', '1-year digital certificate', 12, TRUE);

CREATE TABLE developers (
    id              BIGSERIAL PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    registration_no TEXT NOT NULL UNIQUE,
    email           TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending_verification', 'verified', 'rejected')),
    created_at      BIGINT NOT NULL
);

CREATE TABLE api_clients (
    id           BIGSERIAL PRIMARY KEY,
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL CHECK (scope IN ('hims', 'admin')),
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);

CREATE TABLE ledger_accounts (
    id           BIGSERIAL PRIMARY KEY,
    developer_id BIGINT NOT NULL REFERENCES developers (id),
    product_code TEXT NOT NULL REFERENCES products (code),
    credited     BIGINT NOT NULL DEFAULT 0 CHECK (credited >= 0),
    consumed     BIGINT NOT NULL DEFAULT 0 CHECK (consumed >= 0),
    held         BIGINT NOT NULL DEFAULT 0 CHECK (held >= 0),
    available    BIGINT NOT NULL DEFAULT 0 CHECK (available >= 0),
    CHECK (available = credited - consumed - held),
    UNIQUE (developer_id, product_code)
);

CREATE TABLE ledger_entries (
    id           BIGSERIAL PRIMARY KEY,
    account_id   BIGINT NOT NULL REFERENCES ledger_accounts (id),
    developer_id BIGINT NOT NULL REFERENCES developers (id),
    kind         TEXT NOT NULL CHECK (kind IN ('credit', 'consume', 'hold', 'hold_commit', 'hold_release', 'hold_expire', 'adjust')),
    units        BIGINT NOT NULL CHECK (units <> 0 AND (kind = 'adjust' OR units > 0)),
    reference    TEXT NOT NULL,
    actor        TEXT NOT NULL,
    hold_id      BIGINT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX ledger_entries_by_developer ON ledger_entries (developer_id, id);
CREATE INDEX ledger_entries_by_account ON ledger_entries (account_id, id);

CREATE FUNCTION ledger_entries_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only';
END;
$$;
CREATE TRIGGER ledger_entries_are_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_are_append_only();

CREATE TABLE holds (
    id           BIGSERIAL PRIMARY KEY,
    account_id   BIGINT NOT NULL REFERENCES ledger_accounts (id),
    developer_id BIGINT NOT NULL REFERENCES developers (id),
    units        BIGINT NOT NULL CHECK (units > 0),
    reference    TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'committed', 'released', 'expired')),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    settled_at   BIGINT
);
CREATE INDEX holds_pending_by_expiry ON holds (expires_at) WHERE status = 'pending';
CREATE INDEX holds_pending_by_developer ON holds (developer_id, expires_at) WHERE status = 'pending';

CREATE TABLE idempotency_records (
    api_client_id   BIGINT NOT NULL REFERENCES api_clients (id),
    idempotency_key TEXT NOT NULL,
    request_sha256  TEXT NOT NULL,
    response_status BIGINT NOT NULL,
    response_body   TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (api_client_id, idempotency_key)
);
CREATE INDEX idempotency_records_by_age ON idempotency_records (created_at);
