-- What a credential may do: 'scim:write' (read and write, the default for every existing token) or
-- 'scim:read' (GET and searches only).
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'scim:write';
