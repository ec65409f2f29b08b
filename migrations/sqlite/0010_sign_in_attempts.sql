-- Sign-in attempts by account (the e-mail as typed, lower-cased, known or
-- not) and client address, recorded before the password is checked so that
-- parallel guesses cannot all pass the throttle; replaces login_attempts.
CREATE TABLE sign_in_attempts (
    id         INTEGER PRIMARY KEY,
    account    TEXT NOT NULL,
    address    TEXT NOT NULL,
    succeeded  INTEGER NOT NULL DEFAULT 0 CHECK (succeeded IN (0, 1)),
    created_at INTEGER NOT NULL
);
CREATE INDEX sign_in_attempts_by_account ON sign_in_attempts (account, address, created_at);
CREATE INDEX sign_in_attempts_by_address ON sign_in_attempts (address, created_at);
DROP TABLE login_attempts;
