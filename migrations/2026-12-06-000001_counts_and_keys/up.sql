-- Exact row counts kept by triggers, so that an unfiltered list answers `totalResults` (RFC 7644 §3.4.2)
-- without a COUNT(*) over a million rows on every page.
CREATE TABLE resource_counts (
    resource_table TEXT PRIMARY KEY NOT NULL,
    n INTEGER NOT NULL
);
INSERT INTO resource_counts (resource_table, n) SELECT 'users', COUNT(*) FROM users;
INSERT INTO resource_counts (resource_table, n) SELECT 'groups', COUNT(*) FROM groups;
CREATE TRIGGER users_count_insert AFTER INSERT ON users
BEGIN UPDATE resource_counts SET n = n + 1 WHERE resource_table = 'users'; END;
CREATE TRIGGER users_count_delete AFTER DELETE ON users
BEGIN UPDATE resource_counts SET n = n - 1 WHERE resource_table = 'users'; END;
CREATE TRIGGER groups_count_insert AFTER INSERT ON groups
BEGIN UPDATE resource_counts SET n = n + 1 WHERE resource_table = 'groups'; END;
CREATE TRIGGER groups_count_delete AFTER DELETE ON groups
BEGIN UPDATE resource_counts SET n = n - 1 WHERE resource_table = 'groups'; END;

-- Server-side keys shared by every process serving this database (the HMAC key that makes RFC 9865 cursors
-- tamper-evident). Made by the server on first start; a key here authenticates nothing a client holds.
CREATE TABLE server_keys (
    name TEXT PRIMARY KEY NOT NULL,
    key TEXT NOT NULL
);
