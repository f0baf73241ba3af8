DROP TABLE server_keys;
DROP TRIGGER groups_count_delete;
DROP TRIGGER groups_count_insert;
DROP TRIGGER users_count_delete;
DROP TRIGGER users_count_insert;
DROP TABLE resource_counts;
