-- scimd initial schema. See docs/architecture.md.
-- Hot SCIM attributes are real, indexed columns; everything else lives in the `resource` JSON and is
-- filtered with SQLite's JSON functions. Group membership has its own table, never a JSON array.

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    -- SHA-256 (hex) of the whole token; the token itself is never stored.
    token_hash TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    expires TEXT,
    last_used TEXT,
    revoked TEXT,
    -- Set by `scimd token rotate`: the successor's id; this token then lives until `expires` (the grace).
    replaced_by TEXT
);
CREATE INDEX api_tokens_name ON api_tokens (name);

CREATE TABLE users (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    -- RFC 7643 §4.1.1: userName is caseExact=false and unique. The *_folded columns hold the value
    -- lower-cased in full Unicode (SQLite's NOCASE folds only ASCII); the spelling the client sent is in
    -- `resource`. NOCASE on them keeps LIKE 'x%' (the `sw` operator) able to use the index.
    user_name_folded TEXT NOT NULL UNIQUE COLLATE NOCASE,
    -- RFC 7643 §3.1: externalId is caseExact=true.
    external_id TEXT,
    display_name_folded TEXT COLLATE NOCASE,
    active INTEGER NOT NULL DEFAULT 1,
    created TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    version INTEGER NOT NULL,
    resource TEXT NOT NULL
);
-- A narrow copy of the list order: deep pages (startIndex=900001) skip rows in this index, not in the table.
CREATE INDEX users_seq ON users (seq);
CREATE INDEX users_external_id ON users (external_id);
CREATE INDEX users_display_name ON users (display_name_folded);
CREATE INDEX users_active ON users (active);
CREATE INDEX users_created ON users (created);
CREATE INDEX users_last_modified ON users (last_modified);

CREATE TABLE groups (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    display_name_folded TEXT NOT NULL UNIQUE COLLATE NOCASE,
    external_id TEXT,
    created TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    version INTEGER NOT NULL,
    resource TEXT NOT NULL
);
CREATE INDEX groups_seq ON groups (seq);
CREATE INDEX groups_external_id ON groups (external_id);
CREATE INDEX groups_created ON groups (created);
CREATE INDEX groups_last_modified ON groups (last_modified);

-- One row per (group, member). member_id names a user or a group (member_type says which), so it cannot
-- carry a foreign key to both tables; deletes of users and groups remove their rows in the same transaction.
CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    member_id TEXT NOT NULL,
    member_type TEXT NOT NULL CHECK (member_type IN ('User', 'Group')),
    PRIMARY KEY (group_id, member_id)
) WITHOUT ROWID;
CREATE INDEX group_members_member ON group_members (member_id);
