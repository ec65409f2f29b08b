-- Personal data (PDPA 2010): when a user acknowledged the personal-data
-- notice, and when a departed user's personal data was replaced by a
-- pseudonym under the retention setting.
ALTER TABLE users ADD COLUMN privacy_acknowledged_at BIGINT;
ALTER TABLE users ADD COLUMN anonymised_at BIGINT;
