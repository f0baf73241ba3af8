//! The one connection type of the store: SQLite or PostgreSQL behind Diesel's `MultiConnection`, so that the
//! query DSL serves both. Connections are made here after dispatching on the URL's scheme ourselves (the
//! derive's own `establish` tries each backend in turn and swallows the errors). Nothing outside `src/store/`
//! sees this type's variants.

use diesel::prelude::*;
use diesel::query_builder::QueryFragment;

#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Sqlite(diesel::SqliteConnection),
    Postgres(diesel::PgConnection),
}

/// The SQL dialect of a connection: what raw SQL text must be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl AnyConnection {
    pub fn dialect(&self) -> Dialect {
        match self {
            AnyConnection::Sqlite(_) => Dialect::Sqlite,
            AnyConnection::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The SQLite connection inside, for what only SQLite has (pragmas, `BEGIN IMMEDIATE`, backups).
    pub fn sqlite(&mut self) -> Option<&mut diesel::SqliteConnection> {
        match self {
            AnyConnection::Sqlite(c) => Some(c),
            AnyConnection::Postgres(_) => None,
        }
    }
}

impl Dialect {
    /// Raw SQL written with `?` (or numbered `?N`) placeholders, in this dialect's: unchanged for SQLite,
    /// `$1, $2, …` (`$N`) for PostgreSQL. The store's SQL text never holds a literal `?` (every value is a bound
    /// parameter).
    pub fn placeholders(self, sql: &str) -> std::borrow::Cow<'_, str> {
        match self {
            Dialect::Sqlite => std::borrow::Cow::Borrowed(sql),
            Dialect::Postgres => {
                let mut out = String::with_capacity(sql.len() + 8);
                let mut n = 0;
                let mut chars = sql.chars().peekable();
                while let Some(c) = chars.next() {
                    if c != '?' {
                        out.push(c);
                        continue;
                    }
                    out.push('$');
                    if chars.peek().is_some_and(char::is_ascii_digit) {
                        while let Some(d) = chars.next_if(char::is_ascii_digit) {
                            out.push(d);
                        }
                    } else {
                        n += 1;
                        out.push_str(&n.to_string());
                    }
                }
                std::borrow::Cow::Owned(out)
            }
        }
    }

    /// A JSON column read back as JSON text (PostgreSQL keeps it as `jsonb`).
    pub fn json_as_text(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => column.to_string(),
            Dialect::Postgres => format!("{column}::text"),
        }
    }

    /// What surrounds a bound JSON text parameter stored into a JSON column: (before, after).
    pub fn json_param(self) -> (&'static str, &'static str) {
        match self {
            Dialect::Sqlite => ("", ""),
            Dialect::Postgres => ("CAST(", " AS jsonb)"),
        }
    }

    /// A join that looks `table` up by `on` for each row on its left, in the written order. SQLite plans
    /// `CROSS JOIN` in the written order (the way to pin a join order there). PostgreSQL estimates a recursive
    /// CTE's rows at 10× its first step and then hashes all of `table` instead (`users::groups_of`: 14 ms at
    /// 10,000 groups instead of 0.5 ms; a list page's `groups_of_many`: 350 ms instead of 4), so there the
    /// lookup is a LATERAL subquery behind `OFFSET 0`, which the planner does not flatten. It may stand in the
    /// recursive step of a CTE (`FROM reach <lookup_join>`).
    pub fn lookup_join(self, table: &str, alias: &str, on: &str) -> String {
        match self {
            Dialect::Sqlite => format!("CROSS JOIN {table} {alias} ON {on}"),
            Dialect::Postgres => {
                format!("CROSS JOIN LATERAL (SELECT * FROM {table} {alias} WHERE {on} OFFSET 0) {alias}")
            }
        }
    }

    /// A top-level member `key` (a constant name, never client input) of a JSON column, as text; NULL when
    /// absent.
    pub fn json_member(self, column: &str, key: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$.{key}')"),
            Dialect::Postgres => format!("({column} ->> '{key}')"),
        }
    }
}

/// `diesel::sql_query` for raw SQL written with `?` placeholders, rewritten for `conn`'s dialect.
pub fn sql_query(conn: &AnyConnection, sql: &str) -> diesel::query_builder::SqlQuery {
    diesel::sql_query(conn.dialect().placeholders(sql).into_owned())
}

/// Raw SQL of a fixed text (built from constants and the dialect, never from a request) with `?` placeholders,
/// which Diesel keeps as a prepared statement per connection, keyed by its text: PostgreSQL then parses and
/// plans it once per connection instead of at every call (planning `users::groups_of_many` took ~0.45 ms, the
/// query itself a fraction of that). `diesel::sql_query` never caches (its text may be anything): filter SQL,
/// whose texts are as many as the filters clients send, stays there, since the cache has no bound.
pub struct Prepared<'a> {
    sql: String,
    binds: Vec<Box<dyn QueryFragment<MultiBackend> + Send + 'a>>,
}

/// One bound value of a `Prepared` query.
struct Bind<V, ST> {
    value: V,
    sql_type: std::marker::PhantomData<ST>,
}

impl<V, ST> QueryFragment<MultiBackend> for Bind<V, ST>
where
    MultiBackend: diesel::sql_types::HasSqlType<ST>,
    V: diesel::serialize::ToSql<ST, MultiBackend>,
{
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        out.push_bind_param::<ST, V>(&self.value)
    }
}

/// A fixed SQL text for `Prepared`: `?` placeholders only (Diesel writes each backend's own), and no `?`
/// anywhere else (PostgreSQL's jsonb `?` operators included).
pub fn prepared<'a>(sql: impl Into<String>) -> Prepared<'a> {
    Prepared { sql: sql.into(), binds: Vec::new() }
}

impl<'a> Prepared<'a> {
    pub fn bind<ST, V>(mut self, value: V) -> Self
    where
        MultiBackend: diesel::sql_types::HasSqlType<ST>,
        V: diesel::serialize::ToSql<ST, MultiBackend> + Send + 'a,
        ST: Send + 'a,
    {
        self.binds.push(Box::new(Bind { value, sql_type: std::marker::PhantomData::<ST> }));
        self
    }
}

impl QueryFragment<MultiBackend> for Prepared<'_> {
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        let pieces: Vec<&str> = self.sql.split('?').collect();
        if pieces.len() != self.binds.len() + 1 {
            return Err(diesel::result::Error::QueryBuilderError(
                format!("{} placeholders and {} bound values", pieces.len() - 1, self.binds.len()).into(),
            ));
        }
        for (i, piece) in pieces.iter().enumerate() {
            out.push_sql(piece);
            if let Some(bind) = self.binds.get(i) {
                bind.walk_ast(out.reborrow())?;
            }
        }
        Ok(())
    }
}

impl diesel::query_builder::QueryId for Prepared<'_> {
    type QueryId = ();
    // Not static: Diesel keys its statement cache by the SQL text and the bind types.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for Prepared<'_> {
    type SqlType = diesel::sql_types::Untyped;
}

impl<C> RunQueryDsl<C> for Prepared<'_> {}

#[cfg(test)]
mod tests {
    use super::Dialect;

    #[test]
    fn placeholders_per_dialect() {
        let sql = "SELECT a FROM t WHERE b = ? AND c IN (?, ?)";
        assert_eq!(Dialect::Sqlite.placeholders(sql), sql);
        assert_eq!(Dialect::Postgres.placeholders(sql), "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)");
        assert_eq!(
            Dialect::Postgres.placeholders("WHERE a = ?1 OR b = ?2 OR c = ?1"),
            "WHERE a = $1 OR b = $2 OR c = $1"
        );
    }
}
