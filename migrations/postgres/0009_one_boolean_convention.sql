-- One boolean convention on both backends: 0 or 1 in an integer column with
-- a CHECK (SQLite has no boolean type; `quotations.superseded` already does this).
ALTER TABLE products ALTER COLUMN active DROP DEFAULT;
ALTER TABLE products ALTER COLUMN active TYPE BIGINT USING (CASE WHEN active THEN 1 ELSE 0 END);
ALTER TABLE products ALTER COLUMN active SET DEFAULT 1;
ALTER TABLE products ADD CONSTRAINT products_active_is_0_or_1 CHECK (active IN (0, 1));
