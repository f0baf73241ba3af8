//! `scimd export`, `scimd users list|show`, `scimd groups list|show`: the directory for the apps behind scimd
//! and for quick looks, read straight from the database and rendered exactly as the SCIM API renders it.

use super::open_store;
use crate::directory::{Directory, Kind, SchemaRegistry};
use crate::scim::cursor::CursorCodec;
use crate::scim::filter::parse_filter;
use clap::{Subcommand, ValueEnum};
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;

/// Where `meta.location` and `$ref` point when not told otherwise: `serve`'s default base URL.
const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080/scim/v2";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A JSON array of SCIM User resources (with `groups`), as GET /Users/{id} renders them.
    Json,
    /// One row per user: id, userName, externalId, active, displayName, givenName, familyName, email, groups.
    Csv,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// Write here instead of standard output (written aside and renamed into place when complete).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Only users matching this SCIM filter, e.g. 'active eq true'.
    #[arg(long)]
    pub filter: Option<String>,
    /// The public base URL used in meta.location and $ref (as `serve --base-url`).
    #[arg(long, env = "SCIMD_BASE_URL", default_value = DEFAULT_BASE_URL)]
    pub base_url: String,
}

#[derive(Debug, Subcommand)]
pub enum ListCommand {
    /// One line per resource (id and name), optionally filtered.
    List {
        /// A SCIM filter, e.g. 'userName sw "a"' or 'displayName eq "Admins"'.
        #[arg(long)]
        filter: Option<String>,
    },
    /// One resource as JSON, by id (or userName / displayName).
    Show {
        key: String,
        #[arg(long, env = "SCIMD_BASE_URL", default_value = DEFAULT_BASE_URL)]
        base_url: String,
    },
}

fn open_directory(database: &str, base_url: &str) -> Result<Directory, String> {
    // Reading commands never create a database.
    if let Some(path) = crate::store::url::DatabaseUrl::parse(database)?.sqlite_path() {
        if !std::path::Path::new(path).exists() {
            return Err(format!("no database at {path} (see --database)"));
        }
    }
    let store = open_store(database)?;
    let key = store.server_key("cursor").map_err(|e| e.detail)?;
    let key = hex::decode(key).map_err(|e| format!("the database's cursor key is damaged: {e}"))?;
    let schemas = SchemaRegistry::open(store.clone(), false)?;
    Ok(Directory::new(store, base_url, CursorCodec::new(&key, 3600), schemas))
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The CSV row of a rendered user.
fn csv_row(user: &Value) -> Vec<String> {
    let email = user["emails"]
        .as_array()
        .and_then(|e| e.iter().find(|m| m["primary"] == true).or_else(|| e.first()))
        .and_then(|m| m["value"].as_str())
        .unwrap_or("");
    let groups: Vec<&str> =
        user["groups"].as_array().map(|g| g.iter().filter_map(|g| g["display"].as_str()).collect()).unwrap_or_default();
    vec![
        text(user, "/id").into(),
        text(user, "/userName").into(),
        text(user, "/externalId").into(),
        user.get("active").and_then(Value::as_bool).map(|b| b.to_string()).unwrap_or_default(),
        text(user, "/displayName").into(),
        text(user, "/name/givenName").into(),
        text(user, "/name/familyName").into(),
        email.into(),
        groups.join(";"),
        text(user, "/meta/created").into(),
        text(user, "/meta/lastModified").into(),
    ]
}

const CSV_HEADER: [&str; 11] = [
    "id",
    "userName",
    "externalId",
    "active",
    "displayName",
    "givenName",
    "familyName",
    "email",
    "groups",
    "created",
    "lastModified",
];

pub fn export(database: &str, args: ExportArgs) -> Result<(), String> {
    let directory = open_directory(database, &args.base_url)?;
    let filter = args.filter.as_deref().map(parse_filter).transpose().map_err(|e| format!("--filter: {}", e.detail))?;
    let total = directory.count(Kind::User).map_err(|e| e.detail)?;
    // To a file: written aside, renamed into place when complete; nothing half-written on failure.
    let (sink, temp): (Box<dyn Write>, Option<PathBuf>) = match &args.out {
        Some(path) => {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let temp = path.with_file_name(format!(".{name}.partial-{}", std::process::id()));
            let file = std::fs::File::create(&temp).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            (Box::new(std::io::BufWriter::new(file)), Some(temp))
        }
        None => (Box::new(std::io::BufWriter::new(std::io::stdout().lock())), None),
    };
    let bar = super::progress::counter(total as u64, "users");
    let result = write_export(&directory, args.format, filter.as_ref(), sink, &bar);
    bar.finish_and_clear();
    match (result, &temp, &args.out) {
        (Ok(n), Some(temp), Some(out)) => {
            std::fs::rename(temp, out).map_err(|e| format!("cannot move the export into place: {e}"))?;
            eprintln!("exported {n} users to {}", out.display());
            Ok(())
        }
        (Ok(_), _, _) => Ok(()),
        (Err(e), temp, _) => {
            if let Some(temp) = temp {
                let _ = std::fs::remove_file(temp);
            }
            Err(e)
        }
    }
}

/// The outcome of one write: go on, stop quietly (the reader closed the pipe), or fail.
fn go_on(result: std::io::Result<()>, closed: &mut bool) -> crate::scim::error::ScimResult<bool> {
    match result {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            *closed = true;
            Ok(false)
        }
        Err(e) => Err(crate::scim::error::ScimError::new(500, None, format!("write failed: {e}"))),
    }
}

/// A CSV writer's error as the I/O error it wraps (so a closed pipe is recognised).
fn csv_io(e: csv::Error) -> std::io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => std::io::Error::other(format!("{other:?}")),
    }
}

fn write_export(
    directory: &Directory,
    format: Format,
    filter: Option<&crate::scim::filter::Filter>,
    mut sink: Box<dyn Write>,
    bar: &indicatif::ProgressBar,
) -> Result<usize, String> {
    let mut closed = false;
    let n = match format {
        Format::Json => {
            let mut first = true;
            let n = directory
                .for_each(Kind::User, filter, &mut |user| {
                    let mut bytes = Vec::with_capacity(1024);
                    bytes.extend_from_slice(if first { b"[\n" } else { b",\n" });
                    first = false;
                    serde_json::to_writer(&mut bytes, &user).map_err(crate::scim::error::ScimError::internal)?;
                    bar.inc(1);
                    go_on(sink.write_all(&bytes), &mut closed)
                })
                .map_err(|e| e.detail)?;
            if !closed {
                let tail: &[u8] = if first { b"[]\n" } else { b"\n]\n" };
                go_on(sink.write_all(tail), &mut closed).map_err(|e| e.detail)?;
            }
            n
        }
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(sink);
            go_on(writer.write_record(CSV_HEADER).map_err(csv_io), &mut closed).map_err(|e| e.detail)?;
            let n = if closed {
                0
            } else {
                directory
                    .for_each(Kind::User, filter, &mut |user| {
                        bar.inc(1);
                        go_on(writer.write_record(csv_row(&user)).map_err(csv_io), &mut closed)
                    })
                    .map_err(|e| e.detail)?
            };
            match writer.into_inner() {
                Ok(s) => sink = s,
                Err(e) if e.error().kind() == std::io::ErrorKind::BrokenPipe => return Ok(n),
                Err(e) => return Err(format!("write failed: {}", e.error())),
            }
            n
        }
    };
    if !closed {
        go_on(sink.flush(), &mut closed).map_err(|e| e.detail)?;
    }
    Ok(n)
}

pub fn run(database: &str, kind: Kind, cmd: ListCommand) -> Result<(), String> {
    match cmd {
        ListCommand::List { filter } => {
            let directory = open_directory(database, DEFAULT_BASE_URL)?;
            let filter =
                filter.as_deref().map(parse_filter).transpose().map_err(|e| format!("--filter: {}", e.detail))?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let n = directory
                .for_each(kind, filter.as_ref(), &mut |r| {
                    let line = match kind {
                        Kind::User => format!(
                            "{}  {}  {}{}",
                            text(&r, "/id"),
                            text(&r, "/userName"),
                            text(&r, "/displayName"),
                            if r["active"] == false { "  (inactive)" } else { "" }
                        ),
                        Kind::Group => format!(
                            "{}  {}  ({} members)",
                            text(&r, "/id"),
                            text(&r, "/displayName"),
                            r["members"].as_array().map(Vec::len).unwrap_or(0)
                        ),
                    };
                    // A reader that went away (`| head`) ends the listing quietly.
                    match writeln!(out, "{line}") {
                        Ok(()) => Ok(true),
                        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
                        Err(e) => Err(crate::scim::error::ScimError::internal(e)),
                    }
                })
                .map_err(|e| e.detail)?;
            match out.flush() {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.to_string()),
                _ => {}
            }
            eprintln!("{n} {}{}", kind.endpoint().to_lowercase(), if filter.is_some() { " matched" } else { "" });
            Ok(())
        }
        ListCommand::Show { key, base_url } => {
            let directory = open_directory(database, &base_url)?;
            // By id, else by the unique name.
            let name_attr = if kind == Kind::User { "userName" } else { "displayName" };
            let quoted = serde_json::to_string(&key).map_err(|e| e.to_string())?;
            let filter = parse_filter(&format!("id eq {quoted} or {name_attr} eq {quoted}")).map_err(|e| e.detail)?;
            let mut found = None;
            directory
                .for_each(kind, Some(&filter), &mut |r| {
                    found = Some(r);
                    Ok(false)
                })
                .map_err(|e| e.detail)?;
            let r = found.ok_or(format!("no {} with id or {name_attr} \"{key}\"", kind.name()))?;
            let text = serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?;
            match writeln!(std::io::stdout().lock(), "{text}") {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.to_string()),
                _ => Ok(()),
            }
        }
    }
}
