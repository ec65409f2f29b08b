-- The purchase workflow: people, registration details, calendar, settings,
-- prices, quota requests with quotations and payments, invoices and delivery
-- orders, gapless document numbers. Dates a person picks are 'YYYY-MM-DD'
-- text in Asia/Kuala_Lumpur; instants are Unix milliseconds.

ALTER TABLE developers ADD COLUMN address TEXT;
ALTER TABLE developers ADD COLUMN state_code TEXT;
ALTER TABLE developers ADD COLUMN postcode TEXT;
ALTER TABLE developers ADD COLUMN contact_person TEXT;
ALTER TABLE developers ADD COLUMN phone TEXT;
ALTER TABLE developers ADD COLUMN decided_at BIGINT;
ALTER TABLE developers ADD COLUMN decision_reason TEXT;

CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    language      TEXT NOT NULL CHECK (language IN ('ms', 'en')),
    role          TEXT NOT NULL CHECK (role IN ('developer_admin', 'developer_member', 'retail', 'finance', 'admin')),
    developer_id  BIGINT REFERENCES developers (id),
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    CHECK ((role IN ('developer_admin', 'developer_member')) = (developer_id IS NOT NULL))
);

CREATE TABLE user_tokens (
    id           BIGSERIAL PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id),
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);

CREATE TABLE login_attempts (
    id         BIGSERIAL PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    succeeded  BIGINT NOT NULL CHECK (succeeded IN (0, 1)),
    created_at BIGINT NOT NULL
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
    id             BIGSERIAL PRIMARY KEY,
    product_code   TEXT NOT NULL REFERENCES products (code),
    unit_price_sen BIGINT NOT NULL CHECK (unit_price_sen >= 0),
    effective_from TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    UNIQUE (product_code, effective_from)
);

CREATE TABLE document_sequences (
    kind       TEXT NOT NULL,
    year       BIGINT NOT NULL,
    last_value BIGINT NOT NULL,
    PRIMARY KEY (kind, year)
);

CREATE TABLE quota_requests (
    id            BIGSERIAL PRIMARY KEY,
    number        TEXT NOT NULL UNIQUE,
    developer_id  BIGINT NOT NULL REFERENCES developers (id),
    status        TEXT NOT NULL,
    note          TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    due_on        TEXT
);
CREATE INDEX quota_requests_by_status ON quota_requests (status, id);
CREATE INDEX quota_requests_by_developer ON quota_requests (developer_id, id);

CREATE TABLE quota_request_lines (
    request_id   BIGINT NOT NULL REFERENCES quota_requests (id),
    product_code TEXT NOT NULL REFERENCES products (code),
    units        BIGINT NOT NULL CHECK (units > 0),
    PRIMARY KEY (request_id, product_code)
);

CREATE TABLE quota_request_events (
    id          BIGSERIAL PRIMARY KEY,
    request_id  BIGINT NOT NULL REFERENCES quota_requests (id),
    action      TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    actor       TEXT NOT NULL,
    message     TEXT,
    due_on      TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX quota_request_events_by_request ON quota_request_events (request_id, id);

CREATE TABLE quotations (
    id           BIGSERIAL PRIMARY KEY,
    request_id   BIGINT NOT NULL REFERENCES quota_requests (id),
    number       TEXT NOT NULL UNIQUE,
    revision     BIGINT NOT NULL,
    subtotal_sen BIGINT NOT NULL,
    discount_bp  BIGINT NOT NULL,
    discount_sen BIGINT NOT NULL,
    tax_bp       BIGINT NOT NULL,
    tax_sen      BIGINT NOT NULL,
    total_sen    BIGINT NOT NULL,
    issued_on    TEXT NOT NULL,
    valid_until  TEXT NOT NULL,
    superseded   BIGINT NOT NULL DEFAULT 0 CHECK (superseded IN (0, 1)),
    created_at   BIGINT NOT NULL,
    UNIQUE (request_id, revision)
);

CREATE TABLE quotation_lines (
    quotation_id   BIGINT NOT NULL REFERENCES quotations (id),
    product_code   TEXT NOT NULL REFERENCES products (code),
    units          BIGINT NOT NULL,
    unit_price_sen BIGINT NOT NULL,
    amount_sen     BIGINT NOT NULL,
    PRIMARY KEY (quotation_id, product_code)
);

CREATE TABLE payments (
    id              BIGSERIAL PRIMARY KEY,
    request_id      BIGINT NOT NULL REFERENCES quota_requests (id),
    quotation_id    BIGINT NOT NULL REFERENCES quotations (id),
    method          TEXT NOT NULL CHECK (method IN ('po', 'bank_transfer', 'card_counter')),
    reference       TEXT NOT NULL,
    amount_sen      BIGINT NOT NULL,
    paid_on         TEXT NOT NULL,
    document_sha256 TEXT NOT NULL UNIQUE,
    document_type   TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('submitted', 'approved', 'rejected')),
    reason          TEXT,
    submitted_by    TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    decided_at      BIGINT,
    UNIQUE (method, reference)
);

CREATE TABLE invoices (
    id                    BIGSERIAL PRIMARY KEY,
    number                TEXT NOT NULL UNIQUE,
    delivery_order_number TEXT NOT NULL UNIQUE,
    request_id            BIGINT NOT NULL UNIQUE REFERENCES quota_requests (id),
    total_sen             BIGINT NOT NULL,
    payment_status        TEXT NOT NULL CHECK (payment_status IN ('paid', 'unpaid')),
    issued_on             TEXT NOT NULL,
    paid_on               TEXT,
    settlement_reference  TEXT,
    created_at            BIGINT NOT NULL
);
