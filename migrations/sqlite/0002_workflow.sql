-- The purchase workflow: people, registration details, calendar, settings,
-- prices, quota requests with quotations and payments, invoices and delivery
-- orders, gapless document numbers. Dates a person picks are 'YYYY-MM-DD'
-- text in Asia/Kuala_Lumpur; instants are Unix milliseconds.

ALTER TABLE developers ADD COLUMN address TEXT;
ALTER TABLE developers ADD COLUMN state_code TEXT;
ALTER TABLE developers ADD COLUMN postcode TEXT;
ALTER TABLE developers ADD COLUMN contact_person TEXT;
ALTER TABLE developers ADD COLUMN phone TEXT;
ALTER TABLE developers ADD COLUMN decided_at INTEGER;
ALTER TABLE developers ADD COLUMN decision_reason TEXT;

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    language      TEXT NOT NULL CHECK (language IN ('ms', 'en')),
    role          TEXT NOT NULL CHECK (role IN ('developer_admin', 'developer_member', 'retail', 'finance', 'admin')),
    developer_id  INTEGER REFERENCES developers (id),
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    CHECK ((role IN ('developer_admin', 'developer_member')) = (developer_id IS NOT NULL))
);

CREATE TABLE user_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);

CREATE TABLE login_attempts (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    succeeded  INTEGER NOT NULL CHECK (succeeded IN (0, 1)),
    created_at INTEGER NOT NULL
);
CREATE INDEX login_attempts_by_user ON login_attempts (user_id, created_at);

CREATE TABLE holidays (
    day     TEXT PRIMARY KEY,
    name_ms TEXT NOT NULL,
    name_en TEXT NOT NULL
);

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE product_prices (
    id             INTEGER PRIMARY KEY,
    product_code   TEXT NOT NULL REFERENCES products (code),
    unit_price_sen INTEGER NOT NULL CHECK (unit_price_sen >= 0),
    effective_from TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    UNIQUE (product_code, effective_from)
);

CREATE TABLE document_sequences (
    kind       TEXT NOT NULL,
    year       INTEGER NOT NULL,
    last_value INTEGER NOT NULL,
    PRIMARY KEY (kind, year)
);

CREATE TABLE quota_requests (
    id            INTEGER PRIMARY KEY,
    number        TEXT NOT NULL UNIQUE,
    developer_id  INTEGER NOT NULL REFERENCES developers (id),
    status        TEXT NOT NULL,
    note          TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    due_on        TEXT
);
CREATE INDEX quota_requests_by_status ON quota_requests (status, id);
CREATE INDEX quota_requests_by_developer ON quota_requests (developer_id, id);

CREATE TABLE quota_request_lines (
    request_id   INTEGER NOT NULL REFERENCES quota_requests (id),
    product_code TEXT NOT NULL REFERENCES products (code),
    units        INTEGER NOT NULL CHECK (units > 0),
    PRIMARY KEY (request_id, product_code)
);

CREATE TABLE quota_request_events (
    id          INTEGER PRIMARY KEY,
    request_id  INTEGER NOT NULL REFERENCES quota_requests (id),
    action      TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    actor       TEXT NOT NULL,
    message     TEXT,
    due_on      TEXT,
    created_at  INTEGER NOT NULL
);
CREATE INDEX quota_request_events_by_request ON quota_request_events (request_id, id);

CREATE TABLE quotations (
    id           INTEGER PRIMARY KEY,
    request_id   INTEGER NOT NULL REFERENCES quota_requests (id),
    number       TEXT NOT NULL UNIQUE,
    revision     INTEGER NOT NULL,
    subtotal_sen INTEGER NOT NULL,
    discount_bp  INTEGER NOT NULL,
    discount_sen INTEGER NOT NULL,
    tax_bp       INTEGER NOT NULL,
    tax_sen      INTEGER NOT NULL,
    total_sen    INTEGER NOT NULL,
    issued_on    TEXT NOT NULL,
    valid_until  TEXT NOT NULL,
    superseded   INTEGER NOT NULL DEFAULT 0 CHECK (superseded IN (0, 1)),
    created_at   INTEGER NOT NULL,
    UNIQUE (request_id, revision)
);

CREATE TABLE quotation_lines (
    quotation_id   INTEGER NOT NULL REFERENCES quotations (id),
    product_code   TEXT NOT NULL REFERENCES products (code),
    units          INTEGER NOT NULL,
    unit_price_sen INTEGER NOT NULL,
    amount_sen     INTEGER NOT NULL,
    PRIMARY KEY (quotation_id, product_code)
);

CREATE TABLE payments (
    id              INTEGER PRIMARY KEY,
    request_id      INTEGER NOT NULL REFERENCES quota_requests (id),
    quotation_id    INTEGER NOT NULL REFERENCES quotations (id),
    method          TEXT NOT NULL CHECK (method IN ('po', 'bank_transfer', 'card_counter')),
    reference       TEXT NOT NULL,
    amount_sen      INTEGER NOT NULL,
    paid_on         TEXT NOT NULL,
    document_sha256 TEXT NOT NULL UNIQUE,
    document_type   TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('submitted', 'approved', 'rejected')),
    reason          TEXT,
    submitted_by    TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    decided_at      INTEGER,
    UNIQUE (method, reference)
);

CREATE TABLE invoices (
    id                    INTEGER PRIMARY KEY,
    number                TEXT NOT NULL UNIQUE,
    delivery_order_number TEXT NOT NULL UNIQUE,
    request_id            INTEGER NOT NULL UNIQUE REFERENCES quota_requests (id),
    total_sen             INTEGER NOT NULL,
    payment_status        TEXT NOT NULL CHECK (payment_status IN ('paid', 'unpaid')),
    issued_on             TEXT NOT NULL,
    paid_on               TEXT,
    settlement_reference  TEXT,
    created_at            INTEGER NOT NULL
);
