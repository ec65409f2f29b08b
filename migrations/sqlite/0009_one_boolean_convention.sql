-- One boolean convention on both backends: 0 or 1 in an integer column with
-- a CHECK. SQLite's `products.active` already is one; only PostgreSQL's
-- BOOLEAN column changes (see migrations/postgres).
SELECT 1;
