-- The SST rate by date, like prices: a quotation fixes the rate in force on
-- its date (its invoice uses it); a new rate is added with its start date,
-- never by overwriting. Service tax was 6% from 1 September 2018 and 8%
-- from 1 March 2024 (the settings' rate, if an administrator changed it).
CREATE TABLE sst_rates (
    id             BIGSERIAL PRIMARY KEY,
    effective_from TEXT NOT NULL UNIQUE,
    rate_bp        BIGINT NOT NULL CHECK (rate_bp >= 0 AND rate_bp <= 10000),
    created_by     TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
INSERT INTO sst_rates (effective_from, rate_bp, created_by, created_at) VALUES ('2018-09-01', 600, 'migration', 0);
INSERT INTO sst_rates (effective_from, rate_bp, created_by, created_at)
VALUES ('2024-03-01',
        COALESCE((SELECT ROUND((value::jsonb ->> 'sst_rate')::numeric * 100)::bigint
                  FROM settings WHERE name = 'settings' AND value::jsonb ? 'sst_rate'), 800),
        'migration', 0);
UPDATE settings SET value = (value::jsonb - 'sst_rate')::text WHERE name = 'settings';
