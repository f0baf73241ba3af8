DROP TABLE server_keys;
DROP TRIGGER groups_count_delete;
DROP TRIGGER groups_count_insert;
DROP TRIGGER users_count_delete;
DROP TRIGGER users_count_insert;
DROP TABLE resource_counts;
-- `active` NOT NULL again: users without it count as active, as before this migration.
CREATE TABLE users_rebuilt (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    user_name_folded TEXT NOT NULL UNIQUE COLLATE NOCASE,
    external_id TEXT,
    display_name_folded TEXT COLLATE NOCASE,
    active INTEGER NOT NULL DEFAULT 1,
    created TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    version INTEGER NOT NULL,
    resource TEXT NOT NULL
);
INSERT INTO users_rebuilt SELECT seq, id, user_name_folded, external_id, display_name_folded, COALESCE(active, 1),
    created, last_modified, version, resource FROM users;
DROP TABLE users;
ALTER TABLE users_rebuilt RENAME TO users;
CREATE INDEX users_seq ON users (seq);
CREATE INDEX users_external_id ON users (external_id);
CREATE INDEX users_display_name ON users (display_name_folded);
CREATE INDEX users_active ON users (active);
CREATE INDEX users_created ON users (created);
CREATE INDEX users_last_modified ON users (last_modified);
