//! Which database `--database` names: a SQLite file (a path, or `sqlite://…`) or a PostgreSQL server
//! (`postgres://…`). The scheme is dispatched here, explicitly: a typo in a scheme is an error, never a new
//! SQLite file named after the URL.

/// A parsed `--database` value. Its `Display` never shows a password.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite database file.
    Sqlite(String),
    /// A PostgreSQL connection URL (libpq syntax), as given.
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(text: &str) -> Result<DatabaseUrl, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("--database is empty: give a file path, sqlite://FILE or postgres://…".into());
        }
        if let Some(path) = text.strip_prefix("sqlite://").or_else(|| text.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err(format!(
                    "\"{text}\" names no file: use sqlite://FILE (sqlite:///abs/path for an absolute one)"
                ));
            }
            if path.contains('?') {
                return Err(format!("\"{text}\": SQLite URLs take no options here"));
            }
            return Ok(DatabaseUrl::Sqlite(path.to_string()));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(text.to_string()));
        }
        // Anything else that looks like a URL is a mistake, not a file name.
        if let Some((scheme, _)) = text.split_once("://") {
            let looks_like_scheme = !scheme.is_empty()
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic());
            if looks_like_scheme {
                return Err(format!(
                    "unknown database scheme \"{scheme}://\": use a file path, sqlite://FILE or postgres://USER@HOST/DB"
                ));
            }
        }
        Ok(DatabaseUrl::Sqlite(text.to_string()))
    }

    /// The SQLite file, when this is one.
    pub fn sqlite_path(&self) -> Option<&str> {
        match self {
            DatabaseUrl::Sqlite(path) => Some(path),
            DatabaseUrl::Postgres(_) => None,
        }
    }
}

/// `postgres://user:secret@host/db` shown as `postgres://user:***@host/db`.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    // A password may also come as a query parameter (libpq's `?password=`).
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|p| if p.to_ascii_lowercase().starts_with("password=") { "password=***".into() } else { p.into() })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => f.write_str(path),
            DatabaseUrl::Postgres(url) => f.write_str(&redacted(url)),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "Sqlite({path:?})"),
            DatabaseUrl::Postgres(url) => write!(f, "Postgres({:?})", redacted(url)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DatabaseUrl::{self, Postgres, Sqlite};

    #[test]
    fn schemes_are_dispatched_explicitly() {
        let ok = |t: &str| DatabaseUrl::parse(t).unwrap();
        assert_eq!(ok("scimd.db"), Sqlite("scimd.db".into()));
        assert_eq!(ok("/var/lib/scimd/scimd.db"), Sqlite("/var/lib/scimd/scimd.db".into()));
        assert_eq!(ok("sqlite://data/scimd.db"), Sqlite("data/scimd.db".into()));
        assert_eq!(ok("sqlite:///var/lib/scimd.db"), Sqlite("/var/lib/scimd.db".into()));
        assert_eq!(ok("sqlite:scimd.db"), Sqlite("scimd.db".into()));
        assert_eq!(ok("postgres://scimd@db/scimd"), Postgres("postgres://scimd@db/scimd".into()));
        assert_eq!(ok("postgresql://db/scimd"), Postgres("postgresql://db/scimd".into()));
        for bad in ["", "  ", "sqlite://", "sqlite:x.db?mode=ro", "postgress://db/x", "mysql://db/x", "pg://x"] {
            assert!(DatabaseUrl::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(ok("postgres://db/x").sqlite_path(), None);
        assert_eq!(ok("a.db").sqlite_path(), Some("a.db"));
    }

    #[test]
    fn passwords_are_never_shown() {
        let url =
            DatabaseUrl::parse("postgres://scimd:s3cret@db.internal:5432/scimd?sslmode=require&password=p2").unwrap();
        for shown in [url.to_string(), format!("{url:?}")] {
            assert!(!shown.contains("s3cret") && !shown.contains("p2"), "{shown}");
            assert!(shown.contains("scimd:***@db.internal:5432/scimd"), "{shown}");
            assert!(shown.contains("sslmode=require"), "{shown}");
        }
        assert_eq!(DatabaseUrl::parse("postgres://db/x").unwrap().to_string(), "postgres://db/x");
    }
}
