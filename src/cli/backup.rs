//! `scimd backup FILE`: a consistent copy of the database while the server runs and writes go on.

use crate::store::backup::backup;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Where to write the copy (a SQLite file; restore by pointing --database at it).
    pub file: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub overwrite: bool,
}

pub fn run(database: &str, args: BackupArgs) -> Result<(), String> {
    let started = Instant::now();
    // A spinner while SQLite copies (only on a terminal; quiet when output is piped or logged).
    let spinner = super::progress::spinner(&format!("backing up {database} to {}", args.file.display()));
    spinner.enable_steady_tick(Duration::from_millis(120));
    let result = backup(database, &args.file, args.overwrite);
    spinner.finish_and_clear();
    let report = result?;
    println!(
        "backup {}: {} users, {} groups, {:.1} MB, integrity ok, in {:.1} s",
        args.file.display(),
        report.users,
        report.groups,
        report.bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
