-- People who leave: a user can be deactivated (and reactivated); personal
-- tokens expire (existing ones 90 days after this upgrade, so none stops at
-- once) and remember when they were last used.
ALTER TABLE users ADD COLUMN deactivated_at INTEGER;
ALTER TABLE user_tokens ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
UPDATE user_tokens SET expires_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000 + 7776000000;
ALTER TABLE user_tokens ADD COLUMN last_used_at INTEGER;
CREATE INDEX user_tokens_by_user ON user_tokens (user_id);
