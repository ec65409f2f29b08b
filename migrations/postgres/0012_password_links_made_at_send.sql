-- A password link's token is made when its mail is sent and is never stored
-- in clear: the outbox row names the link to make (user, purpose, lifetime)
-- and its text holds a placeholder where the link goes.
ALTER TABLE outbox ADD COLUMN password_link TEXT;
