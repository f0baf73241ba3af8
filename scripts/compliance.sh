#!/usr/bin/env bash
# Run third-party SCIM compliance checkers against a fresh scimd and summarise what they report.
#
#   scripts/compliance.sh [--strict]
#
# 1. a virtualenv in target/compliance/venv (reused while scripts/compliance/requirements.txt is
#    unchanged) with the pinned scim2-tester and scim-sanity;
# 2. scimd: $SCIMD_BIN if set, else `cargo build --release`; started on a fresh database in a temp
#    dir, on an ephemeral 127.0.0.1 port, with a token minted by `scimd token create`;
# 3. both checkers, raw outputs and HTTP traces in target/compliance/;
# 4. target/compliance/summary.md, printed; the server is stopped.
#
# Exit 0 when the checkers ran, whatever they found. With --strict, exit 1 when a check failed that
# is not listed in the "explained" block of docs/compliance.md. Other exits: 2 usage, 3 setup
# (venv, build, server start) or a checker that did not run.
#
# Environment: SCIMD_BIN (prebuilt binary), PYTHON (interpreter for the venv, default python3),
# COMPLIANCE_OUT (output dir, default target/compliance), COMPLIANCE_VENV (default $COMPLIANCE_OUT/venv),
# COMPLIANCE_SCHEMAS (schema extension files to register with `scimd schema add` before the run).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HERE="$ROOT/scripts/compliance"
STRICT=0
for arg in "$@"; do
  case "$arg" in
    --strict) STRICT=1 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compliance.sh: unknown argument: $arg (usage: scripts/compliance.sh [--strict])" >&2; exit 2 ;;
  esac
done

OUT="${COMPLIANCE_OUT:-$ROOT/target/compliance}"
VENV="${COMPLIANCE_VENV:-$OUT/venv}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
log() { echo "== $*" >&2; }
die() { echo "compliance.sh: $*" >&2; exit 3; }

# ---- 1. checkers ---------------------------------------------------------------------------------
REQ="$HERE/requirements.txt"
STAMP="$VENV/.requirements.sha256"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" || ! -f "$STAMP" || "$(cat "$STAMP")" != "$want" ]]; then
  log "creating virtualenv $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" || die "cannot create a virtualenv with $PYTHON"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ" \
    || die "pip install -r $REQ failed"
  echo "$want" > "$STAMP"
else
  log "reusing virtualenv $VENV"
fi
PY="$VENV/bin/python"

# ---- 2. scimd ------------------------------------------------------------------------------------
if [[ -n "${SCIMD_BIN:-}" ]]; then
  BIN="$SCIMD_BIN"
else
  log "cargo build --release"
  (cd "$ROOT" && cargo build --release --quiet) || die "cargo build --release failed"
  TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
  [[ "$TARGET_DIR" = /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR"
  BIN="$TARGET_DIR/release/scimd"
fi
[[ -x "$BIN" ]] || die "no scimd binary at $BIN"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/scimd-compliance.XXXXXX")"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

DB="$WORK/scimd.db"
# Optional schema extensions to register first (space-separated files), so the checkers exercise them too.
for schema in ${COMPLIANCE_SCHEMAS:-}; do
  "$BIN" --database "$DB" schema add "$schema" >>"$OUT/schema-add.log" 2>&1 \
    || die "scimd schema add $schema failed: $(cat "$OUT/schema-add.log")"
done
TOKEN="$("$BIN" --database "$DB" token create --name compliance 2>"$OUT/token-create.stderr")" \
  || die "scimd token create failed: $(cat "$OUT/token-create.stderr")"
[[ "$TOKEN" =~ ^scimd_[0-9a-f]{64}$ ]] || die "unexpected token output from scimd token create"

log "starting $BIN on 127.0.0.1:0 (database $DB)"
RUST_LOG="${RUST_LOG:-info}" "$BIN" --database "$DB" serve --bind 127.0.0.1:0 \
  >"$OUT/scimd.stdout" 2>"$OUT/scimd.log" &
SERVER_PID=$!
BASE_URL=""
for _ in $(seq 300); do
  BASE_URL="$(sed -n 's/^SCIM base URL: //p' "$OUT/scimd.stdout" | head -n1)"
  [[ -n "$BASE_URL" ]] && break
  kill -0 "$SERVER_PID" 2>/dev/null || die "scimd exited on start: $(tail -n 5 "$OUT/scimd.log")"
  sleep 0.1
done
[[ -n "$BASE_URL" ]] || die "scimd printed no base URL within 30 s"
[[ "$BASE_URL" =~ ^http://127\.0\.0\.1:[0-9]+/ ]] || die "unexpected base URL $BASE_URL"
log "scimd is up at $BASE_URL"
"$BIN" --version >"$OUT/scimd.version" 2>/dev/null || echo "scimd (unknown version)" >"$OUT/scimd.version"
git -C "$ROOT" rev-parse --short HEAD >>"$OUT/scimd.version" 2>/dev/null || true

# ---- 3. checkers ---------------------------------------------------------------------------------
rm -f "$OUT"/scim2-tester.* "$OUT"/scim-sanity.*

log "scim2-tester"
if ! SCIM_TOKEN="$TOKEN" "$PY" "$HERE/run_scim2_tester.py" "$BASE_URL" "$OUT" \
    >"$OUT/scim2-tester.stdout" 2>"$OUT/scim2-tester.stderr"; then
  echo "scim2-tester did not run: see $OUT/scim2-tester.stderr" >&2
fi

log "scim-sanity probe"
# Its exit status says whether checks failed; whether it ran is told by its JSON output.
"$PY" "$HERE/run_scim_sanity.py" "$OUT/scim-sanity.trace.jsonl" probe "$BASE_URL" \
  --token "$TOKEN" --json-output --strict --i-accept-side-effects --timeout 30 \
  >"$OUT/scim-sanity.json" 2>"$OUT/scim-sanity.stderr" || true

# ---- 4. summary ----------------------------------------------------------------------------------
cleanup
SERVER_PID=""
trap - EXIT

set +e
"$PY" "$HERE/summarize.py" --out "$OUT" --explained "$ROOT/docs/compliance.md" \
  --scimd-version "$(tr '\n' ' ' <"$OUT/scimd.version")" $([[ $STRICT = 1 ]] && echo --strict)
rc=$?
set -e
exit "$rc"
