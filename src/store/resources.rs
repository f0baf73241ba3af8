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
            super::conn::sql_query(conn, "SELECT n FROM resource_counts WHERE resource_table = ?")
                .bind::<Text, _>(table.name())
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
    super::conn::sql_query(
        conn,
        "UPDATE groups SET version = version + 1, last_modified = ? \
         WHERE id IN (SELECT group_id FROM group_members WHERE member_id = ?)",
    )
    .bind::<Text, _>(now)
    .bind::<Text, _>(member_id)
    .execute(conn)?;
    super::conn::sql_query(conn, "DELETE FROM group_members WHERE member_id = ?")
        .bind::<Text, _>(member_id)
        .execute(conn)?;
    Ok(())
}

pub fn delete(conn: &mut Conn, table: Table, id: &str) -> ScimResult<bool> {
    let sql = format!("DELETE FROM {} WHERE id = ?", table.name());
    let deleted = super::conn::sql_query(conn, &sql).bind::<Text, _>(id).execute(conn)?;
    adjust_count(conn, table, -(deleted as i64))?;
    Ok(deleted > 0)
}

/// Keeps `resource_counts` exact: every insert and delete of a resource row calls this in its transaction.
pub(super) fn adjust_count(conn: &mut Conn, table: Table, delta: i64) -> ScimResult<()> {
    if delta != 0 {
        super::conn::sql_query(conn, "UPDATE resource_counts SET n = n + ? WHERE resource_table = ?")
            .bind::<BigInt, _>(delta)
            .bind::<Text, _>(table.name())
            .execute(conn)?;
    }
    Ok(())
}
