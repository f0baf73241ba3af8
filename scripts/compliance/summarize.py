"""Summarise the checkers' results into summary.md; with --strict, fail on unexplained failures.

Usage: summarize.py --out DIR --explained docs/compliance.md [--strict] [--scimd-version TEXT]

Reads DIR/scim2-tester.json (written by run_scim2_tester.py) and DIR/scim-sanity.json
(`scim-sanity probe --json-output`). Each result gets an id of four fields:

    checker | scope | check | message

  scim2-tester: scim2-tester | <resource type or -> | <check function> | <reason>
  scim-sanity:  scim-sanity  | <phase>               | <test name>      | <message>

Statuses are counted as
  passed   scim2-tester SUCCESS, COMPLIANT, ACCEPTABLE; scim-sanity pass
  warning  scim2-tester DEVIATION (a SHOULD not followed); scim-sanity warn
  failed   scim2-tester ERROR, CRITICAL; scim-sanity fail, error
  skipped  scim2-tester SKIPPED; scim-sanity skip

A failure or warning is "explained" when a line of a ```explained fenced block in the explained
file matches it: the line holds up to four ` | `-separated patterns (`*` any text, `?` one
character, anything else literal, case sensitive) matched against the four fields; fields left out match anything; text after ` # ` is a
comment. Blank lines and lines starting with # are ignored.

Exit status: 0; with --strict, 1 when a failure is not explained; 3 when a checker has no results.
"""

import argparse
import json
import os
import re
import sys

PASSED, WARNING, FAILED, SKIPPED = "passed", "warning", "failed", "skipped"

SCIM2_TESTER = {
    "SUCCESS": PASSED,
    "COMPLIANT": PASSED,
    "ACCEPTABLE": PASSED,
    "DEVIATION": WARNING,
    "ERROR": FAILED,
    "CRITICAL": FAILED,
    "SKIPPED": SKIPPED,
}
SCIM_SANITY = {"pass": PASSED, "warn": WARNING, "fail": FAILED, "error": FAILED, "skip": SKIPPED}


def one_line(text):
    return " ".join(str(text or "").split())


def shorten(text, limit=400):
    return text if len(text) <= limit else text[: limit - 1] + "…"


def load_explained(path):
    """The patterns of the ```explained blocks: a list of (fields, comment, line number)."""
    patterns = []
    if not os.path.exists(path):
        return patterns
    inside = False
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            stripped = line.strip()
            if not inside:
                if re.match(r"^```+\s*explained\b", stripped):
                    inside = True
                continue
            if stripped.startswith("```"):
                inside = False
                continue
            if not stripped or stripped.startswith("#"):
                continue
            comment = ""
            if " # " in stripped:
                stripped, comment = stripped.split(" # ", 1)
            fields = [p.strip() for p in stripped.split(" | ")]
            patterns.append((fields, comment.strip(), n))
    return patterns


def glob_match(value, pattern):
    """`*` matches any text, `?` one character; everything else (brackets too) is literal."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def explained_by(fields, patterns):
    for pattern, comment, n in patterns:
        if all(glob_match(v, p) for p, v in zip(pattern, fields)):
            return pattern, comment, n
    return None


def scim2_tester_results(out):
    path = os.path.join(out, "scim2-tester.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    rows = []
    for r in doc["results"]:
        rows.append(
            {
                "category": SCIM2_TESTER.get(r["status"], FAILED),
                "status": r["status"],
                "fields": [
                    "scim2-tester",
                    r.get("resource_type") or "-",
                    r.get("title") or "?",
                    one_line(r.get("reason")),
                ],
            }
        )
    return doc.get("version", "?"), rows


def scim_sanity_results(out):
    path = os.path.join(out, "scim-sanity.json")
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return None
    with open(path, encoding="utf-8") as f:
        try:
            doc = json.load(f)
        except ValueError:
            return None
    rows = []
    for r in doc.get("results", []):
        rows.append(
            {
                "category": SCIM_SANITY.get(r["status"], FAILED),
                "status": r["status"],
                "fields": [
                    "scim-sanity",
                    r.get("phase") or "-",
                    r.get("name") or "?",
                    one_line(r.get("message")),
                ],
            }
        )
    return doc.get("scim_sanity_version", "?"), rows


def md_cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--explained", required=True)
    ap.add_argument("--strict", action="store_true")
    ap.add_argument("--scimd-version", default="")
    args = ap.parse_args()

    patterns = load_explained(args.explained)
    used = set()
    lines = ["# scimd compliance summary", ""]
    if args.scimd_version:
        lines += [f"scimd: {args.scimd_version.strip()}", ""]
    missing = []
    unexplained_total = 0
    for name, loader in (("scim2-tester", scim2_tester_results), ("scim-sanity", scim_sanity_results)):
        loaded = loader(args.out)
        if loaded is None:
            missing.append(name)
            lines += [f"## {name}", "", f"**did not run** (no results; see {name}.stderr)", ""]
            continue
        version, rows = loaded
        counts = {c: sum(1 for r in rows if r["category"] == c) for c in (PASSED, FAILED, WARNING, SKIPPED)}
        lines += [
            f"## {name} {version}",
            "",
            f"{counts[PASSED]} passed, {counts[FAILED]} failed, {counts[WARNING]} warnings, "
            f"{counts[SKIPPED]} skipped ({len(rows)} results)",
            "",
        ]
        for category, heading in ((FAILED, "Failures"), (WARNING, "Warnings")):
            bad = [r for r in rows if r["category"] == category]
            if not bad:
                continue
            lines += [f"### {heading}", "", "| status | scope | check | message | explained |", "|---|---|---|---|---|"]
            for r in bad:
                hit = explained_by(r["fields"], patterns)
                if hit:
                    used.add(hit[2])
                    note = f"yes (docs line {hit[2]}{': ' + hit[1] if hit[1] else ''})"
                else:
                    note = "**no**"
                    if category == FAILED:
                        unexplained_total += 1
                _, scope, check, message = r["fields"]
                lines.append(
                    f"| {r['status']} | {md_cell(scope)} | {md_cell(check)} | {md_cell(shorten(message))} | {md_cell(note)} |"
                )
            lines.append("")
        skipped = [r for r in rows if r["category"] == SKIPPED]
        if skipped:
            lines += ["### Skipped", ""]
            for r in skipped:
                _, scope, check, message = r["fields"]
                lines.append(f"- {scope} / {check}: {shorten(message)}")
            lines.append("")

    stale = [(p, c, n) for p, c, n in patterns if n not in used]
    if stale:
        lines += ["## Explained entries that matched nothing (fixed? remove them)", ""]
        lines += [f"- docs line {n}: `{' | '.join(p)}`" for p, c, n in stale]
        lines.append("")
    lines.append(f"Unexplained failures: {unexplained_total}")

    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "summary.md"), "w", encoding="utf-8") as f:
        f.write(text)
    print(text)
    if missing:
        print(f"compliance: checker(s) did not run: {', '.join(missing)}", file=sys.stderr)
        return 3
    if args.strict and unexplained_total:
        print(f"compliance --strict: {unexplained_total} unexplained failure(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
