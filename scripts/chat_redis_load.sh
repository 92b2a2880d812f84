#!/usr/bin/env bash
# Measures the chat example with examples/chat_load.rs: one server alone
# (sender and receiver on it), then two servers joined through one Redis
# (sender on the first, receiver on the second, every message through
# Redis). Prints the two chat_load lines and the CPU; the figures in the
# README's "More than one server" come from it.
#
#   bash scripts/chat_redis_load.sh [MESSAGES [ROUNDS]]   (50000 and 5 by default)
#
# Redis is Debian's redis-server (installed with apt-get when missing), on a
# free port under target/redis-load/, stopped at the end. Everything on this
# machine: the figures are ratios on one machine, not a cluster's.
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-50000}
rounds=${2:-5}

REDIS_SERVER=${REDIS_SERVER:-/usr/bin/redis-server}
if [ ! -x "$REDIS_SERVER" ]; then
    timeout 600 apt-get update -qq
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq redis-server >/dev/null
fi
timeout 900 cargo build --release --features tokio,axum --example chat --example chat_load

dir=target/redis-load
rm -rf "$dir"
mkdir -p "$dir"
free_port() {
    timeout 10 node -e "const s = require('net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })"
}
redis_port=$(free_port)
bin="${CARGO_TARGET_DIR:-target}/release/examples"
pids=()
trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done' EXIT
"$REDIS_SERVER" --port "$redis_port" --bind 127.0.0.1 --dir "$PWD/$dir" --save '' --appendonly no \
    --logfile "$PWD/$dir/redis.log" &
pids+=($!)
for _ in $(seq 50); do
    timeout 2 redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
done

# Starts a chat server with the given flags; prints its URL.
start() {
    local log=$dir/chat-$1.log
    shift
    "$bin/chat" 127.0.0.1:0 "$@" >"$log" 2>&1 &
    pids+=($!)
    for _ in $(seq 50); do
        url=$(sed -n 's#^chat: listening on \(http://[^/]*\)/$#\1#p' "$log")
        [ -n "$url" ] && return
        sleep 0.1
    done
    cat "$log"
    echo "chat_redis_load: a server did not start"
    exit 1
}

start alone
alone=$url
start one --redis "redis://127.0.0.1:$redis_port"
one=$url
start two --redis "redis://127.0.0.1:$redis_port"
two=$url

echo "chat_redis_load: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
# Rounds alternate between the two setups, so that both see the same
# machine; the medians over the rounds are printed at the end.
: >"$dir/alone.txt"
: >"$dir/redis.txt"
for round in $(seq "$rounds"); do
    echo "chat_redis_load: round $round: one server alone"
    timeout 120 "$bin/chat_load" "$alone" "$alone" "$messages" | tee -a "$dir/alone.txt" | grep -v '^figures:'
    echo "chat_redis_load: round $round: two servers through Redis"
    timeout 120 "$bin/chat_load" "$one" "$two" "$messages" | tee -a "$dir/redis.txt" | grep -v '^figures:'
done
# The median of column $2 of the figures lines in file $1.
median() {
    sed -n 's/^figures: //p' "$1" | awk -v c="$2" '{ print $c }' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
for setup in alone redis; do
    echo "chat_redis_load: median of $rounds, $setup: p50 $(median "$dir/$setup.txt" 1) ms, p99 $(median "$dir/$setup.txt" 2) ms, $(median "$dir/$setup.txt" 3) messages/s"
done
