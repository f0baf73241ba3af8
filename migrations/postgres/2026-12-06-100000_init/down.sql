DROP TABLE signing_keys, oauth_client_secrets, oauth_clients, api_tokens, schema_generation, schema_extensions,
    server_keys, resource_counts, group_members, groups, users;
