-- A registration is a claim, not an identity. A developer code is held only
-- by a verified company or a pending claim; an SSM number only by a verified
-- company (several pending claims may name one, for retail to compare). A
-- claim can be withdrawn by retail or expire unverified, which releases its
-- code, number and users' e-mail addresses. SQLite cannot drop a column's
-- UNIQUE or CHECK, so the table is rebuilt (every id kept); the migration
-- runner checks every reference once the rebuild is done.
CREATE TABLE developers_claims (
    id                    INTEGER PRIMARY KEY,
    code                  TEXT NOT NULL,
    name                  TEXT NOT NULL,
    registration_no       TEXT NOT NULL,
    email                 TEXT NOT NULL,
    status                TEXT NOT NULL CHECK (status IN ('pending_verification', 'verified', 'rejected', 'withdrawn', 'expired')),
    created_at            INTEGER NOT NULL,
    address               TEXT,
    state_code            TEXT,
    postcode              TEXT,
    contact_person        TEXT,
    phone                 TEXT,
    decided_at            INTEGER,
    decision_reason       TEXT,
    low_balance_threshold INTEGER CHECK (low_balance_threshold >= 0),
    registered_from       TEXT
);
INSERT INTO developers_claims (id, code, name, registration_no, email, status, created_at, address, state_code, postcode,
                               contact_person, phone, decided_at, decision_reason, low_balance_threshold)
SELECT id, code, name, registration_no, email, status, created_at, address, state_code, postcode,
       contact_person, phone, decided_at, decision_reason, low_balance_threshold
FROM developers;
DROP TABLE developers;
ALTER TABLE developers_claims RENAME TO developers;
CREATE UNIQUE INDEX developers_code_held ON developers (code) WHERE status IN ('pending_verification', 'verified');
CREATE UNIQUE INDEX developers_registration_no_held ON developers (registration_no) WHERE status = 'verified';
CREATE INDEX developers_by_registration_no ON developers (registration_no);
CREATE INDEX developers_registered_from ON developers (registered_from, created_at);
