//! The `users` table: hot attributes as indexed columns, the rest as JSON.

use super::schema::users;
use super::{fold_case, Conn};
use crate::scim::error::ScimResult;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};

/// The columns of a user row that are written; `seq` is assigned by SQLite.
#[derive(Debug, Clone)]
pub struct UserColumns<'a> {
    pub id: &'a str,
    /// userName in `fold_case` form; the client's spelling stays in `resource`.
    pub user_name_folded: &'a str,
    pub external_id: Option<&'a str>,
    pub display_name_folded: Option<&'a str>,
    /// None: unassigned (removed by a PATCH).
    pub active: Option<bool>,
    pub created: &'a str,
    pub last_modified: &'a str,
    pub version: i64,
    pub resource: &'a str,
}

// Inserts and updates are prepared statements (raw SQL: the JSON parameter's cast is dialect SQL, which
// Diesel's DSL would only take as an uncacheable SQL literal).

pub fn insert(conn: &mut Conn, row: &UserColumns<'_>) -> ScimResult<()> {
    let (before, after) = conn.dialect().json_param();
    let sql = format!(
        "INSERT INTO users (id, user_name_folded, external_id, display_name_folded, active, created, \
         last_modified, version, resource) VALUES (?, ?, ?, ?, ?, ?, ?, ?, {before}?{after})"
    );
    bind_columns(super::conn::prepared(sql).bind::<Text, _>(row.id), row).execute(conn)?;
    super::resources::adjust_count(conn, super::resources::Table::Users, 1)
}

pub fn update(conn: &mut Conn, row: &UserColumns<'_>) -> ScimResult<()> {
    let (before, after) = conn.dialect().json_param();
    let sql = format!(
        "UPDATE users SET user_name_folded = ?, external_id = ?, display_name_folded = ?, active = ?, \
         created = ?, last_modified = ?, version = ?, resource = {before}?{after} WHERE id = ?"
    );
    bind_columns(super::conn::prepared(sql), row).bind::<Text, _>(row.id).execute(conn)?;
    Ok(())
}

/// Binds every column but `id`, in the order `insert` and `update` name them.
fn bind_columns<'a>(query: super::conn::Prepared<'a>, row: &UserColumns<'a>) -> super::conn::Prepared<'a> {
    query
        .bind::<Text, _>(row.user_name_folded)
        .bind::<Nullable<Text>, _>(row.external_id)
        .bind::<Nullable<Text>, _>(row.display_name_folded)
        .bind::<Nullable<Bool>, _>(row.active)
        .bind::<Text, _>(row.created)
        .bind::<Text, _>(row.last_modified)
        .bind::<BigInt, _>(row.version)
        .bind::<Text, _>(row.resource)
}

/// The id of the user holding `user_name`, compared case-insensitively (RFC 7643 §4.1.1), if any.
pub fn id_by_user_name(conn: &mut Conn, user_name: &str) -> ScimResult<Option<String>> {
    Ok(users::table
        .filter(users::user_name_folded.eq(fold_case(user_name)))
        .select(users::id)
        .first(conn)
        .optional()?)
}

#[derive(Debug, Clone, QueryableByName)]
pub struct GroupOfUser {
    #[diesel(sql_type = Text)]
    pub group_id: String,
    #[diesel(sql_type = Text)]
    pub display_name: String,
    /// "direct" or "indirect" (RFC 7643 §4.1.2).
    #[diesel(sql_type = Text)]
    pub kind: String,
}

/// The groups a member belongs to: directly, and through nested groups (UNION stops on cycles).
/// CROSS JOIN fixes the join order (SQLite keeps it as written): from the few reached groups into `groups`
/// by its id index, never a scan of all groups probing `reach`.
pub fn groups_of(conn: &mut Conn, member_id: &str) -> ScimResult<Vec<GroupOfUser>> {
    let d = conn.dialect();
    let sql = format!(
        "WITH RECURSIVE direct(gid) AS (SELECT group_id FROM group_members WHERE member_id = ?), \
         reach(gid) AS (SELECT gid FROM direct \
                        UNION SELECT gm.group_id FROM reach {}) \
         SELECT g.id AS group_id, {} AS display_name, \
                CASE WHEN g.id IN (SELECT gid FROM direct) THEN 'direct' ELSE 'indirect' END AS kind \
         FROM reach {} ORDER BY g.seq",
        d.lookup_join("group_members", "gm", "gm.member_id = reach.gid"),
        d.json_member("g.resource", "displayName"),
        d.lookup_join("groups", "g", "g.id = reach.gid")
    );
    Ok(super::conn::prepared(sql).bind::<Text, _>(member_id).load(conn)?)
}

#[derive(Debug, Clone, QueryableByName)]
struct GroupOfMember {
    #[diesel(sql_type = Text)]
    member_id: String,
    #[diesel(sql_type = Text)]
    group_id: String,
    #[diesel(sql_type = Text)]
    display_name: String,
    #[diesel(sql_type = Text)]
    kind: String,
}

/// The lengths of `groups_of_many`'s id list: a chunk is padded to the next one (repeating its last id), so
/// that a handful of statement texts serve every page size and stay prepared.
const ID_LIST_SIZES: [usize; 5] = [1, 10, 50, 100, 500];

/// `groups_of` for a whole page of members in one query per 500 members (a list page renders up to
/// maxResults users at once; SQLite caps the number of bound parameters).
pub fn groups_of_many(
    conn: &mut Conn,
    member_ids: &[String],
) -> ScimResult<std::collections::HashMap<String, Vec<GroupOfUser>>> {
    let mut by_member = std::collections::HashMap::new();
    for chunk in member_ids.chunks(500) {
        let size = ID_LIST_SIZES.into_iter().find(|&n| n >= chunk.len()).unwrap_or(chunk.len());
        let placeholders = vec!["?"; size].join(", ");
        let d = conn.dialect();
        let sql = format!(
            "WITH RECURSIVE direct(member, gid) AS \
                 (SELECT member_id, group_id FROM group_members WHERE member_id IN ({placeholders})), \
             reach(member, gid) AS (SELECT member, gid FROM direct \
                 UNION SELECT reach.member, gm.group_id FROM reach {}) \
             SELECT reach.member AS member_id, g.id AS group_id, {} AS display_name, \
                    CASE WHEN EXISTS (SELECT 1 FROM direct d WHERE d.member = reach.member AND d.gid = reach.gid) \
                         THEN 'direct' ELSE 'indirect' END AS kind \
             FROM reach {} ORDER BY reach.member, g.seq",
            d.lookup_join("group_members", "gm", "gm.member_id = reach.gid"),
            d.json_member("g.resource", "displayName"),
            d.lookup_join("groups", "g", "g.id = reach.gid")
        );
        let mut query = super::conn::prepared(sql);
        let padding = chunk.last().into_iter().cycle().take(size - chunk.len());
        for id in chunk.iter().chain(padding) {
            query = query.bind::<Text, _>(id.as_str());
        }
        for row in query.load::<GroupOfMember>(conn)? {
            by_member.entry(row.member_id).or_insert_with(Vec::new).push(GroupOfUser {
                group_id: row.group_id,
                display_name: row.display_name,
                kind: row.kind,
            });
        }
    }
    Ok(by_member)
}

/// Whether a user `id` exists and, if so, its displayName as the client spelled it (`None` when it has none).
/// For the enterprise extension's `manager.displayName` (RFC 7643 §4.3).
pub fn display_name_by_id(conn: &mut Conn, id: &str) -> ScimResult<Option<Option<String>>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
        display_name: Option<String>,
    }
    let sql = format!(
        "SELECT {} AS display_name FROM users WHERE id = ?",
        conn.dialect().json_member("resource", "displayName")
    );
    let row = super::conn::prepared(sql).bind::<Text, _>(id).get_result::<Row>(conn).optional()?;
    Ok(row.map(|r| r.display_name))
}
