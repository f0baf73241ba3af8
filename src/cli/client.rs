//! `scimd client create | list | revoke | rotate` (OAuth clients) and `scimd signing-key list | rotate`.
//! A client secret is printed once, at creation or rotation; never again.

use super::open_store;
use crate::oauth::{clients, keys};
use crate::store::{now_timestamp, oauth as rows};
use crate::tokens::{self, Scope};
use clap::{Subcommand, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScopeArg {
    /// Read and write (the default).
    #[value(name = "scim:write")]
    Write,
    /// GET and searches only; every write gets 403.
    #[value(name = "scim:read")]
    Read,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create a client and print its id and secret (the secret only this once).
    Create {
        /// A label for the client, e.g. the identity provider that will use it (unique among live clients).
        #[arg(long)]
        name: String,
        /// What its access tokens may do.
        #[arg(long, value_enum, default_value = "scim:write")]
        scope: ScopeArg,
    },
    /// List clients (never their secrets).
    List,
    /// Revoke a client at once, by id or name: its secrets and every access token issued to it stop working.
    Revoke {
        /// Client id or name.
        client: String,
    },
    /// Give a client a new secret and keep its current ones valid for a grace period, so the identity provider
    /// can be updated without a failed sync in between.
    Rotate {
        /// Client id or name.
        client: String,
        /// How long the current secrets keep working, e.g. 24h (0s ends them at once).
        #[arg(long, default_value = "24h")]
        grace: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SigningKeyCommand {
    /// List the keys that sign OAuth access tokens (never their private parts).
    List,
    /// Start signing with a new key. The previous keys keep verifying the tokens they signed until those
    /// expire (6 hours at most), unless --retire-now.
    Rotate {
        /// Stop accepting tokens signed by the previous keys at once (after a leak): their clients must ask
        /// for new tokens.
        #[arg(long)]
        retire_now: bool,
    },
}

pub fn run(database: &str, cmd: ClientCommand) -> Result<(), String> {
    let store = open_store(database)?;
    match cmd {
        ClientCommand::Create { name, scope } => {
            let scope = match scope {
                ScopeArg::Write => Scope::ReadWrite,
                ScopeArg::Read => Scope::ReadOnly,
            };
            let created = clients::create(&store, &name, scope).map_err(|e| e.detail)?;
            eprintln!(
                "Created {} OAuth client \"{}\". The secret is shown only once; store it now:",
                scope.label(),
                created.client.name
            );
            println!("client_id: {}", created.client.id);
            println!("client_secret: {}", created.secret.expose());
        }
        ClientCommand::List => {
            let now = now_timestamp();
            println!(
                "{:<36}  {:<20}  {:<10}  {:<24}  {:<24}  {:<7}  STATE",
                "CLIENT ID", "NAME", "SCOPE", "CREATED", "LAST USED", "SECRETS"
            );
            for (client, secrets) in clients::list(&store).map_err(|e| e.detail)? {
                let live =
                    if client.revoked.is_some() { 0 } else { secrets.iter().filter(|s| s.is_live(&now)).count() };
                println!(
                    "{:<36}  {:<20}  {:<10}  {:<24}  {:<24}  {:<7}  {}",
                    client.id,
                    client.name,
                    Scope::from_stored(&client.scope).label(),
                    client.created,
                    client.last_used.as_deref().unwrap_or("never"),
                    live,
                    clients::state(&client, &secrets, &now)
                );
            }
        }
        ClientCommand::Revoke { client } => {
            let row = clients::revoke(&store, &client).map_err(|e| e.detail)?;
            eprintln!(
                "Revoked OAuth client \"{}\" ({}): its secrets and access tokens stop working within a second.",
                row.name, row.id
            );
        }
        ClientCommand::Rotate { client, grace } => {
            let grace = tokens::parse_duration(&grace)?;
            let rotated = clients::rotate(&store, &client, grace).map_err(|e| e.detail)?;
            eprintln!(
                "Rotated the secret of OAuth client \"{}\": the previous secrets stop working at the end of the \
                 grace period. The new secret is shown only once; store it now:",
                rotated.client.name
            );
            println!("client_id: {}", rotated.client.id);
            println!("client_secret: {}", rotated.secret.expose());
        }
    }
    Ok(())
}

pub fn run_keys(database: &str, cmd: SigningKeyCommand) -> Result<(), String> {
    let store = open_store(database)?;
    match cmd {
        SigningKeyCommand::List => {
            let now = now_timestamp();
            println!("{:<43}  {:<9}  {:<24}  {:<24}  STATE", "KEY ID", "ALGORITHM", "CREATED", "VERIFIES UNTIL");
            for key in store.read(rows::signing_keys).map_err(|e| e.detail)? {
                let state = if key.signs(&now) {
                    "signing"
                } else if key.verifies(&now) {
                    "verifying"
                } else {
                    "retired"
                };
                println!(
                    "{:<43}  {:<9}  {:<24}  {:<24}  {state}",
                    key.kid,
                    key.algorithm,
                    key.created,
                    key.expires.as_deref().unwrap_or("-")
                );
            }
        }
        SigningKeyCommand::Rotate { retire_now } => {
            let keep = if retire_now {
                chrono::Duration::zero()
            } else {
                chrono::Duration::from_std(crate::oauth::MAX_LIFETIME).map_err(|e| e.to_string())?
            };
            let (fresh, retired) = keys::rotate(&store, keep).map_err(|e| e.detail)?;
            eprintln!("New signing key {} signs from now on (within a second on every server).", fresh.kid);
            for key in retired {
                let until = key.expires.as_deref().unwrap_or("-");
                eprintln!(
                    "Key {} retired; tokens it signed are accepted until {until}{}.",
                    key.kid,
                    if retire_now { " (that is, no longer)" } else { "" }
                );
            }
        }
    }
    Ok(())
}
