-- OAuth 2.0 client credentials (RFC 6749 §4.4): scimd as its own authorization server.

-- A client is what an identity provider is given (its id, public) together with a secret.
CREATE TABLE oauth_clients (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    -- 'scim:write' (read and write) or 'scim:read' (GET and searches only), as for API tokens.
    scope TEXT NOT NULL,
    created TEXT NOT NULL,
    -- When it last obtained an access token.
    last_used TEXT,
    -- Set when revoked: its secrets and every access token issued to it stop working.
    revoked TEXT
);

-- A client's secrets, stored only as SHA-256 hashes. Several may be live at once: a rotation gives the previous
-- secrets an expiry (the end of the grace period) instead of ending them at once.
CREATE TABLE oauth_client_secrets (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES oauth_clients (id),
    secret_hash TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    expires TEXT
);
CREATE INDEX oauth_client_secrets_client ON oauth_client_secrets (client_id);

-- Keys that sign access tokens (ES256). The newest key that is not retired signs; a retired key still verifies
-- the tokens it signed until `expires`, and is published in the JWKS until then.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    algorithm TEXT NOT NULL,
    -- PKCS#8 DER, base64.
    private_key TEXT NOT NULL,
    created TEXT NOT NULL,
    retired TEXT,
    expires TEXT
);
