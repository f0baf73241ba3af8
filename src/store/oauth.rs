//! OAuth rows: clients, their secrets (SHA-256 hashes only) and the keys that sign access tokens.

use super::schema::{oauth_client_secrets, oauth_clients, signing_keys};
use super::Conn;
use crate::scim::error::{ScimError, ScimResult};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_clients)]
pub struct ClientRow {
    pub id: String,
    pub name: String,
    /// `scim:write` or `scim:read` (see `crate::tokens::Scope`).
    pub scope: String,
    pub created: String,
    pub last_used: Option<String>,
    pub revoked: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_client_secrets)]
pub struct SecretRow {
    pub id: String,
    pub client_id: String,
    pub secret_hash: String,
    pub created: String,
    /// Set by a rotation: the end of the grace period.
    pub expires: Option<String>,
}

impl SecretRow {
    pub fn is_live(&self, now: &str) -> bool {
        self.expires.as_deref().is_none_or(|e| e > now)
    }
}

/// A signing key. Its `Debug` leaves the private key out.
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    pub kid: String,
    pub algorithm: String,
    /// PKCS#8 DER, base64.
    pub private_key: String,
    pub created: String,
    /// No longer signs from then on.
    pub retired: Option<String>,
    /// No longer verifies (nor is published) from then on.
    pub expires: Option<String>,
}

impl std::fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRow")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("private_key", &"[redacted]")
            .field("created", &self.created)
            .field("retired", &self.retired)
            .field("expires", &self.expires)
            .finish()
    }
}

impl SigningKeyRow {
    pub fn verifies(&self, now: &str) -> bool {
        self.expires.as_deref().is_none_or(|e| e > now)
    }

    pub fn signs(&self, now: &str) -> bool {
        self.retired.as_deref().is_none_or(|r| r > now) && self.verifies(now)
    }
}

pub fn insert_client(conn: &mut Conn, row: &ClientRow) -> ScimResult<()> {
    diesel::insert_into(oauth_clients::table).values(row).execute(conn)?;
    Ok(())
}

pub fn insert_secret(conn: &mut Conn, row: &SecretRow) -> ScimResult<()> {
    diesel::insert_into(oauth_client_secrets::table).values(row).execute(conn)?;
    Ok(())
}

pub fn list_clients(conn: &mut Conn) -> ScimResult<Vec<ClientRow>> {
    Ok(oauth_clients::table
        .order((oauth_clients::created.asc(), oauth_clients::id.asc()))
        .select(ClientRow::as_select())
        .load(conn)?)
}

pub fn find_client(conn: &mut Conn, id: &str) -> ScimResult<Option<ClientRow>> {
    Ok(oauth_clients::table.filter(oauth_clients::id.eq(id)).select(ClientRow::as_select()).first(conn).optional()?)
}

/// A client by id, or else by name (names are unique among clients that are not revoked; a revoked client's name
/// may be reused, and then the live one is meant).
pub fn find_client_by_id_or_name(conn: &mut Conn, key: &str) -> ScimResult<ClientRow> {
    if let Some(row) = find_client(conn, key)? {
        return Ok(row);
    }
    let named: Vec<ClientRow> = oauth_clients::table
        .filter(oauth_clients::name.eq(key))
        .order(oauth_clients::created.desc())
        .select(ClientRow::as_select())
        .load(conn)?;
    named
        .iter()
        .find(|c| c.revoked.is_none())
        .or(named.first())
        .cloned()
        .ok_or_else(|| ScimError::not_found(format!("no OAuth client with id or name \"{key}\"")))
}

pub fn live_client_named(conn: &mut Conn, name: &str) -> ScimResult<Option<ClientRow>> {
    Ok(oauth_clients::table
        .filter(oauth_clients::name.eq(name))
        .filter(oauth_clients::revoked.is_null())
        .select(ClientRow::as_select())
        .first(conn)
        .optional()?)
}

/// The secret row of `client_id` whose hash is `hash`, if any (live or not).
pub fn find_secret(conn: &mut Conn, client_id: &str, hash: &str) -> ScimResult<Option<SecretRow>> {
    Ok(oauth_client_secrets::table
        .filter(oauth_client_secrets::client_id.eq(client_id))
        .filter(oauth_client_secrets::secret_hash.eq(hash))
        .select(SecretRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn secrets_of(conn: &mut Conn, client_id: &str) -> ScimResult<Vec<SecretRow>> {
    Ok(oauth_client_secrets::table
        .filter(oauth_client_secrets::client_id.eq(client_id))
        .order(oauth_client_secrets::created.asc())
        .select(SecretRow::as_select())
        .load(conn)?)
}

/// Every secret of `client_id` live at `now` expires at `until` at the latest.
pub fn expire_secrets(conn: &mut Conn, client_id: &str, now: &str, until: &str) -> ScimResult<()> {
    for secret in secrets_of(conn, client_id)? {
        if secret.is_live(now) && secret.expires.as_deref().is_none_or(|e| e > until) {
            diesel::update(oauth_client_secrets::table.filter(oauth_client_secrets::id.eq(&secret.id)))
                .set(oauth_client_secrets::expires.eq(Some(until)))
                .execute(conn)?;
        }
    }
    Ok(())
}

pub fn revoke_client(conn: &mut Conn, id: &str, when: &str) -> ScimResult<()> {
    diesel::update(oauth_clients::table.filter(oauth_clients::id.eq(id)))
        .set(oauth_clients::revoked.eq(Some(when)))
        .execute(conn)?;
    Ok(())
}

pub fn touch_client(conn: &mut Conn, id: &str, when: &str) -> ScimResult<()> {
    diesel::update(oauth_clients::table.filter(oauth_clients::id.eq(id)))
        .set(oauth_clients::last_used.eq(Some(when)))
        .execute(conn)?;
    Ok(())
}

pub fn insert_signing_key(conn: &mut Conn, row: &SigningKeyRow) -> ScimResult<()> {
    diesel::insert_into(signing_keys::table).values(row).execute(conn)?;
    Ok(())
}

/// Every signing key, oldest first.
pub fn signing_keys(conn: &mut Conn) -> ScimResult<Vec<SigningKeyRow>> {
    Ok(signing_keys::table
        .order((signing_keys::created.asc(), signing_keys::kid.asc()))
        .select(SigningKeyRow::as_select())
        .load(conn)?)
}

/// Retires the key `kid` at `retired`; it verifies until `expires`.
pub fn retire_signing_key(conn: &mut Conn, kid: &str, retired: &str, expires: &str) -> ScimResult<()> {
    diesel::update(signing_keys::table.filter(signing_keys::kid.eq(kid)))
        .set((signing_keys::retired.eq(Some(retired)), signing_keys::expires.eq(Some(expires))))
        .execute(conn)?;
    Ok(())
}
