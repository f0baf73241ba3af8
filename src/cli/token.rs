//! `scimd token create | list | revoke | rotate`. A token is printed once, at creation; never again.

use super::open_store;
use crate::store::{now_timestamp, tokens as token_rows};
use crate::tokens;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint a token and print it once.
    Create {
        /// A label for the token, e.g. the identity provider that will use it.
        #[arg(long)]
        name: String,
        /// Lifetime, e.g. 90d, 24h, 30m (default: no expiry).
        #[arg(long)]
        expires_in: Option<String>,
        /// Allow reads only (GET and searches); every write gets 403.
        #[arg(long)]
        read_only: bool,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token at once, by name or id.
    Revoke {
        /// Token name or id.
        token: String,
    },
    /// Mint a successor and keep the old token valid for a grace period, so the IdP can be updated without a
    /// failed sync in between.
    Rotate {
        /// Token name or id.
        token: String,
        /// How long the old token keeps working, e.g. 24h (0s ends it at once).
        #[arg(long, default_value = "24h")]
        grace: String,
    },
}

pub fn run(database: &str, cmd: TokenCommand) -> Result<(), String> {
    let store = open_store(database)?;
    match cmd {
        TokenCommand::Create { name, expires_in, read_only } => {
            let expires_in = expires_in.as_deref().map(tokens::parse_duration).transpose()?;
            let scope = if read_only { tokens::Scope::ReadOnly } else { tokens::Scope::ReadWrite };
            let minted = tokens::create(&store, &name, expires_in, scope).map_err(|e| e.detail)?;
            eprintln!(
                "Created {} token \"{}\" (id {}){}. It is shown only once; store it now:",
                scope.label(),
                minted.row.name,
                minted.row.id,
                minted.row.expires.as_deref().map(|e| format!(", expires {e}")).unwrap_or_default()
            );
            println!("{}", minted.secret.expose());
        }
        TokenCommand::List => {
            let rows = store.read(token_rows::list).map_err(|e| e.detail)?;
            let now = now_timestamp();
            println!(
                "{:<36}  {:<20}  {:<10}  {:<24}  {:<24}  {:<24}  STATE",
                "ID", "NAME", "SCOPE", "CREATED", "LAST USED", "EXPIRES"
            );
            for t in rows {
                println!(
                    "{:<36}  {:<20}  {:<10}  {:<24}  {:<24}  {:<24}  {}",
                    t.id,
                    t.name,
                    tokens::Scope::from_stored(&t.scope).label(),
                    t.created,
                    t.last_used.as_deref().unwrap_or("never"),
                    t.expires.as_deref().unwrap_or("never"),
                    t.state(&now)
                );
            }
        }
        TokenCommand::Revoke { token } => {
            let row = tokens::revoke(&store, &token).map_err(|e| e.detail)?;
            eprintln!("Revoked token \"{}\" (id {}).", row.name, row.id);
        }
        TokenCommand::Rotate { token, grace } => {
            let grace = tokens::parse_duration(&grace)?;
            let (old, minted) = tokens::rotate(&store, &token, grace).map_err(|e| e.detail)?;
            eprintln!(
                "Rotated token \"{}\": the old one (id {}) stops working at the end of the grace period. \
                 The new one (id {}) is shown only once; store it now:",
                old.name, old.id, minted.row.id
            );
            println!("{}", minted.secret.expose());
        }
    }
    Ok(())
}
