-- Admin-defined schema extensions (`scimd schema add`), kept in the database so that every process serving
-- it sees the same ones.
CREATE TABLE schema_extensions (
    urn TEXT PRIMARY KEY NOT NULL,
    resource_type TEXT NOT NULL CHECK (resource_type IN ('User', 'Group')),
    required INTEGER NOT NULL DEFAULT 0,
    -- The RFC 7643 §7 schema document, normalised (every characteristic spelled out), as /Schemas serves it.
    definition TEXT NOT NULL,
    -- JSON array of the attribute names that have an expression index.
    indexed TEXT NOT NULL DEFAULT '[]',
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);

-- Bumped by every change to schema_extensions; serving processes poll it and reload their schemas.
CREATE TABLE schema_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO schema_generation (id, generation) VALUES (1, 0);
