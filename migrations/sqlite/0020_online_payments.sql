-- Online payment through a gateway (Billplz): the bills kuota created, each
-- for one quotation, and every signed event the gateway sent about them.
-- A payment may now be made `online` (SQLite cannot change a CHECK, so the
-- payments table is rebuilt as in 0013).
CREATE TABLE payments_with_online (
    id              INTEGER PRIMARY KEY,
    request_id      INTEGER NOT NULL REFERENCES quota_requests (id),
    developer_id    INTEGER NOT NULL REFERENCES developers (id),
    quotation_id    INTEGER NOT NULL REFERENCES quotations (id),
    method          TEXT NOT NULL CHECK (method IN ('po', 'bank_transfer', 'card_counter', 'online')),
    reference       TEXT NOT NULL,
    amount_sen      INTEGER NOT NULL,
    paid_on         TEXT NOT NULL,
    document_sha256 TEXT NOT NULL,
    document_type   TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('submitted', 'approved', 'rejected')),
    reason          TEXT,
    submitted_by    TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    decided_at      INTEGER,
    UNIQUE (developer_id, method, reference),
    UNIQUE (developer_id, document_sha256)
);
INSERT INTO payments_with_online
    (id, request_id, developer_id, quotation_id, method, reference, amount_sen, paid_on, document_sha256,
     document_type, status, reason, submitted_by, created_at, decided_at)
SELECT id, request_id, developer_id, quotation_id, method, reference, amount_sen, paid_on, document_sha256,
       document_type, status, reason, submitted_by, created_at, decided_at
FROM payments;
DROP TABLE payments;
ALTER TABLE payments_with_online RENAME TO payments;

-- status: pending (due at the gateway) → credited (paid and credited here,
-- payment_id set) | needs_decision (paid, but for a quotation no longer in
-- force or another amount: retail credits it or marks it for refund) →
-- credited | refund; pending → deleted (request cancelled or quotation
-- superseded; a deleted bill can still be paid, and then needs a decision).
CREATE TABLE online_bills (
    id              INTEGER PRIMARY KEY,
    provider        TEXT NOT NULL CHECK (provider IN ('billplz')),
    bill_id         TEXT NOT NULL UNIQUE,
    request_id      INTEGER NOT NULL REFERENCES quota_requests (id),
    quotation_id    INTEGER NOT NULL REFERENCES quotations (id),
    developer_id    INTEGER NOT NULL REFERENCES developers (id),
    amount_sen      INTEGER NOT NULL,
    url             TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'credited', 'needs_decision', 'refund', 'deleted')),
    paid_amount_sen INTEGER,
    paid_at         TEXT,
    problem         TEXT,
    payment_id      INTEGER REFERENCES payments (id),
    decided_by      TEXT,
    decision_reason TEXT,
    created_by      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX online_bills_one_pending_per_quotation ON online_bills (quotation_id) WHERE status = 'pending';
CREATE INDEX online_bills_by_request ON online_bills (request_id);
CREATE INDEX online_bills_by_status ON online_bills (status, updated_at);

CREATE TABLE gateway_events (
    id          INTEGER PRIMARY KEY,
    provider    TEXT NOT NULL,
    bill_id     TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('callback', 'redirect', 'query')),
    body        TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX gateway_events_by_bill ON gateway_events (bill_id, id);

-- Each reconciliation run (daily, or `kuota payments reconcile`): how many
-- bills it asked the gateway about and what it found (a JSON list), shown on
-- the finance page and mailed to retail and finance when not empty.
CREATE TABLE gateway_reconciliations (
    id          INTEGER PRIMARY KEY,
    ran_at      INTEGER NOT NULL,
    checked     INTEGER NOT NULL,
    findings    TEXT NOT NULL
);
