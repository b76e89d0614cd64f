#!/usr/bin/env bash
# Renders every page of the release server thousands of times at once
# (wrk, 32 connections), signed in and anonymous, as `bench/run`'s
# signed-in scenario does; fails on any answer that is not 200, on a panic
# in the server's log and on a panic counted in /metrics. Then many short
# runs, each ending with every connection closed in the middle of a
# render: a page whose parts run on after their request is gone (Leptos's
# `Suspend`) must not panic then either.
#
# Usage: tests/stress/pages.sh BINARY [SECONDS_PER_PAGE]
set -euo pipefail
binary="$1"
seconds="${2:-4}"
data="$(mktemp -d)"
log="$data/server.log"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
password="stress-test-admin-password"
LEPTOS_SITE_ADDR="127.0.0.1:$port" DATABASE_URL="sqlite://$data/items.db" RUST_LOG=warn \
    ITEMSERVE_ADMIN_PASSWORD="$password" ITEMSERVE_RATE_LIMIT=0 \
    "$binary" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.2
done
base="http://127.0.0.1:$port"
cookie="$(curl -fs -D - -o /dev/null -H 'content-type: application/json' \
    -d "{\"name\":\"admin\",\"password\":\"$password\"}" "$base/rpc/session/login" \
    | tr -d '\r' | sed -n 's/^set-cookie: \([^;]*\).*/\1/ip')"
[ -n "$cookie" ] || { echo "error: could not log in" >&2; exit 1; }
token="$(curl -fs -d "username=admin&password=$password" "$base/auth/token" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
for n in $(seq 1 25); do
    curl -fs -o /dev/null -H "authorization: Bearer $token" -H 'content-type: application/json' \
        -d "{\"name\":\"Stress row $n\",\"category\":\"Stress\",\"price\":$n}" "$base/items/"
done
# And some in the trash, for its page.
for n in $(seq 1 5); do
    id="$(curl -fs -H "authorization: Bearer $token" -H 'content-type: application/json' \
        -d "{\"name\":\"Binned row $n\"}" "$base/items/" \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
    curl -fs -o /dev/null -X DELETE -H "authorization: Bearer $token" "$base/items/$id"
done

failed=0
for path in "/" "/?sort=-price&q=row" "/?skip=10" "/predict" "/admin" "/admin?view=audit" "/deleted" "/history?item=1" "/login"; do
    for who in signed-in anonymous; do
        header=()
        [ "$who" = signed-in ] && header=(-H "Cookie: $cookie")
        out="$(wrk -t2 -c32 -d"${seconds}s" "${header[@]}" "$base$path")"
        requests="$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' <<<"$out")"
        bad="$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' <<<"$out")"
        errors="$(sed -n 's/^ *Socket errors: \(.*\)/\1/p' <<<"$out")"
        printf '%-22s %-10s %7s requests, %s not 200%s\n' "$path" "$who" "$requests" "${bad:-0}" \
            "${errors:+, socket errors: $errors}"
        if [ -n "$bad" ] || [ "$requests" -lt 100 ]; then failed=1; fi
    done
done
for round in $(seq 1 5); do
    for path in "/" "/?skip=10" "/admin" "/deleted" "/predict"; do
        wrk -t2 -c64 -d1s --timeout 1s -H "Cookie: $cookie" "$base$path" >/dev/null
    done
done
echo "cancelled renders: 5 rounds of 5 pages, 64 connections closed mid-render each"
panics="$(curl -fs -H "authorization: Bearer $token" "$base/metrics" | sed -n 's/^itemserve_request_panics_total \([0-9]*\).*/\1/p')"
if grep -q "panicked" "$log" || [ "${panics:-0}" != 0 ]; then
    echo "error: the server panicked while rendering (request_panics_total: ${panics:-?}):" >&2
    grep -B2 -A20 "panicked" "$log" | head -60 >&2
    failed=1
fi
[ "$failed" = 0 ] || { echo "error: the page stress test failed" >&2; exit 1; }
echo "no panic, every answer 200"
