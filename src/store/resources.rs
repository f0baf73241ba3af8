//! Queries shared by the `users` and `groups` tables: both keep the same envelope columns (seq, id, created,
//! last_modified, version, resource) beside their own hot attributes.

use super::filter_sql::SqlFragment;
use super::schema::{groups, users};
use super::Conn;
use crate::scim::error::ScimResult;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

/// Which resource table. Table names are constants, never client input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Users,
    Groups,
}

impl Table {
    pub fn name(self) -> &'static str {
        match self {
            Table::Users => "users",
            Table::Groups => "groups",
        }
    }
}

#[derive(Debug, Clone, Queryable, QueryableByName)]
pub struct ResourceRow {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub created: String,
    #[diesel(sql_type = Text)]
    pub last_modified: String,
    #[diesel(sql_type = BigInt)]
    pub version: i64,
    #[diesel(sql_type = Text)]
    pub resource: String,
}

#[derive(QueryableByName)]
pub(crate) struct CountRow {
    #[diesel(sql_type = BigInt)]
    pub(crate) n: i64,
}

/// The envelope columns, in `ResourceRow` order.
fn envelope(d: super::Dialect) -> String {
    format!("id, created, last_modified, version, {} AS resource", d.json_as_text("resource"))
}

// `get` and `exists` run on every single-resource request: written with the query builder, whose
// statements Diesel prepares once per connection and caches (raw `sql_query` text is prepared every time).

pub fn get(conn: &mut Conn, table: Table, id: &str) -> ScimResult<Option<ResourceRow>> {
    let resource = diesel::dsl::sql::<Text>(&conn.dialect().json_as_text("resource"));
    let row = match table {
        Table::Users => users::table
            .filter(users::id.eq(id))
            .select((users::id, users::created, users::last_modified, users::version, resource))
            .first(conn),
        Table::Groups => groups::table
            .filter(groups::id.eq(id))
            .select((groups::id, groups::created, groups::last_modified, groups::version, resource))
            .first(conn),
    };
    Ok(row.optional()?)
}

/// `get` inside a write, for a read-modify-write of the row: on PostgreSQL the row is locked (`FOR UPDATE`) until
/// the transaction ends, so concurrent writers of one resource take turns and each sees the last one's version.
/// (SQLite's single writer already takes turns.)
pub fn get_for_update(conn: &mut Conn, table: Table, id: &str) -> ScimResult<Option<ResourceRow>> {
    if conn.dialect() == super::Dialect::Sqlite {
        return get(conn, table, id);
    }
    let sql = format!("SELECT {} FROM {} WHERE id = ? FOR UPDATE", envelope(conn.dialect()), table.name());
    Ok(super::conn::prepared(sql).bind::<Text, _>(id).get_result::<ResourceRow>(conn).optional()?)
}

/// `exists` inside a write that goes on to rely on the row (a new member): on PostgreSQL the row is share-locked
/// until the transaction ends, so it cannot be deleted in between.
pub fn exists_for_share(conn: &mut Conn, table: Table, id: &str) -> ScimResult<bool> {
    if conn.dialect() == super::Dialect::Sqlite {
        return exists(conn, table, id);
    }
    #[derive(QueryableByName)]
    struct Seq {
        #[diesel(sql_type = BigInt)]
        #[allow(dead_code)]
        seq: i64,
    }
    let sql = format!("SELECT seq FROM {} WHERE id = ? FOR SHARE", table.name());
    Ok(super::conn::prepared(sql).bind::<Text, _>(id).get_result::<Seq>(conn).optional()?.is_some())
}

pub fn exists(conn: &mut Conn, table: Table, id: &str) -> ScimResult<bool> {
    let found: Option<i64> = match table {
        Table::Users => users::table.filter(users::id.eq(id)).select(users::seq).first(conn).optional()?,
        Table::Groups => groups::table.filter(groups::id.eq(id)).select(groups::seq).first(conn).optional()?,
    };
    Ok(found.is_some())
}

/// One page of a filtered, sorted listing, and the exact total. The filter and the ORDER BY terms come from
/// `filter_sql` with their own bound parameters; `seq` (creation order) breaks ties so pages are stable.
pub fn list(
    conn: &mut Conn,
    table: Table,
    filter: Option<&SqlFragment>,
    order: Option<&SqlFragment>,
    offset: usize,
    limit: usize,
) -> ScimResult<(usize, Vec<ResourceRow>)> {
    let t = table.name();
    let no_filter = SqlFragment::default();
    let (where_sql, filter) = match filter {
        Some(f) => (format!("WHERE {}", f.sql), f),
        None => (String::new(), &no_filter),
    };
    let total = count(conn, table, Some(filter).filter(|f| !f.sql.is_empty()))?;
    if limit == 0 || offset >= total {
        return Ok((total, Vec::new()));
    }
    let (order_sql, order) = match order {
        Some(key) => (format!("ORDER BY {}, {t}.seq ASC", key.sql), key),
        None => (format!("ORDER BY {t}.seq ASC"), &no_filter),
    };
    // The page's positions are picked first, by `seq` alone: OFFSET then skips entries of a narrow index
    // (users_seq / groups_seq or the filter's index) instead of whole rows, so a deep page stays cheap.
    let sql = format!(
        "SELECT {} FROM {t} WHERE {t}.seq IN \
         (SELECT {t}.seq FROM {t} {where_sql} {order_sql} LIMIT ? OFFSET ?) {order_sql}",
        envelope(conn.dialect())
    );
    let query = order.bind_to(filter.bind_to(super::conn::sql_query(conn, &sql).into_boxed()));
    let rows = order
        .bind_to(query.bind::<BigInt, _>(limit as i64).bind::<BigInt, _>(offset as i64))
        .load::<ResourceRow>(conn)?;
    Ok((total, rows))
}

/// The exact number of rows matching `filter`. Without a filter it is read from `resource_counts`, which the
/// store's inserts and deletes keep exact in their transactions: O(1) whatever the table's size.
pub fn count(conn: &mut Conn, table: Table, filter: Option<&SqlFragment>) -> ScimResult<usize> {
    let n = match filter {
        None => {
            // The table's row, plus its shards on PostgreSQL.
            super::conn::prepared(
                "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS n FROM resource_counts \
                 WHERE resource_table = ? OR resource_table LIKE ?",
            )
            .bind::<Text, _>(table.name())
            .bind::<Text, _>(format!("{}#%", table.name()))
            .get_result::<CountRow>(conn)?
            .n
        }
        Some(f) => {
            let sql = format!("SELECT COUNT(*) AS n FROM {} WHERE {}", table.name(), f.sql);
            f.bind_to(super::conn::sql_query(conn, &sql).into_boxed()).get_result::<CountRow>(conn)?.n
        }
    };
    Ok(n.max(0) as usize)
}

/// Removes every membership naming `member_id`, bumping the version of each group that loses it.
pub fn drop_memberships_of(conn: &mut Conn, member_id: &str, now: &str) -> ScimResult<()> {
    super::conn::prepared(
        "UPDATE groups SET version = version + 1, last_modified = ? \
         WHERE id IN (SELECT group_id FROM group_members WHERE member_id = ?)",
    )
    .bind::<Text, _>(now)
    .bind::<Text, _>(member_id)
    .execute(conn)?;
    super::conn::prepared("DELETE FROM group_members WHERE member_id = ?").bind::<Text, _>(member_id).execute(conn)?;
    Ok(())
}

pub fn delete(conn: &mut Conn, table: Table, id: &str) -> ScimResult<bool> {
    let sql = format!("DELETE FROM {} WHERE id = ?", table.name());
    let deleted = super::conn::prepared(sql).bind::<Text, _>(id).execute(conn)?;
    adjust_count(conn, table, -(deleted as i64))?;
    Ok(deleted > 0)
}

/// Keeps `resource_counts` exact: every insert and delete of a resource row calls this in its transaction.
pub(super) fn adjust_count(conn: &mut Conn, table: Table, delta: i64) -> ScimResult<()> {
    if delta == 0 {
        return Ok(());
    }
    // PostgreSQL: one of the table's 16 count rows, at random, so concurrent writers rarely wait for each other.
    let row = match conn.dialect() {
        super::Dialect::Sqlite => table.name().to_string(),
        super::Dialect::Postgres => format!("{}#{}", table.name(), rand::random_range(0..COUNT_SHARDS)),
    };
    super::conn::prepared("UPDATE resource_counts SET n = n + ? WHERE resource_table = ?")
        .bind::<BigInt, _>(delta)
        .bind::<Text, _>(row)
        .execute(conn)?;
    Ok(())
}

/// Count rows per table on PostgreSQL (see its migration `count_shards`).
const COUNT_SHARDS: u32 = 16;
