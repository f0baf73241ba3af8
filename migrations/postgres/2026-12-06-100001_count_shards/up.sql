-- Concurrent creates through several replicas each add 1 to their table's count: spread over 16 rows per table
-- ('users#0' … 'users#15', picked at random by each write; the count is the sum), so that they do not all wait
-- for one row's lock. Rows only; the schema is unchanged (tests/postgres.rs compares it with SQLite's).
INSERT INTO resource_counts (resource_table, n)
    SELECT t || '#' || s, 0 FROM (VALUES ('users'), ('groups')) AS v(t), generate_series(0, 15) AS s;
