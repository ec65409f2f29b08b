-- A registration is a claim, not an identity. A developer code is held only
-- by a verified company or a pending claim; an SSM number only by a verified
-- company (several pending claims may name one, for retail to compare). A
-- claim can be withdrawn by retail or expire unverified, which releases its
-- code, number and users' e-mail addresses.
ALTER TABLE developers DROP CONSTRAINT developers_code_key;
ALTER TABLE developers DROP CONSTRAINT developers_registration_no_key;
ALTER TABLE developers DROP CONSTRAINT developers_status_check;
ALTER TABLE developers ADD CONSTRAINT developers_status_check
    CHECK (status IN ('pending_verification', 'verified', 'rejected', 'withdrawn', 'expired'));
ALTER TABLE developers ADD COLUMN registered_from TEXT;
CREATE UNIQUE INDEX developers_code_held ON developers (code) WHERE status IN ('pending_verification', 'verified');
CREATE UNIQUE INDEX developers_registration_no_held ON developers (registration_no) WHERE status = 'verified';
CREATE INDEX developers_by_registration_no ON developers (registration_no);
CREATE INDEX developers_registered_from ON developers (registered_from, created_at);
