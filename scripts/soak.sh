#!/usr/bin/env bash
# The soak with faults: examples/echo_server_tokio with every timer on,
# against examples/soak (well-behaved echo clients and clients that drop,
# reset, stop reading, trickle their handshake, break the protocol or go
# silent) for SOAK_SECS seconds; then the checks that every echo came back
# byte for byte, every faulty client met the close code or drop it should,
# and the server's descriptors, RSS and live connections are back. Exits
# non-zero on any of those.
#
#   bash scripts/soak.sh            # 60 s, as CI runs it
#   SOAK_SECS=1800 SOAK_RATE=10 SOAK_PROFILE=release bash scripts/soak.sh   # for the record
#
# Environment (defaults in brackets):
#   SOAK_SECS      how long clients keep coming [60]
#   SOAK_RATE      clients started per second [20]
#   SOAK_SEED      the mix of kinds and sizes [1]
#   SOAK_PROFILE   release or dev [release: a debug server and 2 MiB of
#                  deflate a second starve a busy 2-core machine]
#   SOAK_OUT       where the server's log and the table go [target/soak]
# The server's timers are short so that one minute sees each of them fire
# many times: keepalive 1 s, idle 3 s, handshake 2 s, close 2 s, send 3 s.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${SOAK_SECS:-60}
RATE=${SOAK_RATE:-20}
SEED=${SOAK_SEED:-1}
PROFILE=${SOAK_PROFILE:-release}
OUT=${SOAK_OUT:-${CARGO_TARGET_DIR:-target}/soak}
TARGET=${CARGO_TARGET_DIR:-target}
mkdir -p "$OUT"

timers=(--keepalive 1 --idle-timeout 3 --handshake-timeout 2 --send-timeout 3 --close-timeout 2)
max_message=$((1 << 20))

timeout 900 cargo build --profile "$PROFILE" --features tokio \
    --example echo_server_tokio --example soak
dir=$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")
bin="$TARGET/$dir/examples"

log="$OUT/server.log"
# glibc keeps freed blocks of a large size in its heaps (its mmap threshold
# rises with each one freed), so RSS would measure the allocator's high-water
# mark, not what the server holds. A fixed threshold (set, it stops moving)
# gives large buffers back when freed: a leak shows, a peak of load does not.
export MALLOC_MMAP_THRESHOLD_=65536 MALLOC_TRIM_THRESHOLD_=131072
: >"$log" # no line of an earlier run may be taken for this server's
# Port 0: the server names its port on its first line.
"$bin/echo_server_tokio" 127.0.0.1:0 "${timers[@]}" \
    --max-message "$max_message" --deflate shared --stats 1 2>"$log" &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    grep -q '^echo server on' "$log" && break
    sleep 0.1
done
addr=$(sed -n 's|^echo server on ws://\([^/]*\)/.*|\1|p' "$log")
[ -n "$addr" ] || { echo "soak: the server did not start" >&2; cat "$log" >&2; exit 1; }
echo "soak: $(head -n 1 "$log")"

# Clients for SECS, then at most the longest client limit (30 s) and the
# server's drain: the generator stops by itself; the timeout is a backstop.
status=0
timeout $((SECS + 120)) "$bin/soak" --addr "$addr" --duration "$SECS" --rate "$RATE" \
    --seed "$SEED" --server-pid "$server" --server-log "$log" "${timers[@]}" \
    --max-message "$max_message" | tee "$OUT/table.md" || status=$?
kill "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
if grep -v '^stats: \|^echo server on' "$log" | grep -q .; then
    echo "soak: the server said more than its stats (panics?):" >&2
    grep -v '^stats: \|^echo server on' "$log" | head -n 20 >&2
    status=1
fi
exit "$status"
