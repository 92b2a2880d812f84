#!/usr/bin/env bash
# Server memory per idle compressed connection: N connections (DEFLATE_SCALE_N,
# default 2000, at most 19,000 for the 20,000 fds of one process) from a client
# that offers what Chromium offers, each exchanging 5 chat-like JSON messages of
# 200 B to 2 KiB each way, then idle. Reported: the server's RSS after, less
# before, divided by N, for our echo_server (a thread per connection) in each
# --deflate mode, for echo_server_tokio (a task per connection) off, shared and
# dedicated (15 bits), and for Node's `ws` 8 with perMessageDeflate: true.
#
#   scripts/deflate_scale.sh        # needs node and npm; installs ws into target/
#
# Loopback only. The thread-per-connection echo_server's stacks count in each of
# its rows alike: compare its rows with its own `off` row.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N=${DEFLATE_SCALE_N:-2000}
((N <= 19000)) || { echo "DEFLATE_SCALE_N at most 19000" >&2; exit 2; }
TARGET=${CARGO_TARGET_DIR:-target}
DIR=target/deflate-scale
PORT=9011
mkdir -p "$DIR"
[[ -d $DIR/node_modules/ws ]] || (cd "$DIR" && echo '{"private":true}' >package.json &&
    npm install --no-audit --no-fund ws@8 >/dev/null)
cp scripts/deflate_scale.js "$DIR/"
cargo build --release --example echo_server >/dev/null 2>&1
cargo build --release --features tokio --example echo_server_tokio >/dev/null 2>&1
ulimit -n "$(ulimit -Hn)"

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

measure() { # name command...
    local name=$1 server client before after fifo
    shift
    "$@" >"$DIR/server.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
        sleep 0.1
    done
    sleep 0.5
    before=$(rss_kib "$server")
    fifo=$DIR/client.stdin
    rm -f "$fifo" && mkfifo "$fifo"
    node "$DIR/deflate_scale.js" client "ws://127.0.0.1:$PORT/" "$N" <"$fifo" >"$DIR/client.log" 2>&1 &
    client=$!
    exec 4>"$fifo"
    for _ in $(seq 1200); do
        grep -q '^idle' "$DIR/client.log" && break
        kill -0 "$client" 2>/dev/null || break
        sleep 0.1
    done
    if ! grep -q '^idle' "$DIR/client.log"; then
        echo "$name: the client did not finish" >&2
        cat "$DIR/client.log" >&2
    fi
    sleep 2
    after=$(rss_kib "$server")
    printf '| %s | %d | %d | %d | %.1f |\n' "$name" "$N" "$before" "$after" \
        "$(echo "($after - $before) / $N" | bc -l)"
    exec 4>&-
    wait "$client" 2>/dev/null || true
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
}

ECHO=$TARGET/release/examples/echo_server
echo "| server | connections | RSS before (KiB) | RSS idle (KiB) | KiB per connection |"
echo "|---|---|---|---|---|"
for mode in off shared dedicated:15 dedicated:12 dedicated:9; do
    measure "rfc6455 echo_server --deflate $mode" "$ECHO" "127.0.0.1:$PORT" --deflate "$mode" \
        --keepalive 0 --idle-timeout 0
done
# The same on tokio, a task per connection (no thread stacks): what an async
# server holds per compressed connection.
for mode in off shared dedicated; do
    measure "rfc6455 echo_server_tokio --deflate $mode" "$TARGET/release/examples/echo_server_tokio" \
        "127.0.0.1:$PORT" --deflate "$mode" --keepalive 0 --idle-timeout 0
done
measure "Node ws $(node -p "require('./$DIR/node_modules/ws/package.json').version") perMessageDeflate: true" \
    node "$DIR/deflate_scale.js" server "$PORT"
