-- Online payment through a gateway (Billplz): the bills kuota created, each
-- for one quotation, and every signed event the gateway sent about them.
-- A payment may now be made `online`.
ALTER TABLE payments DROP CONSTRAINT payments_method_check;
ALTER TABLE payments ADD CONSTRAINT payments_method_check
    CHECK (method IN ('po', 'bank_transfer', 'card_counter', 'online'));

-- status: pending (due at the gateway) → credited (paid and credited here,
-- payment_id set) | needs_decision (paid, but for a quotation no longer in
-- force or another amount: retail credits it or marks it for refund) →
-- credited | refund; pending → deleted (request cancelled or quotation
-- superseded; a deleted bill can still be paid, and then needs a decision).
CREATE TABLE online_bills (
    id              BIGSERIAL PRIMARY KEY,
    provider        TEXT NOT NULL CHECK (provider IN ('billplz')),
    bill_id         TEXT NOT NULL UNIQUE,
    request_id      BIGINT NOT NULL REFERENCES quota_requests (id),
    quotation_id    BIGINT NOT NULL REFERENCES quotations (id),
    developer_id    BIGINT NOT NULL REFERENCES developers (id),
    amount_sen      BIGINT NOT NULL,
    url             TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'credited', 'needs_decision', 'refund', 'deleted')),
    paid_amount_sen BIGINT,
    paid_at         TEXT,
    problem         TEXT,
    payment_id      BIGINT REFERENCES payments (id),
    decided_by      TEXT,
    decision_reason TEXT,
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX online_bills_one_pending_per_quotation ON online_bills (quotation_id) WHERE status = 'pending';
CREATE INDEX online_bills_by_request ON online_bills (request_id);
CREATE INDEX online_bills_by_status ON online_bills (status, updated_at);

CREATE TABLE gateway_events (
    id          BIGSERIAL PRIMARY KEY,
    provider    TEXT NOT NULL,
    bill_id     TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('callback', 'redirect', 'query')),
    body        TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX gateway_events_by_bill ON gateway_events (bill_id, id);

-- Each reconciliation run (daily, or `kuota payments reconcile`): how many
-- bills it asked the gateway about and what it found (a JSON list), shown on
-- the finance page and mailed to retail and finance when not empty.
CREATE TABLE gateway_reconciliations (
    id          BIGSERIAL PRIMARY KEY,
    ran_at      BIGINT NOT NULL,
    checked     BIGINT NOT NULL,
    findings    TEXT NOT NULL
);
