//! OAuth clients: created with a secret shown once and stored only as a SHA-256 hash (like API tokens), rotated
//! with a grace period during which the previous secret still works, revoked at once.

use crate::scim::error::{ScimError, ScimResult};
use crate::secret::Secret;
use crate::store::oauth::{self as rows, ClientRow, SecretRow};
use crate::store::{now_timestamp, timestamp, Store};
use crate::tokens::{hash_token, random_secret, Scope};

/// Client secrets start with this, so that secret scanners can recognise a leaked one.
pub const SECRET_PREFIX: &str = "scimdcs_";

pub struct NewSecret {
    pub client: ClientRow,
    /// In clear: print it once, never store or log it.
    pub secret: Secret,
}

fn secret_row(client_id: &str) -> (SecretRow, Secret) {
    let secret = random_secret(SECRET_PREFIX);
    let row = SecretRow {
        id: uuid::Uuid::new_v4().to_string(),
        client_id: client_id.to_string(),
        secret_hash: hash_token(secret.expose()),
        created: now_timestamp(),
        expires: None,
    };
    (row, secret)
}

pub fn create(store: &Store, name: &str, scope: Scope) -> ScimResult<NewSecret> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ScimError::invalid_value("a client needs a non-empty name"));
    }
    let client = ClientRow {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_string(),
        scope: scope.as_str().to_string(),
        created: now_timestamp(),
        last_used: None,
        revoked: None,
    };
    let (secret_row, secret) = secret_row(&client.id);
    store.write(|c| {
        if let Some(existing) = rows::live_client_named(c, &client.name)? {
            return Err(ScimError::uniqueness(format!(
                "a client named \"{}\" exists (id {}); pick another name or revoke it first",
                existing.name, existing.id
            )));
        }
        rows::insert_client(c, &client)?;
        rows::insert_secret(c, &secret_row)?;
        Ok(())
    })?;
    Ok(NewSecret { client, secret })
}

/// A client with its secrets, oldest first.
pub fn list(store: &Store) -> ScimResult<Vec<(ClientRow, Vec<SecretRow>)>> {
    store.read(|c| {
        let clients = rows::list_clients(c)?;
        clients
            .into_iter()
            .map(|client| {
                let secrets = rows::secrets_of(c, &client.id)?;
                Ok((client, secrets))
            })
            .collect()
    })
}

/// Adds a secret; every secret live now keeps working for `grace` at most (0 ends them at once).
pub fn rotate(store: &Store, key: &str, grace: chrono::Duration) -> ScimResult<NewSecret> {
    store.write(|c| {
        let client = rows::find_client_by_id_or_name(c, key)?;
        if client.revoked.is_some() {
            return Err(ScimError::invalid_value(format!(
                "client \"{}\" ({}) is revoked; create a new one instead",
                client.name, client.id
            )));
        }
        let now = chrono::Utc::now();
        rows::expire_secrets(c, &client.id, &timestamp(now), &timestamp(now + grace))?;
        let (row, secret) = secret_row(&client.id);
        rows::insert_secret(c, &row)?;
        Ok(NewSecret { client, secret })
    })
}

pub fn revoke(store: &Store, key: &str) -> ScimResult<ClientRow> {
    store.write(|c| {
        let client = rows::find_client_by_id_or_name(c, key)?;
        if client.revoked.is_none() {
            rows::revoke_client(c, &client.id, &now_timestamp())?;
        }
        Ok(client)
    })
}

/// Why a client's credentials were refused: for the log only; the client hears `invalid_client` whatever it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    UnknownClient,
    Revoked,
    WrongSecret,
    ExpiredSecret,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::UnknownClient => "unknown client",
            Refusal::Revoked => "client revoked",
            Refusal::WrongSecret => "wrong secret",
            Refusal::ExpiredSecret => "secret past its rotation grace period",
        }
    }
}

/// Checks a client's id and secret; on success records the use and returns the client.
pub fn authenticate(store: &Store, id: &str, secret: &Secret) -> ScimResult<Result<ClientRow, Refusal>> {
    let hash = hash_token(secret.expose());
    let found = store.read_auth(|c| {
        let Some(client) = rows::find_client(c, id)? else { return Ok(Err(Refusal::UnknownClient)) };
        if client.revoked.is_some() {
            return Ok(Err(Refusal::Revoked));
        }
        match rows::find_secret(c, id, &hash)? {
            None => Ok(Err(Refusal::WrongSecret)),
            Some(s) if !s.is_live(&now_timestamp()) => Ok(Err(Refusal::ExpiredSecret)),
            Some(_) => Ok(Ok(client)),
        }
    })?;
    // Recorded at most once a minute, like an API token's, so that a client asking for a token on every request
    // does not cost a durable write each time.
    if let Some(client) = found.as_ref().ok().filter(|c| crate::tokens::stale(c.last_used.as_deref())) {
        let when = now_timestamp();
        if let Err(e) = store.write(|c| rows::touch_client(c, &client.id, &when)) {
            log::warn!("could not record the use of OAuth client {}: {e}", client.id);
        }
    }
    Ok(found)
}

/// How `client list` shows a client's state.
pub fn state(client: &ClientRow, secrets: &[SecretRow], now: &str) -> &'static str {
    let live = secrets.iter().filter(|s| s.is_live(now)).count();
    if client.revoked.is_some() {
        "revoked"
    } else if live == 0 {
        "no-secret"
    } else if live > 1 {
        "rotating"
    } else {
        "active"
    }
}
