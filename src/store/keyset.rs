//! Pages in listing order over one or more resource tables: keyset pages for RFC 9865 cursors (a page after
//! or before a position costs the same at the start and at the end of a walk), and offset pages for a search
//! across resource types (RFC 7644 §3.4.3).
//!
//! The listing order is a tuple of keys: with `sortBy`, whether the sort key is absent (so absent values come
//! last ascending and first descending, RFC 7644 §3.4.2.3) and the key itself, both in `sortOrder`'s
//! direction; with several tables, the table's place (Users before Groups); and finally `seq`, unique and
//! never reused while a row lives — the same order as index pages. A position is that tuple for one row, so a walk sees each row that exists for the
//! whole walk exactly once, whatever is inserted or deleted meanwhile (as long as its sort key stays put).

use super::filter_sql::{SortKey, SqlBind, SqlFragment};
use super::resources::{ResourceRow, Table};
use super::Conn;
use super::Dialect;
pub use crate::scim::cursor::{KeyPart, Side};
use crate::scim::error::{ScimError, ScimResult};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

/// One table of a listing: its filter (a `WHERE` condition) and, with `sortBy`, its sort key.
pub struct Source<'a> {
    pub table: Table,
    pub filter: Option<&'a SqlFragment>,
    pub sort: Option<&'a SortKey>,
}

fn bind(part: &KeyPart) -> SqlBind {
    match part {
        KeyPart::Int(i) => SqlBind::Int(*i),
        KeyPart::Real(r) => SqlBind::Real(*r),
        KeyPart::Text(t) => SqlBind::Text(t.clone()),
    }
}

/// A row of a page with the table it came from and its position.
#[derive(Debug, Clone)]
pub struct KeyedRow {
    pub table: Table,
    pub row: ResourceRow,
    pub key: Vec<KeyPart>,
}

#[derive(QueryableByName)]
struct RawRow {
    #[diesel(sql_type = BigInt)]
    kind_ord: i64,
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    created: String,
    #[diesel(sql_type = Text)]
    last_modified: String,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Text)]
    resource: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    sk_null: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    sk_type: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    sk_text: Option<String>,
}

/// The shape of the key tuple, the same for every source of one listing.
struct Shape {
    sorted: bool,
    nullable: bool,
    nocase: bool,
    multi: bool,
    /// The SQL dialect the page is written in.
    dialect: Dialect,
    /// What stands in for an absent key (`''` or `0`, of the keys' type).
    filler: &'static str,
}

impl Shape {
    fn of(sources: &[Source<'_>]) -> ScimResult<Shape> {
        let sorted = sources.first().is_some_and(|s| s.sort.is_some());
        if sources.is_empty() || sources.iter().any(|s| s.sort.is_some() != sorted) {
            return Err(ScimError::internal("a listing needs sources that all sort, or none"));
        }
        Ok(Shape {
            sorted,
            nullable: sources.iter().any(|s| s.sort.is_some_and(|k| k.nullable)),
            nocase: sources.iter().any(|s| s.sort.is_some_and(|k| k.nocase)),
            multi: sources.len() > 1,
            dialect: Dialect::Sqlite,
            filler: sources.iter().find_map(|s| s.sort.and_then(|k| k.filler)).unwrap_or("''"),
        })
    }

    fn len(&self) -> usize {
        usize::from(self.sorted) * (1 + usize::from(self.nullable)) + usize::from(self.multi) + 1
    }
}

/// The key expressions of one source in tuple order, each with whether it runs descending: the sort key
/// (and its `IS NULL` flag) in `sortOrder`'s direction, the table's place and `seq` always ascending, as
/// in index pages (`ORDER BY key DESC NULLS FIRST, seq ASC`).
fn components(shape: &Shape, descending: bool, ord: usize, source: &Source<'_>) -> Vec<(SqlFragment, bool)> {
    let t = source.table.name();
    let mut out = Vec::with_capacity(shape.len());
    if let Some(key) = source.sort {
        if shape.nullable {
            let mut n = SqlFragment::raw("(CASE WHEN (");
            n.append(&key.expr).push(") IS NULL THEN 1 ELSE 0 END)");
            out.push((n, descending));
        }
        out.push((key_value(shape, key), descending));
    }
    if shape.multi {
        out.push((SqlFragment::raw(&format!("CAST({ord} AS BIGINT)")), false));
    }
    out.push((SqlFragment::raw(&format!("{t}.seq")), false));
    out
}

/// The sort key made non-NULL (absent values sort by the `IS NULL` component before it).
fn key_value(shape: &Shape, key: &SortKey) -> SqlFragment {
    if !key.nullable {
        return key.expr.clone();
    }
    let mut k = SqlFragment::raw("COALESCE(");
    k.append(&key.expr).push(", ").push(shape.filler).push(")");
    if shape.nocase && shape.dialect == Dialect::Sqlite {
        k.push(" COLLATE NOCASE");
    }
    k
}

/// The rows on `side` of `position` in listing order, written out term by term (each term keeps its own
/// collation and direction): `(a > ?) OR (a = ? AND b > ?) OR ...`, with `<` for descending terms.
fn beyond(parts: &[(SqlFragment, bool)], position: &[KeyPart], side: Side) -> SqlFragment {
    let mut out = SqlFragment::raw("(");
    for i in 0..parts.len() {
        if i > 0 {
            out.push(" OR ");
        }
        out.push("(");
        for j in 0..i {
            out.append(&parts[j].0).push(" = ").bind(bind(&position[j])).push(" AND ");
        }
        let later = (side == Side::After) != parts[i].1;
        out.append(&parts[i].0).push(if later { " > " } else { " < " }).bind(bind(&position[i])).push(")");
    }
    out.push(")");
    out
}

fn select(
    shape: &Shape,
    descending: bool,
    ord: usize,
    source: &Source<'_>,
    position: Option<(&[KeyPart], Side)>,
) -> SqlFragment {
    let t = source.table.name();
    let mut q = SqlFragment::raw(&format!(
        "SELECT CAST({ord} AS BIGINT) AS kind_ord, {t}.seq AS seq, {t}.id AS id, {t}.created AS created, \
         {t}.last_modified AS last_modified, {t}.version AS version, {} AS resource, ",
        shape.dialect.json_as_text(&format!("{t}.resource"))
    ));
    let parts = components(shape, descending, ord, source);
    match source.sort {
        Some(key) => {
            let k = key_value(shape, key);
            if shape.nullable {
                q.push("CAST(").append(&parts[0].0).push(" AS BIGINT) AS sk_null, ");
            } else {
                q.push("CAST(NULL AS BIGINT) AS sk_null, ");
            }
            let type_of = if shape.dialect == Dialect::Postgres { "pg_typeof(" } else { "typeof(" };
            q.push("CAST(").push(type_of).append(&k).push(") AS TEXT) AS sk_type, CAST(").append(&k);
            q.push(" AS TEXT) AS sk_text, ").append(&k).push(" AS sk_k");
        }
        None => {
            q.push("CAST(NULL AS BIGINT) AS sk_null, CAST(NULL AS TEXT) AS sk_type, CAST(NULL AS TEXT) AS sk_text, ");
            q.push("NULL AS sk_k");
        }
    }
    q.push(&format!(" FROM {t} WHERE TRUE"));
    if let Some(f) = source.filter {
        q.push(" AND (").append(f).push(")");
    }
    if let Some((position, side)) = position {
        q.push(" AND ").append(&beyond(&parts, position, side));
        // The same bound on the first key alone, which SQLite can use to seek its index (`seq`, or an
        // indexed NOT NULL sort column such as userName) instead of reading from the start of it: this is
        // what makes a page at the end of a walk cost what a page at its start costs. (A nullable key leads
        // with its IS NULL flag, which no index holds; such sorts cost a scan per page either way.)
        if !(shape.sorted && shape.nullable) {
            let later = (side == Side::After) != parts[0].1;
            q.push(" AND ").append(&parts[0].0).push(if later { " >= " } else { " <= " }).bind(bind(&position[0]));
        }
    }
    q
}

/// The listing order (`reversed`: read backwards, for a page before a position).
fn order_by(shape: &Shape, descending: bool, reversed: bool) -> String {
    let dir = |desc: bool| if desc != reversed { "DESC" } else { "ASC" };
    let mut terms = Vec::new();
    if shape.sorted {
        if shape.nullable {
            terms.push(format!("sk_null {}", dir(descending)));
        }
        let collate = if shape.nocase && shape.dialect == Dialect::Sqlite { " COLLATE NOCASE" } else { "" };
        terms.push(format!("sk_k{collate} {}", dir(descending)));
    }
    if shape.multi {
        terms.push(format!("kind_ord {}", dir(false)));
    }
    terms.push(format!("seq {}", dir(false)));
    format!(" ORDER BY {}", terms.join(", "))
}

fn run(conn: &mut Conn, shape: &Shape, sources: &[Source<'_>], sql: SqlFragment) -> ScimResult<Vec<KeyedRow>> {
    let rows = sql.bind_to(super::conn::sql_query(conn, &sql.sql).into_boxed()).load::<RawRow>(conn)?;
    rows.into_iter()
        .map(|r| {
            let table = sources
                .get(r.kind_ord as usize)
                .map(|s| s.table)
                .ok_or_else(|| ScimError::internal("listing row from an unknown source"))?;
            let mut key = Vec::with_capacity(shape.len());
            if shape.sorted {
                if shape.nullable {
                    key.push(KeyPart::Int(r.sk_null.unwrap_or(0)));
                }
                let text = r.sk_text.unwrap_or_default();
                key.push(match r.sk_type.as_deref() {
                    Some("integer") => KeyPart::Int(text.parse().map_err(ScimError::internal)?),
                    Some("real") => KeyPart::Real(text.parse().map_err(ScimError::internal)?),
                    // PostgreSQL: JSON numbers are numeric; booleans were made 1/0 integers.
                    Some("numeric" | "bigint") => match text.parse::<i64>() {
                        Ok(i) => KeyPart::Int(i),
                        Err(_) => KeyPart::Real(text.parse().map_err(ScimError::internal)?),
                    },
                    _ => KeyPart::Text(text),
                });
            }
            if shape.multi {
                key.push(KeyPart::Int(r.kind_ord));
            }
            key.push(KeyPart::Int(r.seq));
            let row = ResourceRow {
                id: r.id,
                created: r.created,
                last_modified: r.last_modified,
                version: r.version,
                resource: r.resource,
            };
            Ok(KeyedRow { table, row, key })
        })
        .collect()
}

/// Whether `position` can be a position of this listing (the right length and kinds of parts).
pub fn fits(sources: &[Source<'_>], position: &[KeyPart]) -> bool {
    let Ok(shape) = Shape::of(sources) else { return false };
    if position.len() != shape.len() {
        return false;
    }
    let ints_from = usize::from(shape.sorted) * (1 + usize::from(shape.nullable));
    let null_flag_ok = !(shape.sorted && shape.nullable) || matches!(position[0], KeyPart::Int(0 | 1));
    null_flag_ok && position[ints_from..].iter().all(|p| matches!(p, KeyPart::Int(_)))
}

/// Up to `limit` rows on `side` of `position` (from the start, or the end for `Before`, without one),
/// returned in listing order. Each source's filter and the position use the sources' indexes; no OFFSET.
pub fn page(
    conn: &mut Conn,
    sources: &[Source<'_>],
    descending: bool,
    position: Option<&[KeyPart]>,
    side: Side,
    limit: usize,
) -> ScimResult<Vec<KeyedRow>> {
    let shape = Shape { dialect: conn.dialect(), ..Shape::of(sources)? };
    let sql = page_sql(&shape, sources, descending, position, side, limit);
    let mut rows = run(conn, &shape, sources, sql)?;
    if side == Side::Before {
        rows.reverse();
    }
    Ok(rows)
}

/// The query of [`page`]: a page before a position is read backwards from it (and turned round by `page`).
fn page_sql(
    shape: &Shape,
    sources: &[Source<'_>],
    descending: bool,
    position: Option<&[KeyPart]>,
    side: Side,
    limit: usize,
) -> SqlFragment {
    let mut sql = SqlFragment::default();
    for (ord, source) in sources.iter().enumerate() {
        if ord > 0 {
            sql.push(" UNION ALL ");
        }
        sql.append(&select(shape, descending, ord, source, position.map(|p| (p, side))));
    }
    sql.push(&order_by(shape, descending, side == Side::Before));
    sql.push(" LIMIT ").bind(SqlBind::Int(limit as i64));
    sql
}

/// Rows `offset..offset + limit` of the listing (startIndex paging across several tables).
pub fn page_at_offset(
    conn: &mut Conn,
    sources: &[Source<'_>],
    descending: bool,
    offset: usize,
    limit: usize,
) -> ScimResult<Vec<KeyedRow>> {
    let shape = Shape { dialect: conn.dialect(), ..Shape::of(sources)? };
    let mut sql = SqlFragment::default();
    for (ord, source) in sources.iter().enumerate() {
        if ord > 0 {
            sql.push(" UNION ALL ");
        }
        sql.append(&select(&shape, descending, ord, source, None));
    }
    sql.push(&order_by(&shape, descending, false));
    sql.push(" LIMIT ").bind(SqlBind::Int(limit as i64)).push(" OFFSET ").bind(SqlBind::Int(offset as i64));
    run(conn, &shape, sources, sql)
}

#[cfg(test)]
mod tests;
