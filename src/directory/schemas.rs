//! The schemas in force: the embedded ones plus the admin-defined extensions kept in the database
//! (`scimd schema add`). Every serving process polls the database's schema generation and reloads when
//! another process (the CLI, another replica) changed the definitions; a request works with the schema set
//! it started with. The admin operations check what a change would do to stored resources first.

use super::{Directory, Kind};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::schema::{self, AttrType, Extension, Schemas, Uniqueness};
use crate::store::extensions::{self as rows, ExtensionRow};
use crate::store::resources::Table;
use crate::store::{now_timestamp, Conn, Store};
use serde_json::Value;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How often a serving process looks for definition changes.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(1);

pub struct SchemaRegistry {
    store: Store,
    /// `serve --unknown-attributes ignore`.
    ignore_unknown: bool,
    state: RwLock<(i64, Arc<Schemas>)>,
}

fn extension_of(row: &ExtensionRow) -> Result<Extension, String> {
    Ok(Extension {
        urn: row.urn.clone(),
        resource_type: row.resource_type.clone(),
        required: row.required,
        definition: serde_json::from_str(&row.definition).map_err(|e| format!("extension {}: {e}", row.urn))?,
        indexed: serde_json::from_str(&row.indexed).map_err(|e| format!("extension {}: {e}", row.urn))?,
    })
}

fn build(rows: &[ExtensionRow], ignore_unknown: bool) -> Result<Schemas, String> {
    let exts = rows.iter().map(extension_of).collect::<Result<Vec<_>, _>>()?;
    Ok(Schemas::with_extensions(&exts)?.ignoring_unknown(ignore_unknown))
}

fn table_of(resource_type: &str) -> Table {
    if resource_type == "Group" {
        Table::Groups
    } else {
        Table::Users
    }
}

impl SchemaRegistry {
    pub fn open(store: Store, ignore_unknown: bool) -> Result<Arc<SchemaRegistry>, String> {
        let (generation, all) = store
            .read(|conn| Ok((rows::generation(conn)?, rows::all(conn)?)))
            .map_err(|e| format!("cannot read the schema extensions: {}", e.detail))?;
        let schemas = build(&all, ignore_unknown).map_err(|e| format!("the stored schema extensions: {e}"))?;
        Ok(Arc::new(SchemaRegistry { store, ignore_unknown, state: RwLock::new((generation, Arc::new(schemas))) }))
    }

    pub fn current(&self) -> Arc<Schemas> {
        match self.state.read() {
            Ok(s) => s.1.clone(),
            Err(poisoned) => poisoned.into_inner().1.clone(),
        }
    }

    /// Reloads the definitions if they changed since the last look; true when it reloaded.
    pub fn refresh(&self) -> ScimResult<bool> {
        let seen = self.state.read().map(|s| s.0).unwrap_or(-1);
        let generation = self.store.read(rows::generation)?;
        if generation == seen {
            return Ok(false);
        }
        let (generation, all) = self.store.read(|conn| Ok((rows::generation(conn)?, rows::all(conn)?)))?;
        let schemas = build(&all, self.ignore_unknown).map_err(ScimError::internal)?;
        if let Ok(mut s) = self.state.write() {
            *s = (generation, Arc::new(schemas));
        }
        log::info!("schema extensions reloaded (generation {generation}, {} extension(s))", all.len());
        Ok(true)
    }

    /// Polls for definition changes every `every` on a thread of its own, while the registry lives.
    pub fn watch(self: &Arc<Self>, every: Duration) -> Result<(), String> {
        let weak = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("scimd-schemas".into())
            .spawn(move || loop {
                std::thread::sleep(every);
                let Some(registry) = weak.upgrade() else { return };
                if let Err(e) = registry.refresh() {
                    log::warn!("could not reload the schema extensions (will retry): {e}");
                }
            })
            .map(|_| ())
            .map_err(|e| format!("cannot start the schema watcher: {e}"))
    }
}

/// What `scimd schema add` asks for.
#[derive(Debug, Clone)]
pub struct AddRequest {
    pub definition: Value,
    pub resource_type: String,
    pub required: bool,
    pub indexed: Vec<String>,
    pub force: bool,
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// `n` things and the verb that goes with them: "1 user has", "2 users have".
fn subject(n: usize, what: &str, one: &str, many: &str) -> String {
    format!("{} {}", plural(n, what), if n == 1 { one } else { many })
}

/// Registers an extension, or replaces the definition of one with the same URN. A change that would no
/// longer fit stored resources is refused, saying how many it would affect, unless `force`: then values of
/// removed or incompatibly changed attributes are deleted. Returns a one-paragraph report.
pub fn add_extension(store: &Store, request: &AddRequest) -> Result<String, String> {
    store
        .write(|conn| {
            let all = rows::all(conn)?;
            let existing = all.iter().find(|r| r.urn.eq_ignore_ascii_case(urn_of(&request.definition)));
            let others: Vec<ExtensionRow> =
                all.iter().filter(|r| existing.is_none_or(|e| e.urn != r.urn)).cloned().collect();
            let base = build(&others, false).map_err(ScimError::internal)?;
            let new = schema::validate(
                &request.definition,
                &request.resource_type,
                request.required,
                &request.indexed,
                &base,
            )
            .map_err(ScimError::invalid_value)?;
            let table = table_of(&new.resource_type);
            let old = match existing {
                Some(row) => {
                    let old = extension_of(row).map_err(ScimError::internal)?;
                    if old.resource_type != new.resource_type {
                        return Err(ScimError::invalid_value(format!(
                            "{} is attached to {}; remove it first to attach it to {}",
                            old.urn, old.resource_type, new.resource_type
                        )));
                    }
                    Some(old)
                }
                None => None,
            };
            let change = match &old {
                Some(old) => schema::diff(old, &new),
                None => schema::Change { extension_now_required: new.required, ..Default::default() },
            };
            let kind = if table == Table::Users { "user" } else { "group" };
            let mut problems = Vec::new();
            let dropped = rows::count_with_values(conn, table, &new.urn, &change.dropped)?;
            if dropped > 0 {
                problems.push(format!(
                    "the stored values of {} of {} would be deleted (removed or changed: {})",
                    plural(dropped, kind),
                    new.urn,
                    change.dropped.join(", ")
                ));
            }
            for attr in &change.now_required {
                let n = rows::count_without(conn, table, &new.urn, Some(attr))?;
                if n > 0 {
                    problems.push(format!(
                        "{} {} but no {attr}, which becomes required",
                        subject(n, kind, "has", "have"),
                        new.urn
                    ));
                }
            }
            if change.extension_now_required {
                let n = rows::count_without(conn, table, &new.urn, None)?;
                if n > 0 {
                    problems.push(format!("{} {}, which becomes required", subject(n, kind, "lacks", "lack"), new.urn));
                }
            }
            for attr in &change.now_unique {
                let nocase = new.attributes().iter().find(|a| a.name == *attr).is_some_and(|a| !a.case_exact);
                let n = rows::count_duplicates(conn, table, &new.urn, attr, nocase)?;
                if n > 0 {
                    problems.push(format!(
                        "{} a value of {attr} with another, and {attr} becomes unique",
                        subject(n, kind, "shares", "share")
                    ));
                }
            }
            if !problems.is_empty() && !request.force {
                return Err(ScimError::invalid_value(format!(
                    "refused: {}. Nothing was changed; run again with --force to apply it anyway",
                    problems.join("; ")
                )));
            }
            let now = now_timestamp();
            let deleted =
                if dropped > 0 { rows::strip(conn, table, &new.urn, Some(&change.dropped), &now)? } else { 0 };
            let previous_index = old.as_ref().map(|o| o.indexed.clone()).unwrap_or_default();
            let wanted = index_columns(&new);
            rows::sync_indexes(conn, table, &new.urn, &previous_index, &wanted)?;
            rows::put(
                conn,
                &ExtensionRow {
                    urn: new.urn.clone(),
                    resource_type: new.resource_type.clone(),
                    required: new.required,
                    definition: new.definition.to_string(),
                    indexed: serde_json::to_string(&new.indexed).map_err(ScimError::internal)?,
                    created: existing.map(|r| r.created.clone()).unwrap_or_else(|| now.clone()),
                    updated: now,
                },
            )?;
            let verb = if old.is_some() { "updated" } else { "added" };
            let mut report = format!(
                "{verb} {} ({}, attached to {}{}, {}{})",
                new.urn,
                plural(new.attributes().len(), "attribute"),
                new.resource_type,
                if new.required { ", required" } else { "" },
                plural(new.indexed.len(), "indexed attribute"),
                if new.indexed.is_empty() { String::new() } else { format!(": {}", new.indexed.join(", ")) }
            );
            if !problems.is_empty() {
                report.push_str(&format!("; forced: {}", problems.join("; ")));
            }
            if deleted > 0 {
                report.push_str(&format!("; {} changed", plural(deleted, kind)));
            }
            Ok(report)
        })
        .map_err(|e| e.detail)
}

fn urn_of(definition: &Value) -> &str {
    definition.get("id").and_then(Value::as_str).unwrap_or_default()
}

/// The indexed attributes with whether their index compares case-insensitively.
fn index_columns(ext: &Extension) -> Vec<(String, bool)> {
    let attrs = ext.attributes();
    ext.indexed
        .iter()
        .map(|name| {
            let nocase = attrs.iter().find(|a| a.name == *name).is_some_and(|a| {
                !a.case_exact && matches!(a.attr_type, AttrType::String | AttrType::Reference | AttrType::Binary)
            });
            (name.clone(), nocase)
        })
        .collect()
}

/// Unregisters an extension. Refused while resources carry it, unless `force`: then its data is deleted from
/// them. Returns a report.
pub fn remove_extension(store: &Store, urn: &str, force: bool) -> Result<String, String> {
    store
        .write(|conn| {
            let all = rows::all(conn)?;
            let row = all
                .iter()
                .find(|r| r.urn.eq_ignore_ascii_case(urn))
                .ok_or_else(|| ScimError::not_found(format!("no schema extension {urn} (see `scimd schema list`)")))?;
            let ext = extension_of(row).map_err(ScimError::internal)?;
            let table = table_of(&ext.resource_type);
            let kind = if table == Table::Users { "user" } else { "group" };
            let total = crate::store::resources::count(conn, table, None)?;
            let holding = total - rows::count_without(conn, table, &ext.urn, None)?;
            if holding > 0 && !force {
                return Err(ScimError::invalid_value(format!(
                    "refused: {} {}; removing it deletes that data. Nothing was changed; run again with \
                     --force to remove it anyway",
                    subject(holding, kind, "carries", "carry"),
                    ext.urn
                )));
            }
            let changed = rows::strip(conn, table, &ext.urn, None, &now_timestamp())?;
            rows::sync_indexes(conn, table, &ext.urn, &ext.indexed, &[])?;
            rows::delete(conn, &ext.urn)?;
            Ok(format!(
                "removed {}{}",
                ext.urn,
                if changed > 0 { format!("; {} changed", plural(changed, kind)) } else { String::new() }
            ))
        })
        .map_err(|e| e.detail)
}

/// Creates the expression index of every indexed extension attribute that lacks one: the stored definitions
/// come first (`scimd copy` writes rows, not DDL), so this makes a copied database index what its source did.
/// Returns how many indexes were wanted.
pub fn build_indexes(store: &Store) -> Result<usize, String> {
    store
        .write(|conn| {
            let mut wanted = 0;
            for row in rows::all(conn)? {
                let ext = extension_of(&row).map_err(ScimError::internal)?;
                let columns = index_columns(&ext);
                rows::sync_indexes(conn, table_of(&ext.resource_type), &ext.urn, &[], &columns)?;
                wanted += columns.len();
            }
            Ok(wanted)
        })
        .map_err(|e| e.detail)
}

pub fn list_extensions(store: &Store) -> ScimResult<Vec<ExtensionRow>> {
    store.read(rows::all)
}

impl Directory {
    /// RFC 7643 §2.2 `uniqueness: server` on extension attributes (the core ones have their own columns).
    pub(super) fn check_extension_uniqueness(
        conn: &mut Conn,
        sc: &Schemas,
        kind: Kind,
        doc: &Value,
        self_id: Option<&str>,
    ) -> ScimResult<()> {
        let rt = kind.resource_type(sc);
        for ext in &rt.extensions {
            let (Some(def), Some(values)) = (sc.schema(&ext.schema), doc.get(&ext.schema)) else { continue };
            for attr in def.attributes.iter().filter(|a| a.uniqueness == Uniqueness::Server) {
                let Some(value) = values.get(&attr.name) else { continue };
                let table = if kind == Kind::User { Table::Users } else { Table::Groups };
                let nocase = !attr.case_exact && attr.attr_type == AttrType::String;
                if let Some(holder) = rows::holder_of(conn, table, &ext.schema, &attr.name, value, nocase, self_id)? {
                    let text = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string());
                    return Err(ScimError::uniqueness(format!(
                        "{}:{} \"{text}\" is already taken by {} {holder}",
                        ext.schema,
                        attr.name,
                        kind.name()
                    )));
                }
            }
        }
        Ok(())
    }
}
