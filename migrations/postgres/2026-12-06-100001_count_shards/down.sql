UPDATE resource_counts c SET n = c.n + (SELECT COALESCE(SUM(s.n), 0) FROM resource_counts s
    WHERE s.resource_table LIKE c.resource_table || '#%') WHERE c.resource_table IN ('users', 'groups');
DELETE FROM resource_counts WHERE resource_table LIKE '%#%';
