-- resource_counts is kept by the store's own INSERT and DELETE code from now on, in the same transaction.
-- Triggers made every insert open and trim a statement journal, which SQLite walks from its start: inserts
-- in one long transaction (a bulk, an import) grew quadratically slower.
DROP TRIGGER users_count_insert;
DROP TRIGGER users_count_delete;
DROP TRIGGER groups_count_insert;
DROP TRIGGER groups_count_delete;
-- Recount, in case a write slipped between the two mechanisms.
UPDATE resource_counts SET n = (SELECT COUNT(*) FROM users) WHERE resource_table = 'users';
UPDATE resource_counts SET n = (SELECT COUNT(*) FROM groups) WHERE resource_table = 'groups';
