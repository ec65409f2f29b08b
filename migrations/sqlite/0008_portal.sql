-- Portal sign-in sessions, stored in the database so any node serves any
-- request. The cookie holds a random token; only its SHA-256 is kept here.

CREATE TABLE sessions (
    token_sha256 TEXT PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    csrf_token   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- Single-use links to set a password: a forgotten password (valid 1 hour)
-- or an invitation to a company's account (valid 7 days). Only the token's
-- SHA-256 is kept.
CREATE TABLE password_links (
    token_sha256 TEXT PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    purpose      TEXT NOT NULL CHECK (purpose IN ('reset', 'invitation')),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER
);
CREATE INDEX password_links_by_user ON password_links (user_id, created_at);

-- The staff queue: open requests by due date (closed ones have none).
CREATE INDEX quota_requests_by_due ON quota_requests (due_on, id) WHERE due_on IS NOT NULL;
