//! The one connection type of the store: SQLite or PostgreSQL behind Diesel's `MultiConnection`, so that the
//! query DSL serves both. Connections are made here after dispatching on the URL's scheme ourselves (the
//! derive's own `establish` tries each backend in turn and swallows the errors). Nothing outside `src/store/`
//! sees this type's variants.

use diesel::prelude::*;

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
    /// Raw SQL written with `?` placeholders, in this dialect's: `?` for SQLite, `$1, $2, …` for PostgreSQL.
    /// The store's SQL text never holds a literal `?` (every value is a bound parameter).
    pub fn placeholders(self, sql: &str) -> std::borrow::Cow<'_, str> {
        match self {
            Dialect::Sqlite => std::borrow::Cow::Borrowed(sql),
            Dialect::Postgres => {
                let mut out = String::with_capacity(sql.len() + 8);
                let mut n = 0;
                for c in sql.chars() {
                    if c == '?' {
                        n += 1;
                        out.push('$');
                        out.push_str(&n.to_string());
                    } else {
                        out.push(c);
                    }
                }
                std::borrow::Cow::Owned(out)
            }
        }
    }
}

/// `diesel::sql_query` for raw SQL written with `?` placeholders, rewritten for `conn`'s dialect.
pub fn sql_query(conn: &AnyConnection, sql: &str) -> diesel::query_builder::SqlQuery {
    diesel::sql_query(conn.dialect().placeholders(sql).into_owned())
}

#[cfg(test)]
mod tests {
    use super::Dialect;

    #[test]
    fn placeholders_per_dialect() {
        let sql = "SELECT a FROM t WHERE b = ? AND c IN (?, ?)";
        assert_eq!(Dialect::Sqlite.placeholders(sql), sql);
        assert_eq!(Dialect::Postgres.placeholders(sql), "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)");
    }
}
