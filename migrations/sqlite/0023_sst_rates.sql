-- The SST rate by date, like prices: a quotation fixes the rate in force on
-- its date (its invoice uses it); a new rate is added with its start date,
-- never by overwriting. Service tax was 6% from 1 September 2018 and 8%
-- from 1 March 2024 (the settings' rate, if an administrator changed it).
CREATE TABLE sst_rates (
    id             INTEGER PRIMARY KEY,
    effective_from TEXT NOT NULL UNIQUE,
    rate_bp        INTEGER NOT NULL CHECK (rate_bp >= 0 AND rate_bp <= 10000),
    created_by     TEXT NOT NULL,
    created_at     INTEGER NOT NULL
);
INSERT INTO sst_rates (effective_from, rate_bp, created_by, created_at) VALUES ('2018-09-01', 600, 'migration', 0);
INSERT INTO sst_rates (effective_from, rate_bp, created_by, created_at)
VALUES ('2024-03-01',
        COALESCE((SELECT CAST(ROUND(CAST(json_extract(value, '$.sst_rate') AS REAL) * 100) AS INTEGER)
                  FROM settings WHERE name = 'settings' AND json_extract(value, '$.sst_rate') IS NOT NULL), 800),
        'migration', 0);
UPDATE settings SET value = json_remove(value, '$.sst_rate') WHERE name = 'settings';
