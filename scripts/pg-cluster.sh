#!/usr/bin/env bash
# Throwaway PostgreSQL server for CI (.ci/run) and the integration tests.
#
#   scripts/pg-cluster.sh start DIR   create a cluster in DIR (absent or empty), start it on a free
#                                     127.0.0.1 port, create database scimd_test; print its URL
#                                     postgres://postgres@127.0.0.1:PORT/scimd_test (also in DIR/url)
#   scripts/pg-cluster.sh url DIR     print the URL of the running cluster in DIR
#   scripts/pg-cluster.sh stop DIR    stop the cluster and remove DIR (quietly succeeds if DIR is absent)
#
# The URL is the only thing written to stdout; diagnostics go to stderr. `start` on a DIR whose
# cluster is already running just prints its URL. Server binaries: $PG_BINDIR if set, else the
# highest /usr/lib/postgresql/*/bin; when none is found and we are root on a system with apt-get,
# the Debian `postgresql` package is installed (its own cluster on port 5432 is left alone: ours
# never uses 5432's socket dir, only a port that was free and a socket in DIR).
# initdb refuses root, so as root the cluster runs as `postgres` (or a created system user
# `scimd-pg`); DIR and its parents must then be reachable by that user (/tmp is fine). Otherwise it
# runs as the current user. Durability is off (fsync, full_page_writes, synchronous_commit): test data
# only; PG_CLUSTER_DURABLE=1 keeps PostgreSQL's durable defaults and sets shared_buffers = 1GB (for the
# benchmark: a fair comparison with SQLite's synchronous=FULL). On a failed start the server log is printed and DIR is cleaned up, unless PG_CLUSTER_KEEP=1.
#
# Exit status: 0 ok, 1 failure (message on stderr), 2 usage.
set -euo pipefail

PROG="pg-cluster.sh"
DBNAME="scimd_test"
SUPERUSER="postgres"
MARKER=".pg-cluster"   # key=value file in DIR: proves DIR is ours, records bindir, user, port
WAIT_SECS=30

# Everything goes to stderr; only the URL goes to the original stdout (fd 3). Children that may
# outlive us (the postmaster) must not inherit fd 3 or our lock fds 8/9, or `$(pg-cluster.sh start
# DIR)` would never see EOF and the locks would stay held: see run_as_pg.
exec 3>&1 1>&2

log() { echo "$PROG: $*" >&2; }
die() { echo "$PROG: error: $*" >&2; exit 1; }
usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# The server and our clients must not be steered by the caller's PG* variables (PGDATA, PGHOST,
# PGOPTIONS, PGSSLMODE, ...).
for v in $(compgen -e); do
  case "$v" in PG_BINDIR|PG_CLUSTER_KEEP|PG_CLUSTER_DURABLE) ;; PG*) unset "$v" ;; esac
done

IS_ROOT=0
[ "$(id -u)" = 0 ] && IS_ROOT=1
ME="$(id -un)"

# ---------------------------------------------------------------------------------------- binaries

BINDIR=""
find_bindir() {
  local d
  if [ -n "${PG_BINDIR:-}" ]; then
    if [ -x "$PG_BINDIR/initdb" ] && [ -x "$PG_BINDIR/pg_ctl" ] && [ -x "$PG_BINDIR/postgres" ]; then
      BINDIR="$PG_BINDIR"; return 0
    fi
    die "PG_BINDIR=$PG_BINDIR does not contain initdb, pg_ctl and postgres"
  fi
  while IFS= read -r d; do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
      BINDIR="$d"; return 0
    fi
  done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -r -V)
  return 1
}

setup_lock() {  # serialises apt-get and useradd between parallel `start`s (fd 8)
  local dir=/run/lock
  [ -d "$dir" ] && [ -w "$dir" ] || dir=/tmp
  exec 8>"$dir/pg-cluster-setup.lock" || die "cannot open $dir/pg-cluster-setup.lock"
  if command -v flock >/dev/null 2>&1; then
    flock -w 900 8 || die "timed out waiting for $dir/pg-cluster-setup.lock (another install running?)"
  fi
}
setup_unlock() { exec 8>&-; }

ensure_binaries() {
  find_bindir && return 0
  if [ "$IS_ROOT" != 1 ] || ! command -v apt-get >/dev/null 2>&1; then
    die "no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin; install them" \
        "(Debian: apt-get install postgresql, as root) or set PG_BINDIR"
  fi
  setup_lock
  if ! find_bindir; then  # a parallel start may have installed it while we waited
    log "installing PostgreSQL (apt-get install postgresql)..."
    # fds 3/8/9 closed: the postinst may start Debian's own cluster, which must not hold them.
    apt-get update -qq </dev/null 3>&- 8>&- 9<&- \
      || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql </dev/null 3>&- 8>&- 9<&- \
      || die "apt-get install postgresql failed"
    find_bindir || die "postgresql was installed but no initdb/pg_ctl found in /usr/lib/postgresql/*/bin"
  fi
  setup_unlock
}

client() {  # path of a client tool: from BINDIR, else PATH
  if [ -x "$BINDIR/$1" ]; then echo "$BINDIR/$1"
  elif command -v "$1" >/dev/null 2>&1; then command -v "$1"
  else die "$1 not found (neither in $BINDIR nor on PATH)"
  fi
}

# -------------------------------------------------------------------------------------------- user

PG_USER=""
choose_user() {
  if [ "$IS_ROOT" != 1 ]; then PG_USER="$ME"; return; fi
  if id -u postgres >/dev/null 2>&1; then PG_USER=postgres; return; fi
  PG_USER=scimd-pg
  id -u "$PG_USER" >/dev/null 2>&1 && return
  setup_lock
  if ! id -u "$PG_USER" >/dev/null 2>&1; then
    log "creating system user $PG_USER"
    if command -v useradd >/dev/null 2>&1; then
      useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$PG_USER" || die "useradd $PG_USER failed"
    elif command -v adduser >/dev/null 2>&1; then
      adduser --system --group --no-create-home --home /nonexistent "$PG_USER" \
        || die "adduser $PG_USER failed"
    else
      die "no postgres user and neither useradd nor adduser to create $PG_USER"
    fi
  fi
  setup_unlock
}

# Run a command as PG_USER with a sane locale, fds 3/8/9 closed (see the top of the file).
run_as_pg() {
  local envs=(env "LC_ALL=$LOCALE" "LANG=$LOCALE")
  if [ "$PG_USER" = "$ME" ]; then
    "${envs[@]}" "$@" 3>&- 8>&- 9<&-
  elif command -v runuser >/dev/null 2>&1; then
    runuser -u "$PG_USER" -- "${envs[@]}" "$@" 3>&- 8>&- 9<&-
  elif command -v setpriv >/dev/null 2>&1; then
    setpriv --reuid="$PG_USER" --regid="$(id -g "$PG_USER")" --init-groups \
      "${envs[@]}" "$@" 3>&- 8>&- 9<&-
  else
    su -s /bin/bash "$PG_USER" -c "$(printf '%q ' "${envs[@]}" "$@")" 3>&- 8>&- 9<&-
  fi
}

LOCALE=C
choose_locale() {
  if locale -a 2>/dev/null | grep -Eqix 'c\.utf-?8'; then LOCALE=C.UTF-8; else LOCALE=C; fi
}

# ------------------------------------------------------------------------------------------ helpers

marker_get() { sed -n "s/^$1=//p" "$DIR/$MARKER" 2>/dev/null | tail -n 1; }

is_empty_dir() { [ -d "$1" ] && [ -z "$(ls -A -- "$1")" ]; }

free_port() {
  local p
  if p="$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' 2>/dev/null)" && [[ "$p" =~ ^[0-9]+$ ]]; then
    echo "$p"; return
  fi
  # No python3: a random port below the usual ephemeral range, skipping those that answer.
  local i
  for i in $(seq 1 50); do
    p=$(( 15000 + (RANDOM * 32768 + RANDOM) % 15000 ))
    [ "$p" = 5432 ] && continue
    if ! (exec 2>/dev/null; : >"/dev/tcp/127.0.0.1/$p"); then echo "$p"; return; fi
  done
  die "could not find a free TCP port on 127.0.0.1"
}

lock_dir() {  # exclusive lock on DIR itself (fd 9), so concurrent start/stop on one DIR serialise
  exec 9<"$DIR" || die "cannot open $DIR"
  if command -v flock >/dev/null 2>&1; then
    flock -w 120 9 || die "timed out waiting for another $PROG on $DIR"
  fi
}

is_ready() {  # is something accepting connections on the recorded port?
  local port="$1" isready
  isready="$(client pg_isready)"
  "$isready" -q -h 127.0.0.1 -p "$port" -U "$SUPERUSER" -d postgres -t 2 3>&- 8>&- 9<&-
}

postmaster_pid() {  # pid of the live (not zombie) postmaster of DIR/data, if any
  local pid state
  [ -r "$DIR/data/postmaster.pid" ] || return 1
  pid="$(head -n 1 "$DIR/data/postmaster.pid" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  # its command line is `.../postgres -D DIR/data -p PORT`: guards against a recycled pid
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$DIR/data" || return 1
  state="$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
  case "$state" in Z|X|x|"") return 1 ;; esac
  echo "$pid"
}

# Stop the server in DIR (if running) as its owner. Returns non-zero if it is still alive.
stop_server() {
  local pid i
  [ -d "$DIR/data" ] || return 0
  pid="$(postmaster_pid)" || return 0
  if ! run_as_pg "$BINDIR/pg_ctl" stop -D "$DIR/data" -m fast -w -t "$WAIT_SECS" -s >&2; then
    log "fast shutdown failed; trying immediate shutdown"
    run_as_pg "$BINDIR/pg_ctl" stop -D "$DIR/data" -m immediate -w -t 10 -s >&2 || true
  fi
  if pid="$(postmaster_pid)"; then
    log "killing postmaster $pid"
    kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do postmaster_pid >/dev/null || break; sleep 0.1; done
    # the backends notice the postmaster is gone and exit; give them a moment
    sleep 0.2
  fi
  ! postmaster_pid >/dev/null
}

resolve_dir() {
  [ -n "${1:-}" ] || usage
  DIR="$(realpath -m -- "$1")" || die "cannot resolve path $1"
  case "$DIR" in
    /) die "refusing to use / as DIR" ;;
    *$'\n'*|*"'"*) die "DIR must not contain a newline or a single quote: $DIR" ;;
  esac
}

# ------------------------------------------------------------------------------------------ start

CLEANUP=0; CREATED_DIR=0
on_exit() {
  local rc=$?
  if [ "$rc" != 0 ] && [ "$CLEANUP" = 1 ]; then
    if [ -f "$DIR/server.log" ]; then
      echo "----- $DIR/server.log -----" >&2; cat "$DIR/server.log" >&2 || true; echo "-----" >&2
    fi
    if [ "${PG_CLUSTER_KEEP:-0}" = 1 ]; then
      stop_server || true
      log "start failed; DIR kept for inspection (PG_CLUSTER_KEEP=1): $DIR"
    elif stop_server; then
      if [ "$CREATED_DIR" = 1 ]; then rm -rf -- "$DIR"
      else find "$DIR" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} + 2>/dev/null || true
      fi
      log "start failed; $DIR cleaned up"
    else
      log "start failed and the server in $DIR could not be stopped"
    fi
  fi
  exit "$rc"
}

cmd_start() {
  resolve_dir "$1"
  cd /  # the server user may not be able to enter our cwd, and pg_ctl/initdb need getcwd()
  ensure_binaries
  choose_locale

  if [ ! -e "$DIR" ]; then
    mkdir -p -- "$DIR" || die "cannot create $DIR"
    CREATED_DIR=1
  fi
  [ -d "$DIR" ] || die "$DIR exists and is not a directory"
  lock_dir
  [ -d "$DIR" ] || die "$DIR was removed while waiting for its lock"

  if [ -f "$DIR/$MARKER" ] && [ -f "$DIR/url" ]; then
    local oldport; oldport="$(marker_get port)"
    if [ -n "$oldport" ] && is_ready "$oldport"; then
      log "cluster in $DIR is already running"
      cat "$DIR/url" >&3
      return 0
    fi
  fi
  if [ -f "$DIR/$MARKER" ]; then
    die "$DIR holds a cluster that is not running (or a failed start); run '$0 stop $DIR' first"
  fi
  is_empty_dir "$DIR" || die "$DIR is not empty (refusing to put a cluster there)"

  choose_user
  CLEANUP=1
  trap on_exit EXIT
  printf 'bindir=%s\nuser=%s\n' "$BINDIR" "$PG_USER" >"$DIR/$MARKER"
  chmod 0755 "$DIR"
  if [ "$IS_ROOT" = 1 ]; then
    chown -R "$PG_USER:" "$DIR" || die "cannot chown $DIR to $PG_USER"
    if ! run_as_pg test -w "$DIR" -a -x "$DIR"; then
      die "user $PG_USER cannot write $DIR (a parent directory is probably not searchable by it;" \
          "use a DIR under /tmp)"
    fi
  fi

  log "initdb ($("$BINDIR/postgres" --version 2>/dev/null || echo "$BINDIR"), user $PG_USER, locale $LOCALE) in $DIR/data"
  if ! run_as_pg "$BINDIR/initdb" -D "$DIR/data" -A trust -U "$SUPERUSER" --encoding=UTF8 \
         --locale="$LOCALE" --no-sync >"$DIR/initdb.log" 2>&1; then
    cat "$DIR/initdb.log" >&2
    die "initdb failed (as user $PG_USER, bindir $BINDIR)"
  fi

  # Unix sockets are limited to ~107 bytes of path; beyond that, TCP only.
  local sockdirs="$DIR"
  if [ $(( ${#DIR} + 18 )) -gt 107 ]; then
    log "path $DIR is too long for a unix socket; TCP only"
    sockdirs=""
  fi
  cat >>"$DIR/data/postgresql.conf" <<EOF

# --- added by scripts/pg-cluster.sh: throwaway test server ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sockdirs'
max_connections = 200
logging_collector = off
EOF
  if [ "${PG_CLUSTER_DURABLE:-0}" = 1 ]; then
    printf 'shared_buffers = 1GB\n' >>"$DIR/data/postgresql.conf"
  else
    printf 'fsync = off\nfull_page_writes = off\nsynchronous_commit = off\n' >>"$DIR/data/postgresql.conf"
  fi

  local attempt port="" started=0
  for attempt in 1 2 3 4 5; do
    port="$(free_port)"
    rm -f "$DIR/server.log"
    if run_as_pg "$BINDIR/pg_ctl" start -D "$DIR/data" -l "$DIR/server.log" -o "-p $port" \
         -w -t "$WAIT_SECS" -s </dev/null >&2; then
      started=1; break
    fi
    if grep -q 'Address already in use' "$DIR/server.log" 2>/dev/null && ! postmaster_pid >/dev/null; then
      log "port $port was taken meanwhile; retrying with another port"
      continue
    fi
    die "pg_ctl start failed (bindir $BINDIR, user $PG_USER, port $port)"
  done
  [ "$started" = 1 ] || die "pg_ctl start failed: no free port after $attempt attempts"
  echo "port=$port" >>"$DIR/$MARKER"

  local i
  for i in $(seq 1 $(( WAIT_SECS * 4 ))); do
    is_ready "$port" && break
    [ "$i" = $(( WAIT_SECS * 4 )) ] && die "server on 127.0.0.1:$port not accepting connections after ${WAIT_SECS}s"
    sleep 0.25
  done

  "$(client psql)" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$SUPERUSER" -d postgres \
    -c "CREATE DATABASE $DBNAME" </dev/null >&2 3>&- 8>&- 9<&- \
    || die "CREATE DATABASE $DBNAME failed on 127.0.0.1:$port"

  local url="postgres://$SUPERUSER@127.0.0.1:$port/$DBNAME"
  echo "$url" >"$DIR/url.tmp" && chmod 0644 "$DIR/url.tmp" && mv -f "$DIR/url.tmp" "$DIR/url" \
    || die "cannot write $DIR/url"
  CLEANUP=0
  log "started in $DIR: $url"
  echo "$url" >&3
}

# ------------------------------------------------------------------------------------------- stop

cmd_stop() {
  resolve_dir "$1"
  cd /
  [ -e "$DIR" ] || return 0
  [ -d "$DIR" ] || die "$DIR is not a directory"
  lock_dir
  if [ ! -f "$DIR/$MARKER" ]; then
    if is_empty_dir "$DIR"; then rmdir -- "$DIR" 2>/dev/null || true; return 0; fi
    die "$DIR was not created by $PROG (no $MARKER); refusing to remove it"
  fi
  BINDIR="$(marker_get bindir)"
  PG_USER="$(marker_get user)"
  [ -n "$PG_USER" ] || PG_USER="$(stat -c %U "$DIR/data" 2>/dev/null || echo "$ME")"
  if [ -z "$BINDIR" ] || [ ! -x "$BINDIR/pg_ctl" ]; then
    find_bindir || die "pg_ctl not found (recorded bindir: ${BINDIR:-none})"
  fi
  if [ "$IS_ROOT" != 1 ] && [ "$PG_USER" != "$ME" ]; then
    die "the cluster in $DIR belongs to $PG_USER; run stop as root or as $PG_USER"
  fi
  choose_locale
  stop_server || die "could not stop the server in $DIR (user $PG_USER); $DIR left in place"
  exec 9<&-
  rm -rf -- "$DIR" || die "could not remove $DIR"
}

# -------------------------------------------------------------------------------------------- url

cmd_url() {
  resolve_dir "$1"
  [ -f "$DIR/$MARKER" ] && [ -f "$DIR/url" ] || die "no cluster in $DIR"
  BINDIR="$(marker_get bindir)"
  local port; port="$(marker_get port)"
  [ -n "$port" ] && is_ready "$port" || die "the cluster in $DIR is not running (port ${port:-?})"
  cat "$DIR/url" >&3
}

[ $# = 2 ] || usage
case "$1" in
  start) cmd_start "$2" ;;
  stop) cmd_stop "$2" ;;
  url) cmd_url "$2" ;;
  -h|--help|help) usage ;;
  *) usage ;;
esac
