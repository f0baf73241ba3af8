//! `scimd copy`: everything in one database (users, groups, memberships, API tokens and OAuth clients as
//! hashes, signing keys, server keys, schema extensions) into another, typically SQLite into PostgreSQL.
//! The source is read in one read transaction (one consistent snapshot, whatever writes go on), page by page
//! (constant memory at any size); each page is written in a transaction of its own. Row order (`seq`) is
//! kept, so lists answer in the same order afterwards. At the end every table's rows are counted on both
//! sides.

use super::oauth::{ClientRow, SecretRow, SigningKeyRow};
use super::schema::{api_tokens, oauth_client_secrets, oauth_clients, signing_keys};
use super::tokens::TokenRow;
use super::{conn, Conn, Dialect, MultiBackend, Store};
use crate::scim::error::{ScimError, ScimResult};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};

/// Rows read and written per transaction.
const PAGE: i64 = 1000;
/// Rows per INSERT statement: one round trip for many rows (10 columns × 100 rows stays far below both
/// backends' limits on bound parameters).
const ROWS_PER_INSERT: usize = 100;

/// The tables copied, in an order that satisfies the foreign keys; counted before and after.
pub const TABLES: [&str; 10] = [
    "users",
    "groups",
    "group_members",
    "api_tokens",
    "oauth_clients",
    "oauth_client_secrets",
    "signing_keys",
    "server_keys",
    "schema_extensions",
    "schema_generation",
];

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(c: &mut Conn, table: &str) -> ScimResult<i64> {
    Ok(conn::sql_query(c, &format!("SELECT COUNT(*) AS n FROM {table}")).get_result::<N>(c)?.n)
}

/// Rows in each copied table.
pub fn counts(store: &Store) -> ScimResult<Vec<(&'static str, i64)>> {
    store.read(|c| TABLES.iter().map(|t| Ok((*t, count(c, t)?))).collect())
}

/// Whether `store` holds anything a copy would collide with (a fresh `scimd migrate` holds nothing).
pub fn is_empty(store: &Store) -> ScimResult<bool> {
    // schema_generation always has its one row.
    Ok(counts(store)?.iter().all(|(t, n)| *n == 0 || *t == "schema_generation"))
}

/// Deletes everything `copy` writes (for `--overwrite`).
pub fn clear(store: &Store) -> ScimResult<()> {
    store.write(|c| {
        for t in TABLES.iter().rev().filter(|t| **t != "schema_generation") {
            conn::sql_query(c, &format!("DELETE FROM {t}")).execute(c)?;
        }
        conn::sql_query(c, "UPDATE resource_counts SET n = 0").execute(c)?;
        Ok(())
    })
}

#[derive(QueryableByName)]
struct UserRow {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    user_name_folded: String,
    #[diesel(sql_type = Nullable<Text>)]
    external_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    display_name_folded: Option<String>,
    #[diesel(sql_type = Nullable<Bool>)]
    active: Option<bool>,
    #[diesel(sql_type = Text)]
    created: String,
    #[diesel(sql_type = Text)]
    last_modified: String,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Text)]
    resource: String,
}

#[derive(QueryableByName)]
struct GroupRow {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    display_name_folded: String,
    #[diesel(sql_type = Nullable<Text>)]
    external_id: Option<String>,
    #[diesel(sql_type = Text)]
    created: String,
    #[diesel(sql_type = Text)]
    last_modified: String,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Text)]
    resource: String,
}

#[derive(QueryableByName)]
struct MemberRow {
    #[diesel(sql_type = Text)]
    group_id: String,
    #[diesel(sql_type = Text)]
    member_id: String,
    #[diesel(sql_type = Text)]
    member_type: String,
}

#[derive(QueryableByName)]
struct KeyValue {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    key: String,
}

/// The JSON parameter of an INSERT into `target`'s dialect.
fn json_param(d: Dialect) -> String {
    let (before, after) = d.json_param();
    format!("{before}?{after}")
}

/// `INSERT INTO table (columns) VALUES (…), (…), …` for `rows` rows, the last column a JSON parameter when
/// `json_last`.
fn insert_many(d: Dialect, table: &str, columns: &str, json_last: bool, rows: usize) -> String {
    let n = columns.split(',').count();
    let mut one: Vec<String> = vec!["?".into(); n];
    if json_last {
        one[n - 1] = json_param(d);
    }
    let tuple = format!("({})", one.join(", "));
    format!("INSERT INTO {table} ({columns}) VALUES {}", vec![tuple; rows].join(", "))
}

type Boxed<'a> = diesel::query_builder::BoxedSqlQuery<'a, MultiBackend, diesel::query_builder::SqlQuery>;

/// Writes `rows` into `table` in one transaction of `target`, `ROWS_PER_INSERT` rows per INSERT; `bind` binds
/// one row's values in `columns`' order.
fn write_rows<'r, R>(
    target: &Store,
    table: &str,
    columns: &str,
    json_last: bool,
    rows: &'r [R],
    bind: impl Fn(Boxed<'r>, &'r R) -> Boxed<'r>,
) -> ScimResult<()> {
    target.write(|t| {
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let sql = insert_many(t.dialect(), table, columns, json_last, chunk.len());
            let query = chunk.iter().fold(conn::sql_query(t, &sql).into_boxed::<MultiBackend>(), &bind);
            query.execute(t)?;
        }
        Ok(())
    })
}

/// Copies everything from `source` into `target` (which must be empty: see `is_empty` and `clear`); calls
/// `progress` with the number of rows written so far.
pub fn copy(source: &Store, target: &Store, mut progress: impl FnMut(u64)) -> ScimResult<()> {
    let mut done = 0u64;
    source.read(|src| {
        let d = src.dialect();
        // Users, by seq.
        let mut after = 0i64;
        loop {
            let sql = format!(
                "SELECT seq, id, user_name_folded, external_id, display_name_folded, active, created, \
                 last_modified, version, {} AS resource FROM users WHERE seq > ? ORDER BY seq LIMIT ?",
                d.json_as_text("resource")
            );
            let rows: Vec<UserRow> =
                conn::sql_query(src, &sql).bind::<BigInt, _>(after).bind::<BigInt, _>(PAGE).load(src)?;
            let Some(last) = rows.last() else { break };
            after = last.seq;
            write_rows(
                target,
                "users",
                "seq, id, user_name_folded, external_id, display_name_folded, active, created, last_modified, \
                 version, resource",
                true,
                &rows,
                |q, r| {
                    q.bind::<BigInt, _>(r.seq)
                        .bind::<Text, _>(&r.id)
                        .bind::<Text, _>(&r.user_name_folded)
                        .bind::<Nullable<Text>, _>(&r.external_id)
                        .bind::<Nullable<Text>, _>(&r.display_name_folded)
                        .bind::<Nullable<Bool>, _>(r.active)
                        .bind::<Text, _>(&r.created)
                        .bind::<Text, _>(&r.last_modified)
                        .bind::<BigInt, _>(r.version)
                        .bind::<Text, _>(&r.resource)
                },
            )?;
            done += rows.len() as u64;
            progress(done);
        }
        // Groups, by seq.
        let mut after = 0i64;
        loop {
            let sql = format!(
                "SELECT seq, id, display_name_folded, external_id, created, last_modified, version, \
                 {} AS resource FROM groups WHERE seq > ? ORDER BY seq LIMIT ?",
                d.json_as_text("resource")
            );
            let rows: Vec<GroupRow> =
                conn::sql_query(src, &sql).bind::<BigInt, _>(after).bind::<BigInt, _>(PAGE).load(src)?;
            let Some(last) = rows.last() else { break };
            after = last.seq;
            write_rows(
                target,
                "groups",
                "seq, id, display_name_folded, external_id, created, last_modified, version, resource",
                true,
                &rows,
                |q, r| {
                    q.bind::<BigInt, _>(r.seq)
                        .bind::<Text, _>(&r.id)
                        .bind::<Text, _>(&r.display_name_folded)
                        .bind::<Nullable<Text>, _>(&r.external_id)
                        .bind::<Text, _>(&r.created)
                        .bind::<Text, _>(&r.last_modified)
                        .bind::<BigInt, _>(r.version)
                        .bind::<Text, _>(&r.resource)
                },
            )?;
            done += rows.len() as u64;
            progress(done);
        }
        // Memberships, by (group_id, member_id).
        let mut after = (String::new(), String::new());
        loop {
            let rows: Vec<MemberRow> = conn::sql_query(
                src,
                "SELECT group_id, member_id, member_type FROM group_members \
                 WHERE group_id > ? OR (group_id = ? AND member_id > ?) ORDER BY group_id, member_id LIMIT ?",
            )
            .bind::<Text, _>(&after.0)
            .bind::<Text, _>(&after.0)
            .bind::<Text, _>(&after.1)
            .bind::<BigInt, _>(PAGE)
            .load(src)?;
            let Some(last) = rows.last() else { break };
            after = (last.group_id.clone(), last.member_id.clone());
            write_rows(target, "group_members", "group_id, member_id, member_type", false, &rows, |q, r| {
                q.bind::<Text, _>(&r.group_id).bind::<Text, _>(&r.member_id).bind::<Text, _>(&r.member_type)
            })?;
            done += rows.len() as u64;
            progress(done);
        }
        // The small tables, whole.
        let tokens: Vec<TokenRow> = api_tokens::table.select(TokenRow::as_select()).load(src)?;
        let clients: Vec<ClientRow> = oauth_clients::table.select(ClientRow::as_select()).load(src)?;
        let secrets: Vec<SecretRow> = oauth_client_secrets::table.select(SecretRow::as_select()).load(src)?;
        let keys: Vec<SigningKeyRow> = signing_keys::table.select(SigningKeyRow::as_select()).load(src)?;
        let server_keys: Vec<KeyValue> = conn::sql_query(src, "SELECT name, key FROM server_keys").load(src)?;
        let extensions = super::extensions::all(src)?;
        let generation = super::extensions::generation(src)?;
        target.write(|t| {
            for r in &tokens {
                diesel::insert_into(api_tokens::table).values(r).execute(t)?;
            }
            for r in &clients {
                diesel::insert_into(oauth_clients::table).values(r).execute(t)?;
            }
            for r in &secrets {
                diesel::insert_into(oauth_client_secrets::table).values(r).execute(t)?;
            }
            for r in &keys {
                diesel::insert_into(signing_keys::table).values(r).execute(t)?;
            }
            for r in &server_keys {
                conn::sql_query(t, "INSERT INTO server_keys (name, key) VALUES (?, ?)")
                    .bind::<Text, _>(&r.name)
                    .bind::<Text, _>(&r.key)
                    .execute(t)?;
            }
            for r in &extensions {
                // (Each put bumps the schema generation; the source's is set just below.)
                super::extensions::put(t, r)?;
            }
            conn::sql_query(t, "UPDATE schema_generation SET generation = ? WHERE id = 1")
                .bind::<BigInt, _>(generation)
                .execute(t)?;
            finish(t)
        })?;
        done +=
            (tokens.len() + clients.len() + secrets.len() + keys.len() + server_keys.len() + extensions.len()) as u64;
        progress(done);
        Ok(())
    })
}

/// After the rows: the counts the store keeps, and (PostgreSQL) the identity sequences past the copied `seq`s.
fn finish(t: &mut Conn) -> ScimResult<()> {
    for table in ["users", "groups"] {
        conn::sql_query(
            t,
            &format!("UPDATE resource_counts SET n = (SELECT COUNT(*) FROM {table}) WHERE resource_table = '{table}'"),
        )
        .execute(t)?;
        conn::sql_query(t, &format!("UPDATE resource_counts SET n = 0 WHERE resource_table LIKE '{table}#%'"))
            .execute(t)?;
        if t.dialect() == Dialect::Postgres {
            conn::sql_query(
                t,
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'seq'), COALESCE((SELECT MAX(seq) FROM {table}), 0) + 1, false)"
                ),
            )
            .execute(t)?;
        }
    }
    Ok(())
}

/// PostgreSQL: refreshes the planner's statistics of the copied tables, which a bulk load leaves empty until
/// autovacuum gets to them (meanwhile a plan may guess wrong). SQLite keeps no statistics unless asked, and
/// its queries fix their join order: nothing to do.
pub fn analyze(store: &Store) -> ScimResult<()> {
    if store.dialect() != Dialect::Postgres {
        return Ok(());
    }
    store.write(|c| {
        conn::sql_query(c, &format!("ANALYZE {}", TABLES.join(", "))).execute(c)?;
        Ok(())
    })
}

/// Compares every table's row count on both sides; the first difference is an error.
pub fn verify(source: &Store, target: &Store) -> ScimResult<Vec<(&'static str, i64)>> {
    let (a, b) = (counts(source)?, counts(target)?);
    for ((table, x), (_, y)) in a.iter().zip(&b) {
        if x != y {
            return Err(ScimError::internal(format!("{table}: {x} rows in the source, {y} in the target")));
        }
    }
    Ok(a)
}
