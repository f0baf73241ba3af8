DROP TABLE signing_keys; DROP TABLE oauth_client_secrets; DROP TABLE oauth_clients;
