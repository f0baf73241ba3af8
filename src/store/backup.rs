//! Online backup: `VACUUM INTO` copies the database from one read transaction, so the copy is consistent
//! (everything committed when it began, nothing after) and writers carry on meanwhile (WAL). The copy is
//! written beside the target under a temporary name, checked with `PRAGMA integrity_check`, and only then
//! renamed into place: a failed backup leaves no half-written file.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct BackupReport {
    pub users: i64,
    pub groups: i64,
    pub bytes: u64,
}

#[derive(QueryableByName)]
struct Check {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn temp_path(target: &Path) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "backup".into());
    target.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// Copies the database at `source` to `target` (which must not exist unless `overwrite`).
pub fn backup(database: &str, target: &Path, overwrite: bool) -> Result<BackupReport, String> {
    let url = super::url::DatabaseUrl::parse(database)?;
    let Some(source) = url.sqlite_path() else {
        return Err(format!("{url} is a PostgreSQL database: back it up with pg_dump or the server's own tooling"));
    };
    if !Path::new(source).exists() {
        return Err(format!("no database at {source}"));
    }
    if target.exists() && !overwrite {
        return Err(format!("{} already exists; pass --overwrite to replace it", target.display()));
    }
    if let (Ok(a), Ok(b)) = (std::fs::canonicalize(source), std::fs::canonicalize(target)) {
        if a == b {
            return Err("the backup file cannot be the database itself".into());
        }
    }
    let temp = temp_path(target);
    let _ = std::fs::remove_file(&temp);
    let result = copy_and_check(source, &temp);
    if let Err(e) = result {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    let report = result?;
    std::fs::rename(&temp, target).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        format!("cannot move the backup into place at {}: {e}", target.display())
    })?;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The rename is durable once the directory is.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(report)
}

fn copy_and_check(source: &str, temp: &Path) -> Result<BackupReport, String> {
    let mut src = SqliteConnection::establish(source).map_err(|e| format!("cannot open {source}: {e}"))?;
    src.batch_execute("PRAGMA busy_timeout = 10000;").map_err(|e| format!("cannot configure {source}: {e}"))?;
    let temp_text = temp.to_str().ok_or_else(|| format!("{} is not a UTF-8 path", temp.display()))?;
    diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(temp_text)
        .execute(&mut src)
        .map_err(|e| format!("the copy failed: {e}"))?;
    drop(src);
    let mut copy = SqliteConnection::establish(temp_text).map_err(|e| format!("cannot open the copy: {e}"))?;
    let checks: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut copy)
        .map_err(|e| format!("cannot check the copy: {e}"))?;
    let problems: Vec<String> = checks.into_iter().map(|c| c.integrity_check).filter(|c| c != "ok").collect();
    if !problems.is_empty() {
        return Err(format!("the copy failed its integrity check: {}", problems.join("; ")));
    }
    let count = |c: &mut SqliteConnection, t: &str| -> Result<i64, String> {
        Ok(diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {t}")).get_result::<N>(c).map_err(|e| e.to_string())?.n)
    };
    let users = count(&mut copy, "users")?;
    let groups = count(&mut copy, "groups")?;
    drop(copy);
    let file = std::fs::File::open(temp).map_err(|e| format!("cannot open the copy: {e}"))?;
    file.sync_all().map_err(|e| format!("cannot sync the copy: {e}"))?;
    let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    Ok(BackupReport { users, groups, bytes })
}
