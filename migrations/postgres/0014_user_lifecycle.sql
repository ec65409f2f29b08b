-- People who leave: a user can be deactivated (and reactivated); personal
-- tokens expire (existing ones 90 days after this upgrade, so none stops at
-- once) and remember when they were last used.
ALTER TABLE users ADD COLUMN deactivated_at BIGINT;
ALTER TABLE user_tokens ADD COLUMN expires_at BIGINT NOT NULL DEFAULT 0;
UPDATE user_tokens SET expires_at = CAST(EXTRACT(EPOCH FROM now()) * 1000 AS BIGINT) + 7776000000;
ALTER TABLE user_tokens ADD COLUMN last_used_at BIGINT;
CREATE INDEX user_tokens_by_user ON user_tokens (user_id);
