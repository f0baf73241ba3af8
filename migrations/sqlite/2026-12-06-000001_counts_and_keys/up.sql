-- `active` becomes optional (RFC 7643 §4.1.1: not required; a PATCH may remove it, RFC 7644 §3.5.2.2): the
-- users table is rebuilt without its NOT NULL (SQLite cannot drop a constraint in place), same rows, same seq.
CREATE TABLE users_rebuilt (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    user_name_folded TEXT NOT NULL UNIQUE COLLATE NOCASE,
    external_id TEXT,
    display_name_folded TEXT COLLATE NOCASE,
    -- 1 true, 0 false, NULL unassigned.
    active INTEGER,
    created TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    version INTEGER NOT NULL,
    resource TEXT NOT NULL
);
INSERT INTO users_rebuilt (seq, id, user_name_folded, external_id, display_name_folded, active, created,
                           last_modified, version, resource)
    SELECT seq, id, user_name_folded, external_id, display_name_folded, active, created, last_modified, version,
           resource FROM users;
DROP TABLE users;
ALTER TABLE users_rebuilt RENAME TO users;
CREATE INDEX users_seq ON users (seq);
CREATE INDEX users_external_id ON users (external_id);
CREATE INDEX users_display_name ON users (display_name_folded);
CREATE INDEX users_active ON users (active);
CREATE INDEX users_created ON users (created);
CREATE INDEX users_last_modified ON users (last_modified);

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
