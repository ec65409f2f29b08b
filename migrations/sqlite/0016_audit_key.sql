-- The audit chain is keyed (HMAC-SHA-256 with the key in KUOTA_AUDIT_KEY_FILE).
-- The head names the key that seals the chain by its fingerprint,
-- HMAC(key, 'kuota audit key') in hex, never the key. NULL: a trail from
-- before the key, linked with plain SHA-256; the first start checks it and
-- re-seals it with the key (audit::seal).
ALTER TABLE audit_head ADD COLUMN key_id TEXT;
