#!/usr/bin/env bash
# OAuth access tokens against API tokens, and the token endpoint, with wrk (docs/performance.md, "OAuth").
# Usage: scripts/oauth-perf.sh [seconds]   (needs wrk, python3, curl; builds the release binary)
set -euo pipefail
secs=${1:-10}
cargo build --release --quiet
bin="$PWD/target/release/scimd"
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
cd "$dir"
token=$("$bin" --database p.db token create --name perf 2>/dev/null)
"$bin" --database p.db client create --name perf >client.txt 2>/dev/null
id=$(sed -n 's/^client_id: //p' client.txt)
secret=$(sed -n 's/^client_secret: //p' client.txt)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" --database p.db serve --bind "127.0.0.1:$port" >server.out 2>server.log &
pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 50); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done
for k in $(seq 0 9); do
  python3 - "$k" >bulk.json <<'PY'
import json, sys
k = int(sys.argv[1])
ops = [{"method": "POST", "path": "/Users", "bulkId": f"u{i}",
        "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"user{k * 1000 + i}@example.com"}}
       for i in range(1000)]
print(json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops}))
PY
  curl -fs -o /dev/null -H "Authorization: Bearer $token" -H 'Content-Type: application/scim+json' \
    --data-binary @bulk.json "$base/scim/v2/Bulk"
done
user=$(curl -fs -H "Authorization: Bearer $token" "$base/scim/v2/Users?count=1&startIndex=5000" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["Resources"][0]["id"])')
access=$(curl -fs -u "$id:$secret" -d grant_type=client_credentials "$base/oauth/token" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
report() { grep -E 'Requests/sec|50%|99%|Non-2xx' | sed 's/^/    /'; }
echo "GET /Users/{id} with an API token:"
wrk -t2 -c16 -d"${secs}s" --latency -H "Authorization: Bearer $token" "$base/scim/v2/Users/$user" | report
echo "GET /Users/{id} with an OAuth access token:"
wrk -t2 -c16 -d"${secs}s" --latency -H "Authorization: Bearer $access" "$base/scim/v2/Users/$user" | report
for what in good bad; do
  s=$secret; [ "$what" = bad ] && s=wrong
  cat >post.lua <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&client_id=$id&client_secret=$s"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA
  echo "POST /oauth/token, $what secret:"
  wrk -t2 -c8 -d"${secs}s" --latency -s post.lua "$base/oauth/token" | report
done
echo "token request refusals logged: $(grep -c 'token request refused' server.log || true)"
