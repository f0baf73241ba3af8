//! The docs match the product: every flag is in docs/configuration.md with its environment variable and
//! default, and every `scimd …` command line in the docs and the README parses with the real CLI.
use clap::CommandFactory;
use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// (command path, long flag, env var, default values) of every option of every subcommand.
fn all_flags() -> Vec<(String, String, Option<String>, Vec<String>)> {
    fn walk(cmd: &clap::Command, path: &str, out: &mut Vec<(String, String, Option<String>, Vec<String>)>) {
        for arg in cmd.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if ["help", "version"].contains(&long) {
                continue;
            }
            let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
            let defaults = arg.get_default_values().iter().map(|d| d.to_string_lossy().into_owned()).collect();
            out.push((path.to_string(), long.to_string(), env, defaults));
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }
    let mut out = Vec::new();
    walk(&scimd::cli::Cli::command(), "scimd", &mut out);
    out
}

#[test]
fn configuration_md_lists_every_flag_with_its_environment_and_default() {
    let doc = read("docs/configuration.md");
    let flags = all_flags();
    assert!(flags.len() > 30, "{flags:?}");
    for (path, long, env, defaults) in flags {
        let flag = format!("`--{long}`");
        let lines: Vec<&str> = doc.lines().filter(|l| l.contains(&flag)).collect();
        assert!(!lines.is_empty(), "docs/configuration.md does not mention {flag} ({path})");
        if let Some(env) = env {
            assert!(lines.iter().any(|l| l.contains(&format!("`{env}`"))), "{flag} ({path}): env {env} not given");
        }
        for d in defaults {
            assert!(lines.iter().any(|l| l.contains(&format!("`{d}`"))), "{flag} ({path}): default {d} not given");
        }
    }
}

/// The command lines in fenced code blocks: those starting with `scimd ` (or `$ scimd `), continuation lines
/// joined, comments and pipes cut off.
fn command_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    let mut pending = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            continue;
        }
        let line = line.trim();
        let line = line.strip_prefix("$ ").unwrap_or(line);
        if pending.is_empty() && !line.starts_with("scimd ") {
            continue;
        }
        pending.push_str(line.trim_end_matches('\\'));
        pending.push(' ');
        if !line.ends_with('\\') {
            out.push(std::mem::take(&mut pending));
        }
    }
    out
}

/// Shell words of a command line: quotes honoured, a `#` comment or a pipe ends it.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut started = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                started = true;
            }
            (None, c) if c.is_whitespace() => {
                if started || !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            (None, '#' | '|' | '>' | '&') if word.is_empty() && !started => break,
            (None, c) => word.push(c),
        }
    }
    if started || !word.is_empty() {
        out.push(word);
    }
    out
}

#[test]
fn every_documented_command_line_parses() {
    let mut docs: Vec<String> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| format!("docs/{}", e.file_name().to_string_lossy()))
        .filter(|n| n.ends_with(".md"))
        .collect();
    docs.push("README.md".into());
    let mut checked = 0;
    for doc in docs {
        for line in command_lines(&read(&doc)) {
            let args = words(&line);
            match scimd::cli::Cli::try_parse_from_args(&args) {
                Ok(()) => checked += 1,
                Err(e) => panic!("{doc}: `{}` does not parse: {e}", line.trim()),
            }
        }
    }
    assert!(checked >= 20, "only {checked} command lines found");
}

#[test]
fn words_and_command_lines() {
    assert_eq!(
        words("scimd users list --filter 'userName sw \"a\"'  # note"),
        ["scimd", "users", "list", "--filter", "userName sw \"a\""]
    );
    assert_eq!(words("scimd export --format csv | head"), ["scimd", "export", "--format", "csv"]);
    let text = "```sh\n$ scimd token create --name okta \\\n  --expires-in 90d\necho hi\n```\nscimd outside\n";
    assert_eq!(command_lines(text), vec!["scimd token create --name okta  --expires-in 90d "]);
}
