-- People who leave: a user can be deactivated (and reactivated); personal
-- tokens expire (existing ones 90 days after they were made) and remember
-- when they were last used.
ALTER TABLE users ADD COLUMN deactivated_at INTEGER;
ALTER TABLE user_tokens ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
UPDATE user_tokens SET expires_at = created_at + 7776000000;
ALTER TABLE user_tokens ADD COLUMN last_used_at INTEGER;
CREATE INDEX user_tokens_by_user ON user_tokens (user_id);
