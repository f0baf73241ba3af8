//! scimd: a SCIM 2.0 service provider (RFC 7643 schema, RFC 7644 protocol).
//!
//! - [`scim`]: the protocol (schemas, filters, PATCH, lists, errors); no HTTP, no SQL.
//! - [`store`]: Diesel over SQLite; every SQL text lives there.
//! - [`http`]: actix-web routes, authentication, rendering.
//! - [`cli`]: the `scimd` subcommands.

pub mod cache;
pub mod caller;
pub mod cli;
pub mod directory;
pub mod http;
pub mod jwt;
pub mod metrics;
pub mod oauth;
pub mod scim;
pub mod secret;
pub mod store;
pub mod tokens;
