//! The SCIM protocol, independent of HTTP and of the database.

pub mod bulk;
pub mod cursor;
pub mod discovery;
pub mod error;
pub mod filter;
pub mod list;
pub mod meta;
pub mod patch;
pub mod schema;
