//! The `schema_extensions` table (admin-defined schema extensions), the generation counter serving processes
//! poll, the expression indexes of indexed extension attributes, and the queries that measure and carry out
//! what a definition change does to stored resources.

use super::resources::Table;
use super::Conn;
use super::Dialect;
use crate::scim::error::{ScimError, ScimResult};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

#[derive(Debug, Clone, QueryableByName)]
pub struct ExtensionRow {
    #[diesel(sql_type = Text)]
    pub urn: String,
    #[diesel(sql_type = Text)]
    pub resource_type: String,
    #[diesel(sql_type = Bool)]
    pub required: bool,
    /// The normalised RFC 7643 §7 schema document.
    #[diesel(sql_type = Text)]
    pub definition: String,
    /// JSON array of indexed attribute names.
    #[diesel(sql_type = Text)]
    pub indexed: String,
    #[diesel(sql_type = Text)]
    pub created: String,
    #[diesel(sql_type = Text)]
    pub updated: String,
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

pub fn all(conn: &mut Conn) -> ScimResult<Vec<ExtensionRow>> {
    Ok(super::conn::sql_query(
        conn,
        "SELECT urn, resource_type, required, definition, indexed, created, updated FROM schema_extensions \
         ORDER BY created, urn",
    )
    .load(conn)?)
}

/// Bumped by every change; serving processes reload their schemas when it moves.
pub fn generation(conn: &mut Conn) -> ScimResult<i64> {
    Ok(super::conn::prepared("SELECT generation AS n FROM schema_generation WHERE id = 1").get_result::<N>(conn)?.n)
}

fn bump(conn: &mut Conn) -> ScimResult<()> {
    super::conn::sql_query(conn, "UPDATE schema_generation SET generation = generation + 1 WHERE id = 1")
        .execute(conn)?;
    Ok(())
}

/// Inserts or replaces the row for `row.urn` (keeping its `created`).
pub fn put(conn: &mut Conn, row: &ExtensionRow) -> ScimResult<()> {
    super::conn::sql_query(
        conn,
        "INSERT INTO schema_extensions (urn, resource_type, required, definition, indexed, created, updated) \
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (urn) DO UPDATE SET resource_type = excluded.resource_type, \
         required = excluded.required, definition = excluded.definition, indexed = excluded.indexed, \
         updated = excluded.updated",
    )
    .bind::<Text, _>(&row.urn)
    .bind::<Text, _>(&row.resource_type)
    .bind::<Bool, _>(row.required)
    .bind::<Text, _>(&row.definition)
    .bind::<Text, _>(&row.indexed)
    .bind::<Text, _>(&row.created)
    .bind::<Text, _>(&row.updated)
    .execute(conn)?;
    bump(conn)
}

pub fn delete(conn: &mut Conn, urn: &str) -> ScimResult<bool> {
    let n = super::conn::sql_query(conn, "DELETE FROM schema_extensions WHERE urn = ?")
        .bind::<Text, _>(urn)
        .execute(conn)?;
    bump(conn)?;
    Ok(n > 0)
}

/// `$."urn"."attr"` as a SQL string literal. An expression index is only used for the very expression it was
/// made on, so the path must be literal text, not a bound parameter: URNs and attribute names are checked
/// against a small alphabet when an extension is added (`scim::schema::extension`), and again here.
pub fn json_path_literal(keys: &[&str]) -> ScimResult<String> {
    let ok =
        |k: &str| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '-' | '_'));
    if !keys.iter().all(|k| ok(k)) {
        return Err(ScimError::internal(format!("{keys:?} cannot be a literal JSON path")));
    }
    let mut p = String::from("'$");
    for k in keys {
        p.push_str(".\"");
        p.push_str(k);
        p.push('"');
    }
    p.push('\'');
    Ok(p)
}

/// `{"urn","attr"}` as a PostgreSQL `text[]` path literal (the same alphabet checks as `json_path_literal`).
pub(crate) fn pg_path_literal(keys: &[&str]) -> ScimResult<String> {
    json_path_literal(keys)?;
    let quoted: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
    Ok(format!("'{{{}}}'", quoted.join(",")))
}

/// The JSON value at `urn`.`attr` (or `urn` alone) of `resource`, as SQL: SQLite's `json_extract` (typed),
/// PostgreSQL's jsonb value.
fn json_value(d: Dialect, keys: &[&str]) -> ScimResult<String> {
    Ok(match d {
        Dialect::Sqlite => format!("json_extract(resource, {})", json_path_literal(keys)?),
        Dialect::Postgres => format!("(resource #> {})", pg_path_literal(keys)?),
    })
}

/// Whether `resource` has a value (JSON null included) at `keys`, as SQL.
fn has_value(d: Dialect, keys: &[&str]) -> ScimResult<String> {
    Ok(match d {
        Dialect::Sqlite => format!("json_type(resource, {}) IS NOT NULL", json_path_literal(keys)?),
        Dialect::Postgres => format!("(resource #> {}) IS NOT NULL", pg_path_literal(keys)?),
    })
}

/// The expression an attribute's index is made on, and that `filter_sql` compares with (so the index serves
/// it): the value, folded case-insensitively when `nocase`. On PostgreSQL the text of the value, ASCII-folded as
/// SQLite's NOCASE does.
pub fn indexed_expr(d: Dialect, table: Option<&str>, urn: &str, attr: &str, nocase: bool) -> ScimResult<String> {
    let column = match table {
        Some(t) => format!("{t}.resource"),
        None => "resource".to_string(),
    };
    Ok(match d {
        Dialect::Sqlite => {
            let collate = if nocase { " COLLATE NOCASE" } else { "" };
            format!("json_extract({column}, {}){collate}", json_path_literal(&[urn, attr])?)
        }
        Dialect::Postgres => {
            let text = format!("({column} #>> {})", pg_path_literal(&[urn, attr])?);
            if nocase {
                format!("translate({text}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')")
            } else {
                text
            }
        }
    })
}

/// The name of the expression index on `table` for `urn:attr`.
fn index_name(table: Table, urn: &str, attr: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{urn}:{}", attr.to_ascii_lowercase()).as_bytes());
    format!("ext_{}_{}", table.name(), hex::encode(&digest[..8]))
}

/// Makes the expression indexes of `urn` on `table` exactly `wanted` (name, compared case-insensitively),
/// dropping those of `previous` no longer wanted.
pub fn sync_indexes(
    conn: &mut Conn,
    table: Table,
    urn: &str,
    previous: &[String],
    wanted: &[(String, bool)],
) -> ScimResult<()> {
    for old in previous {
        if !wanted.iter().any(|(w, _)| w.eq_ignore_ascii_case(old)) {
            super::conn::sql_query(conn, &format!("DROP INDEX IF EXISTS {}", index_name(table, urn, old)))
                .execute(conn)?;
        }
    }
    for (attr, nocase) in wanted {
        // SQLite takes the collation as the indexed column's; PostgreSQL an expression in parentheses.
        let expr = indexed_expr(conn.dialect(), None, urn, attr, *nocase)?;
        let column = if conn.dialect() == Dialect::Sqlite { expr } else { format!("({expr})") };
        let sql = format!("CREATE INDEX IF NOT EXISTS {} ON {} ({column})", index_name(table, urn, attr), table.name());
        super::conn::sql_query(conn, &sql).execute(conn)?;
    }
    Ok(())
}

/// Resources of `table` holding a value for any of `attrs` of extension `urn`.
pub fn count_with_values(conn: &mut Conn, table: Table, urn: &str, attrs: &[String]) -> ScimResult<usize> {
    if attrs.is_empty() {
        return Ok(0);
    }
    let mut conds = Vec::new();
    for a in attrs {
        conds.push(has_value(conn.dialect(), &[urn, a])?);
    }
    let sql = format!("SELECT COUNT(*) AS n FROM {} WHERE {}", table.name(), conds.join(" OR "));
    Ok(super::conn::sql_query(conn, &sql).get_result::<N>(conn)?.n as usize)
}

/// Resources of `table` without a value for `attr` of `urn` (`attr` None: without the extension at all).
pub fn count_without(conn: &mut Conn, table: Table, urn: &str, attr: Option<&str>) -> ScimResult<usize> {
    let keys: Vec<&str> = std::iter::once(urn).chain(attr).collect();
    let sql = format!("SELECT COUNT(*) AS n FROM {} WHERE NOT ({})", table.name(), has_value(conn.dialect(), &keys)?);
    Ok(super::conn::sql_query(conn, &sql).get_result::<N>(conn)?.n as usize)
}

/// Resources of `table` whose value of `attr` of `urn` another resource also holds.
pub fn count_duplicates(conn: &mut Conn, table: Table, urn: &str, attr: &str, nocase: bool) -> ScimResult<usize> {
    let d = conn.dialect();
    let key = match (d, nocase) {
        (Dialect::Sqlite, _) | (Dialect::Postgres, true) => indexed_expr(d, None, urn, attr, nocase)?,
        // jsonb equality: the same value of the same JSON type.
        (Dialect::Postgres, false) => json_value(d, &[urn, attr])?,
    };
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(c), 0) AS BIGINT) AS n FROM (SELECT COUNT(*) AS c FROM {} WHERE {} \
         GROUP BY {key} HAVING COUNT(*) > 1) AS dup",
        table.name(),
        has_value(d, &[urn, attr])?
    );
    Ok(super::conn::sql_query(conn, &sql).get_result::<N>(conn)?.n as usize)
}

/// Another resource of `table` than `self_id` whose `attr` of `urn` equals `value` (RFC 7643 §2.2
/// `uniqueness: server`), if any.
pub fn holder_of(
    conn: &mut Conn,
    table: Table,
    urn: &str,
    attr: &str,
    value: &serde_json::Value,
    nocase: bool,
    self_id: Option<&str>,
) -> ScimResult<Option<String>> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = Text)]
        id: String,
    }
    let d = conn.dialect();
    if d == Dialect::Postgres {
        // Writers of one value take turns until their transactions end, so two cannot both find it free.
        let folded = if nocase { value.to_string().to_ascii_lowercase() } else { value.to_string() };
        super::conn::sql_query(conn, "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))")
            .bind::<Text, _>(format!("{}:{urn}:{}:{folded}", table.name(), attr.to_ascii_lowercase()))
            .execute(conn)?;
    }
    let sql = match (d, nocase) {
        (Dialect::Sqlite, _) => {
            let collate = if nocase { " COLLATE NOCASE" } else { "" };
            format!(
                "SELECT id FROM {} WHERE {} = json_extract(?, '$'){collate} AND id <> ? LIMIT 1",
                table.name(),
                json_value(d, &[urn, attr])?
            )
        }
        (Dialect::Postgres, true) => format!(
            "SELECT id FROM {} WHERE {} = translate(CAST(? AS jsonb) #>> '{{}}', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', \
             'abcdefghijklmnopqrstuvwxyz') AND id <> ? LIMIT 1",
            table.name(),
            indexed_expr(d, None, urn, attr, true)?
        ),
        (Dialect::Postgres, false) => format!(
            "SELECT id FROM {} WHERE {} = CAST(? AS jsonb) AND id <> ? LIMIT 1",
            table.name(),
            json_value(d, &[urn, attr])?
        ),
    };
    let found = super::conn::sql_query(conn, &sql)
        .bind::<Text, _>(value.to_string())
        .bind::<Text, _>(self_id.unwrap_or(""))
        .get_result::<Id>(conn)
        .optional()?;
    Ok(found.map(|r| r.id))
}

/// Deletes the stored values of `attrs` of `urn` (all of the extension when `attrs` is None) from every
/// resource of `table`, with a new version for each resource changed; an extension object left empty goes,
/// and its URN leaves the resource's `schemas`. Returns how many resources changed.
pub fn strip(conn: &mut Conn, table: Table, urn: &str, attrs: Option<&[String]>, now: &str) -> ScimResult<usize> {
    let t = table.name();
    let d = conn.dialect();
    let mut changed = 0;
    if let Some(attrs) = attrs.filter(|a| !a.is_empty()) {
        let any = attrs.iter().map(|a| has_value(d, &[urn, a.as_str()])).collect::<ScimResult<Vec<_>>>()?.join(" OR ");
        let removed = match d {
            Dialect::Sqlite => {
                let paths = attrs.iter().map(|a| json_path_literal(&[urn, a])).collect::<ScimResult<Vec<_>>>()?;
                format!("json_remove(resource, {})", paths.join(", "))
            }
            Dialect::Postgres => {
                let mut e = "resource".to_string();
                for a in attrs {
                    e = format!("({e} #- {})", pg_path_literal(&[urn, a])?);
                }
                e
            }
        };
        let sql = format!("UPDATE {t} SET resource = {removed}, version = version + 1, last_modified = ? WHERE {any}");
        changed += super::conn::sql_query(conn, &sql).bind::<Text, _>(now).execute(conn)?;
    }
    // The extension object itself when it is empty now (or always, removing the whole extension); its URN
    // leaves `schemas`.
    let sql = match d {
        Dialect::Sqlite => {
            let ext = json_path_literal(&[urn])?;
            let which = if attrs.is_some() { format!("json_extract(resource, {ext}) = '{{}}'") } else { "TRUE".into() };
            format!(
                "UPDATE {t} SET resource = json_set(json_remove(resource, {ext}), '$.schemas', \
                 (SELECT json_group_array(value) FROM json_each(resource, '$.schemas') WHERE value <> ?)), \
                 version = version + CASE WHEN ? THEN 1 ELSE 0 END, last_modified = ? \
                 WHERE json_type(resource, {ext}) IS NOT NULL AND {which}"
            )
        }
        Dialect::Postgres => {
            let ext = pg_path_literal(&[urn])?;
            let which = if attrs.is_some() { format!("(resource #> {ext}) = '{{}}'::jsonb") } else { "TRUE".into() };
            format!(
                "UPDATE {t} SET resource = jsonb_set(resource #- {ext}, '{{schemas}}', \
                 COALESCE((SELECT jsonb_agg(v) FROM jsonb_array_elements(resource -> 'schemas') AS v \
                 WHERE v <> to_jsonb(CAST(? AS text))), '[]'::jsonb)), \
                 version = version + CASE WHEN ? THEN 1 ELSE 0 END, last_modified = ? \
                 WHERE (resource #> {ext}) IS NOT NULL AND {which}"
            )
        }
    };
    let whole = super::conn::sql_query(conn, &sql)
        .bind::<Text, _>(urn)
        .bind::<Bool, _>(attrs.is_none())
        .bind::<Text, _>(now)
        .execute(conn)?;
    if attrs.is_none() {
        changed += whole;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests;
