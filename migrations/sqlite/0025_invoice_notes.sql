-- Credit and refund notes: corrections of an invoice after its e-invoice can
-- no longer be cancelled. A note takes units back from the developer's
-- quota in the transaction that issues it (a ledger adjustment naming the
-- note) and is priced at the invoice's quotation: its unit prices, discount
-- rate and SST rate. Numbers are gapless per kind and year (CN-, RN-).
CREATE TABLE invoice_notes (
    id              INTEGER PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('credit_note', 'refund_note')),
    invoice_number  TEXT NOT NULL REFERENCES invoices (number),
    reason          TEXT NOT NULL,
    subtotal_sen    INTEGER NOT NULL,
    discount_rate_bp INTEGER NOT NULL,
    discount_sen    INTEGER NOT NULL,
    tax_rate_bp     INTEGER NOT NULL,
    tax_sen         INTEGER NOT NULL,
    total_sen       INTEGER NOT NULL,
    issued_on       TEXT NOT NULL,
    issued_by       TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX invoice_notes_by_invoice ON invoice_notes (invoice_number);

CREATE TABLE invoice_note_lines (
    note_id         INTEGER NOT NULL REFERENCES invoice_notes (id),
    product_code    TEXT NOT NULL,
    units           INTEGER NOT NULL CHECK (units > 0),
    unit_price_sen  INTEGER NOT NULL,
    amount_sen      INTEGER NOT NULL,
    PRIMARY KEY (note_id, product_code)
);

-- Notes are documents (rendered, stored, served like the invoice).
CREATE TABLE documents_new (
    number       TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('quotation', 'invoice', 'delivery_order', 'credit_note', 'refund_note')),
    request_id   INTEGER NOT NULL REFERENCES quota_requests (id),
    sha256       TEXT NOT NULL,
    size_bytes   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
INSERT INTO documents_new SELECT number, kind, request_id, sha256, size_bytes, created_at FROM documents;
DROP TABLE documents;
ALTER TABLE documents_new RENAME TO documents;
CREATE INDEX documents_by_request ON documents (request_id);

-- Notes are e-invoices too: the row names an invoice or a note.
CREATE TABLE e_invoices_new (
    id              INTEGER PRIMARY KEY,
    document_number TEXT NOT NULL,
    version         INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'blocked', 'submitted', 'valid', 'invalid', 'cancelled')),
    document        TEXT,
    document_sha256 TEXT,
    submission_uid  TEXT,
    uuid            TEXT,
    long_id         TEXT,
    validation_url  TEXT,
    errors_en       TEXT,
    errors_ms       TEXT,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until     INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (document_number, version)
);
INSERT INTO e_invoices_new
    SELECT id, invoice_number, version, status, document, document_sha256, submission_uid, uuid, long_id,
           validation_url, errors_en, errors_ms, attempts, next_attempt_at, lease_owner, lease_until,
           created_at, updated_at
    FROM e_invoices;
DROP TABLE e_invoices;
ALTER TABLE e_invoices_new RENAME TO e_invoices;
CREATE INDEX e_invoices_due ON e_invoices (status, next_attempt_at);
