-- The audit trail: every state change, credit, adjustment, price, setting and
-- holiday change, user and token creation and sign-in. Each record carries
-- the hash of the one before it; audit_head holds the end of the chain and
-- serialises writers (its row is updated in every recording transaction).

CREATE TABLE audit_log (
    id           BIGINT PRIMARY KEY,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    state_before TEXT,
    state_after  TEXT,
    created_at   BIGINT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);

CREATE TABLE audit_head (
    id        BIGINT PRIMARY KEY CHECK (id = 1),
    last_seq  BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);

INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
