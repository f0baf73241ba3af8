//! Command-line interface: `scimd serve`, `scimd migrate`, `scimd token …`, `scimd client …`, `scimd schema …`, ….

mod backup;
mod client;
mod copy;
mod directory;
pub mod logging;
mod progress;
mod schema;
mod serve;
mod token;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "scimd",
    version,
    about = "A SCIM 2.0 service provider (RFC 7643/7644) for Okta and other identity providers"
)]
pub struct Cli {
    /// The database: a SQLite file (a path or sqlite://FILE, created if missing).
    #[arg(long, global = true, env = "SCIMD_DATABASE", default_value = "scimd.db")]
    pub database: String,

    /// Log lines as text, or as one JSON object per line (time, level, request id, route, status, latency,
    /// credential name; never a secret).
    #[arg(long, global = true, env = "SCIMD_LOG_FORMAT", value_enum, default_value_t = logging::LogFormat::Text)]
    pub log_format: logging::LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the SCIM server.
    Serve(Box<serve::ServeArgs>),
    /// Apply pending database migrations and exit (serve also does this at start).
    Migrate,
    /// Manage API tokens: create, list, revoke, rotate.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Manage OAuth 2.0 clients (client credentials for /oauth/token): create, list, revoke, rotate.
    #[command(subcommand)]
    Client(client::ClientCommand),
    /// Manage the keys that sign OAuth access tokens: list, rotate.
    #[command(subcommand)]
    SigningKey(client::SigningKeyCommand),
    /// Copy the database to FILE while the server runs (consistent, verified), for backups.
    Backup(backup::BackupArgs),
    /// Copy everything from one database into another (e.g. SQLite into PostgreSQL), verified.
    Copy(copy::CopyArgs),
    /// Write every user with its groups as JSON or CSV (streamed: constant memory at any size).
    Export(directory::ExportArgs),
    /// Look at users: list (optionally filtered), show one.
    #[command(subcommand)]
    Users(directory::ListCommand),
    /// Look at groups: list (optionally filtered), show one.
    #[command(subcommand)]
    Groups(directory::ListCommand),
    /// Manage schema extensions (custom attributes): add, list, show, remove.
    #[command(subcommand)]
    Schema(schema::SchemaCommand),
}

/// Runs the parsed command; the returned error is printed by `main` and ends the process with status 1.
pub fn run(cli: Cli) -> Result<(), String> {
    // Checked first: a mistyped scheme stops every command with one line, before anything is created.
    let url = crate::store::url::DatabaseUrl::parse(&cli.database)?;
    match cli.command {
        Command::Serve(args) => serve::run(&cli.database, *args),
        Command::Migrate => {
            open_store(&cli.database)?;
            println!("database {url} is up to date");
            Ok(())
        }
        Command::Token(cmd) => token::run(&cli.database, cmd),
        Command::Client(cmd) => client::run(&cli.database, cmd),
        Command::SigningKey(cmd) => client::run_keys(&cli.database, cmd),
        Command::Schema(cmd) => schema::run(&cli.database, cmd),
        Command::Backup(args) => backup::run(&cli.database, args),
        Command::Copy(args) => copy::run(args),
        Command::Export(args) => directory::export(&cli.database, args),
        Command::Users(cmd) => directory::run(&cli.database, crate::directory::Kind::User, cmd),
        Command::Groups(cmd) => directory::run(&cli.database, crate::directory::Kind::Group, cmd),
    }
}

impl Cli {
    /// Parses a command line without running it (for checking documented commands); `--help` and
    /// `--version` count as valid.
    pub fn try_parse_from_args(args: &[String]) -> Result<(), clap::Error> {
        use clap::Parser;
        match Cli::try_parse_from(args) {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(e.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

pub(crate) fn open_store(database: &str) -> Result<crate::store::Store, String> {
    crate::store::Store::open(database, &crate::store::StoreOptions::default())
}
