-- Each invoice's e-invoice at LHDN's MyInvois, a durable job like the mail
-- outbox: queued at the invoice's issue; the worker that claims it (a lease,
-- so several nodes never work on one) builds, checks and signs the document
-- once and keeps those exact bytes, submits them, and polls until MyInvois
-- says Valid or Invalid. A correction after Invalid is a new version.
-- status: queued → submitted → valid | invalid; queued → blocked (the rule
-- checker's problems; retried when the data is corrected); valid → cancelled.
CREATE TABLE e_invoices (
    id              BIGSERIAL PRIMARY KEY,
    invoice_number  TEXT NOT NULL REFERENCES invoices (number),
    version         BIGINT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'blocked', 'submitted', 'valid', 'invalid', 'cancelled')),
    document        TEXT,
    document_sha256 TEXT,
    submission_uid  TEXT,
    uuid            TEXT,
    long_id         TEXT,
    validation_url  TEXT,
    errors_en       TEXT,
    errors_ms       TEXT,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_owner     TEXT,
    lease_until     BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (invoice_number, version)
);
CREATE INDEX e_invoices_due ON e_invoices (status, next_attempt_at);
