//! `scimd copy --from URL --to URL`: move a directory to another database (SQLite up to PostgreSQL, or back),
//! from one consistent snapshot, with a progress bar, verified by counting every table at the end.

use crate::store::url::DatabaseUrl;
use crate::store::{copy, Store, StoreOptions};
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct CopyArgs {
    /// The database to copy from: a SQLite file (path or sqlite://FILE) or postgres://…; never changed.
    #[arg(long)]
    pub from: String,
    /// The database to copy into (migrated first). It must be empty, unless --overwrite.
    #[arg(long)]
    pub to: String,
    /// Delete everything in the target database before copying.
    #[arg(long)]
    pub overwrite: bool,
}

pub fn run(args: CopyArgs) -> Result<(), String> {
    let started = Instant::now();
    let (from, to) = (DatabaseUrl::parse(&args.from)?, DatabaseUrl::parse(&args.to)?);
    if from == to {
        return Err("--from and --to name the same database".into());
    }
    if let Some(path) = from.sqlite_path() {
        if !std::path::Path::new(path).exists() {
            return Err(format!("no database at {path} (--from)"));
        }
    }
    let source = Store::open(&args.from, &StoreOptions::default()).map_err(|e| format!("--from: {e}"))?;
    let target = Store::open(&args.to, &StoreOptions::default()).map_err(|e| format!("--to: {e}"))?;
    if !copy::is_empty(&target).map_err(|e| e.detail)? {
        if !args.overwrite {
            return Err(format!("{to} already holds data; pass --overwrite to delete it and copy {from} in its place"));
        }
        copy::clear(&target).map_err(|e| e.detail)?;
    }
    let total: i64 = copy::counts(&source).map_err(|e| e.detail)?.iter().map(|(_, n)| n).sum();
    let bar = super::progress::counter(total.max(0) as u64, "rows");
    let copied = copy::copy(&source, &target, |done| bar.set_position(done));
    bar.finish_and_clear();
    copied.map_err(|e| format!("copy failed (the target is incomplete; run again with --overwrite): {}", e.detail))?;
    let counts = copy::verify(&source, &target).map_err(|e| format!("verification failed: {}", e.detail))?;
    crate::directory::schemas::build_indexes(&target).map_err(|e| format!("copied, but indexing failed: {e}"))?;
    copy::analyze(&target).map_err(|e| format!("copied and verified, but ANALYZE failed: {}", e.detail))?;
    let summary: Vec<String> = counts.iter().map(|(t, n)| format!("{t} {n}")).collect();
    println!("copied {from} to {to} in {:.1} s, verified: {}", started.elapsed().as_secs_f64(), summary.join(", "));
    Ok(())
}
