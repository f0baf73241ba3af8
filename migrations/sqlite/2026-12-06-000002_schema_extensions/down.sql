DROP TABLE schema_generation;
DROP TABLE schema_extensions;
