-- A PO number, transfer reference or proof document is unique within one
-- developer's payments, not across companies: company A could learn of, and
-- block, company B's PO number. SQLite cannot drop a table constraint, so the
-- table is rebuilt with the developer beside each payment.
CREATE TABLE payments_by_developer (
    id              INTEGER PRIMARY KEY,
    request_id      INTEGER NOT NULL REFERENCES quota_requests (id),
    developer_id    INTEGER NOT NULL REFERENCES developers (id),
    quotation_id    INTEGER NOT NULL REFERENCES quotations (id),
    method          TEXT NOT NULL CHECK (method IN ('po', 'bank_transfer', 'card_counter')),
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
INSERT INTO payments_by_developer
    (id, request_id, developer_id, quotation_id, method, reference, amount_sen, paid_on, document_sha256,
     document_type, status, reason, submitted_by, created_at, decided_at)
SELECT p.id, p.request_id, r.developer_id, p.quotation_id, p.method, p.reference, p.amount_sen, p.paid_on,
       p.document_sha256, p.document_type, p.status, p.reason, p.submitted_by, p.created_at, p.decided_at
FROM payments p JOIN quota_requests r ON r.id = p.request_id;
DROP TABLE payments;
ALTER TABLE payments_by_developer RENAME TO payments;
