-- A second factor for staff: a TOTP secret (RFC 6238) once enrolled, the one
-- being enrolled, the last time step used (a code works once), one-time
-- recovery codes (SHA-256 only), and sessions that wait for the second
-- factor (or for enrolment) before they open any page.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_pending_secret TEXT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;
ALTER TABLE sessions ADD COLUMN stage TEXT NOT NULL DEFAULT 'full' CHECK (stage IN ('full', 'second_factor', 'enrol'));
CREATE TABLE recovery_codes (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id),
    code_sha256 TEXT NOT NULL UNIQUE,
    used_at     BIGINT
);
CREATE INDEX recovery_codes_by_user ON recovery_codes (user_id);
