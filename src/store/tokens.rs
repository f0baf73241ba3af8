//! API token rows. Only the SHA-256 of a token is ever stored.

use super::schema::api_tokens;
use super::{now_timestamp, Conn};
use crate::scim::error::{ScimError, ScimResult};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_tokens)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub token_hash: String,
    pub created: String,
    pub expires: Option<String>,
    pub last_used: Option<String>,
    pub revoked: Option<String>,
    pub replaced_by: Option<String>,
    /// `scim:write` or `scim:read` (see `crate::tokens::Scope`).
    pub scope: String,
}

impl TokenRow {
    /// Usable at `now` (a timestamp in the store's format): not revoked and not past its expiry.
    pub fn is_usable(&self, now: &str) -> bool {
        self.revoked.is_none() && self.expires.as_deref().is_none_or(|e| e > now)
    }

    pub fn state(&self, now: &str) -> &'static str {
        if self.revoked.is_some() {
            "revoked"
        } else if self.expires.as_deref().is_some_and(|e| e <= now) {
            "expired"
        } else if self.replaced_by.is_some() {
            "expiring"
        } else {
            "active"
        }
    }
}

pub fn insert(conn: &mut Conn, row: &TokenRow) -> ScimResult<()> {
    diesel::insert_into(api_tokens::table).values(row).execute(conn)?;
    Ok(())
}

pub fn list(conn: &mut Conn) -> ScimResult<Vec<TokenRow>> {
    Ok(api_tokens::table
        .order((api_tokens::created.asc(), api_tokens::id.asc()))
        .select(TokenRow::as_select())
        .load(conn)?)
}

pub fn find_by_hash(conn: &mut Conn, hash: &str) -> ScimResult<Option<TokenRow>> {
    Ok(api_tokens::table
        .filter(api_tokens::token_hash.eq(hash))
        .select(TokenRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn any_usable(conn: &mut Conn) -> ScimResult<bool> {
    let now = now_timestamp();
    Ok(list(conn)?.iter().any(|t| t.is_usable(&now)))
}

/// Finds a token by id, or else by name. A name shared by several tokens (a rotated one and its
/// successor) picks the newest one that is not revoked.
pub fn find_by_name_or_id(conn: &mut Conn, key: &str) -> ScimResult<TokenRow> {
    let all = list(conn)?;
    if let Some(t) = all.iter().find(|t| t.id == key) {
        return Ok(t.clone());
    }
    let mut named: Vec<&TokenRow> = all.iter().filter(|t| t.name == key).collect();
    named.sort_by(|a, b| a.created.cmp(&b.created));
    named
        .iter()
        .rev()
        .find(|t| t.revoked.is_none() && t.replaced_by.is_none())
        .or_else(|| named.iter().rev().find(|t| t.revoked.is_none()))
        .or(named.last())
        .map(|t| (*t).clone())
        .ok_or_else(|| ScimError::not_found(format!("no token with id or name \"{key}\"")))
}

pub fn revoke(conn: &mut Conn, id: &str) -> ScimResult<()> {
    diesel::update(api_tokens::table.filter(api_tokens::id.eq(id)))
        .set(api_tokens::revoked.eq(Some(now_timestamp())))
        .execute(conn)?;
    Ok(())
}

/// Marks `old_id` as replaced by `new_id`, valid until `until` at the latest.
pub fn supersede(conn: &mut Conn, old_id: &str, new_id: &str, until: &str) -> ScimResult<()> {
    let old = api_tokens::table.filter(api_tokens::id.eq(old_id)).select(TokenRow::as_select()).first(conn)?;
    let expires = match old.expires {
        Some(e) if e.as_str() < until => e,
        _ => until.to_string(),
    };
    diesel::update(api_tokens::table.filter(api_tokens::id.eq(old_id)))
        .set((api_tokens::expires.eq(Some(expires)), api_tokens::replaced_by.eq(Some(new_id))))
        .execute(conn)?;
    Ok(())
}

pub fn touch(conn: &mut Conn, id: &str, when: &str) -> ScimResult<()> {
    diesel::update(api_tokens::table.filter(api_tokens::id.eq(id)))
        .set(api_tokens::last_used.eq(Some(when)))
        .execute(conn)?;
    Ok(())
}
