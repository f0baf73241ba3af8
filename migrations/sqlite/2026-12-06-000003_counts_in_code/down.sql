CREATE TRIGGER users_count_insert AFTER INSERT ON users
BEGIN UPDATE resource_counts SET n = n + 1 WHERE resource_table = 'users'; END;
CREATE TRIGGER users_count_delete AFTER DELETE ON users
BEGIN UPDATE resource_counts SET n = n - 1 WHERE resource_table = 'users'; END;
CREATE TRIGGER groups_count_insert AFTER INSERT ON groups
BEGIN UPDATE resource_counts SET n = n + 1 WHERE resource_table = 'groups'; END;
CREATE TRIGGER groups_count_delete AFTER DELETE ON groups
BEGIN UPDATE resource_counts SET n = n - 1 WHERE resource_table = 'groups'; END;
