//! `scimd schema add | list | show | remove`: admin-defined schema extensions (RFC 7643 §3.3), kept in the
//! database; a running server picks a change up within a second.

use super::open_store;
use crate::directory::schemas::{add_extension, list_extensions, remove_extension, AddRequest};
use crate::scim::schema::parse_definition;
use clap::{Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResourceTypeArg {
    User,
    Group,
}

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Register an extension schema (RFC 7643 §7 JSON), or replace the definition of one already registered
    /// under the same URN (adding attributes keeps all data; a change that would invalidate stored data is
    /// refused unless --force).
    Add {
        /// The schema document: {"id": "urn:…", "name": …, "attributes": [ … ]}.
        file: PathBuf,
        /// The resource type it extends.
        #[arg(long, value_enum, default_value_t = ResourceTypeArg::User)]
        resource_type: ResourceTypeArg,
        /// Every resource of the type must carry the extension (schemaExtensions[].required).
        #[arg(long)]
        required: bool,
        /// Give this attribute an index, so that filters on it stay fast at a million resources (repeatable;
        /// single-valued, non-complex attributes).
        #[arg(long = "index", value_name = "ATTRIBUTE")]
        index: Vec<String>,
        /// Apply a change even though it deletes stored values or leaves resources that no longer validate.
        #[arg(long)]
        force: bool,
    },
    /// List the registered extensions.
    List,
    /// Print an extension's schema document as /Schemas serves it.
    Show {
        /// The extension's URN.
        urn: String,
    },
    /// Unregister an extension (refused while resources carry it, unless --force, which deletes that data).
    Remove {
        urn: String,
        #[arg(long)]
        force: bool,
    },
}

pub fn run(database: &str, cmd: SchemaCommand) -> Result<(), String> {
    let store = open_store(database)?;
    match cmd {
        SchemaCommand::Add { file, resource_type, required, index, force } => {
            let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let definition = parse_definition(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            let resource_type = match resource_type {
                ResourceTypeArg::User => "User",
                ResourceTypeArg::Group => "Group",
            };
            let request =
                AddRequest { definition, resource_type: resource_type.to_string(), required, indexed: index, force };
            println!("{}", add_extension(&store, &request)?);
            Ok(())
        }
        SchemaCommand::List => {
            let rows = list_extensions(&store).map_err(|e| e.detail)?;
            if rows.is_empty() {
                println!(
                    "no schema extensions (the enterprise extension is built in); add one with `scimd schema add FILE`"
                );
                return Ok(());
            }
            println!("{:<60} {:<6} {:<9} {:<10} INDEXED", "URN", "TYPE", "REQUIRED", "ATTRIBUTES");
            for r in rows {
                let def: serde_json::Value = serde_json::from_str(&r.definition).unwrap_or_default();
                let attrs = def["attributes"].as_array().map(Vec::len).unwrap_or(0);
                let indexed: Vec<String> = serde_json::from_str(&r.indexed).unwrap_or_default();
                println!(
                    "{:<60} {:<6} {:<9} {:<10} {}",
                    r.urn,
                    r.resource_type,
                    if r.required { "yes" } else { "no" },
                    attrs,
                    if indexed.is_empty() { "-".to_string() } else { indexed.join(",") }
                );
            }
            Ok(())
        }
        SchemaCommand::Show { urn } => {
            let rows = list_extensions(&store).map_err(|e| e.detail)?;
            let row = rows
                .iter()
                .find(|r| r.urn.eq_ignore_ascii_case(&urn))
                .ok_or(format!("no schema extension {urn} (see `scimd schema list`)"))?;
            let def: serde_json::Value = serde_json::from_str(&row.definition).map_err(|e| e.to_string())?;
            println!("{}", serde_json::to_string_pretty(&def).map_err(|e| e.to_string())?);
            Ok(())
        }
        SchemaCommand::Remove { urn, force } => {
            println!("{}", remove_extension(&store, &urn, force)?);
            Ok(())
        }
    }
}
