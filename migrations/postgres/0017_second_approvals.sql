-- Two people for large credits: a payment approval or a quota adjustment
-- above its setting's threshold waits here until a second retail officer or
-- administrator confirms it (or either cancels it with a reason).
CREATE TABLE second_approvals (
    id              BIGSERIAL PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('payment', 'adjustment')),
    payment_id      BIGINT REFERENCES payments (id),
    developer_id    BIGINT NOT NULL REFERENCES developers (id),
    product_code    TEXT,
    units           BIGINT NOT NULL,
    reason          TEXT,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'cancelled')),
    requested_by    TEXT NOT NULL,
    requested_at    BIGINT NOT NULL,
    decided_by      TEXT,
    decided_at      BIGINT,
    cancel_reason   TEXT,
    CHECK ((kind = 'payment') = (payment_id IS NOT NULL)),
    CHECK ((kind = 'adjustment') = (product_code IS NOT NULL AND reason IS NOT NULL))
);
CREATE UNIQUE INDEX second_approvals_one_pending_per_payment ON second_approvals (payment_id) WHERE status = 'pending';
CREATE INDEX second_approvals_pending ON second_approvals (status, id);
