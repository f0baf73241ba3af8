#!/usr/bin/env bash
# A quick comparison of scimd on SQLite and on PostgreSQL (one and two replicas) with wrk, on a small directory
# (10,000 users): GET /Users/{id} and a userName filter with one client, POST /Users with eight. Preliminary
# figures for docs/performance.md; the 1M-user benchmark is benches/scimd_bench.rs.
# Usage: scripts/pg-perf.sh [seconds]   (needs wrk, python3, curl; builds the release binary; starts and stops
# a throwaway PostgreSQL cluster with scripts/pg-cluster.sh)
set -euo pipefail
secs=${1:-10}
root=$PWD
cargo build --release --quiet
bin="$root/target/release/scimd"
dir=$(mktemp -d)
pgdir=$(mktemp -d -u /tmp/scimd-perf-pg.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  "$root/scripts/pg-cluster.sh" stop "$pgdir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
pg=$("$root/scripts/pg-cluster.sh" start "$pgdir")
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start() { # database -> base URL
  local port; port=$(free_port)
  "$bin" --database "$1" serve --bind "127.0.0.1:$port" --base-url https://scim.example.test/scim/v2 \
    >>"$dir/server.out" 2>>"$dir/server.log" &
  pids+=($!)
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  echo "http://127.0.0.1:$port/scim/v2"
}
report() { grep -E 'Requests/sec|50%|99%|Non-2xx' | sed 's/^/    /'; }
cat >"$dir/post.lua" <<'LUA'
-- Unique userNames: a per-thread prefix (each wrk thread has its own Lua state) and a counter.
local n = 0
local run = ""
wrk.headers["Content-Type"] = "application/scim+json"
function init(args)
  run = tostring(os.time()) .. "-" .. tostring({}):gsub("table: ", "")
end
request = function()
  n = n + 1
  local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"p-' .. run .. '-' .. n .. '@example.com"}'
  return wrk.format("POST", nil, nil, body)
end
LUA
for backend in sqlite postgres; do
  if [ "$backend" = sqlite ]; then db="$dir/p.db"; else db="$pg"; fi
  token=$("$bin" --database "$db" token create --name perf 2>/dev/null)
  base=$(start "$db")
  for k in $(seq 0 9); do
    python3 - "$k" >"$dir/bulk.json" <<'PY'
import json, sys
k = int(sys.argv[1])
ops = [{"method": "POST", "path": "/Users", "bulkId": f"u{i}",
        "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"user{k * 1000 + i}@example.com"}}
       for i in range(1000)]
print(json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops}))
PY
    curl -fs -o /dev/null -H "Authorization: Bearer $token" -H 'Content-Type: application/scim+json' \
      --data-binary @"$dir/bulk.json" "$base/Bulk"
  done
  user=$(curl -fs -H "Authorization: Bearer $token" "$base/Users?count=1&startIndex=5000" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["Resources"][0]["id"])')
  auth="Authorization: Bearer $token"
  echo "== $backend, 10,000 users"
  echo "  GET /Users/{id}, one client:"
  wrk -t1 -c1 -d"${secs}s" --latency -H "$auth" "$base/Users/$user" | report
  echo "  GET /Users?filter=userName eq …, one client:"
  wrk -t1 -c1 -d"${secs}s" --latency -H "$auth" "$base/Users?filter=userName%20eq%20%22user4242%40example.com%22" | report
  echo "  POST /Users, 8 connections, one server:"
  wrk -t2 -c8 -d"${secs}s" --latency -s "$dir/post.lua" -H "$auth" "$base/Users" | report
  if [ "$backend" = postgres ]; then
    second=$(start "$db")
    echo "  POST /Users, 8 connections to each of two replicas at once:"
    wrk -t1 -c8 -d"${secs}s" --latency -s "$dir/post.lua" -H "$auth" "$base/Users" >"$dir/a.txt" &
    first=$!
    wrk -t1 -c8 -d"${secs}s" --latency -s "$dir/post.lua" -H "$auth" "$second/Users" >"$dir/b.txt"
    wait "$first" || true
    sed 's/^/  replica 1:/' "$dir/a.txt" | report
    sed 's/^/  replica 2:/' "$dir/b.txt" | report
  fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  pids=()
  sleep 0.5
done
