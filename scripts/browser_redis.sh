#!/usr/bin/env bash
# Runs the chat example (examples/chat/) as two servers joined through one
# Redis, and drives them in headless Chromium with
# tests/browser/chat_redis.test.mjs: group, room and private messages both
# ways, one user list, names unique across both, history for a newcomer on
# the other server, a page moving to the other server when its own is
# killed, the presence TTL, and Redis stopped and started again. Ends with
# "browser-redis: N passed, M failed".
#
# Redis is Debian's redis-server (installed with apt-get when missing), run
# on a free port under target/redis-test/ and stopped at the end. The chat
# servers run with short timers (keepalive 1 s, idle timeout 3 s, presence
# TTL 3 s) so the test is quick.
#
# Installs what it needs when missing: redis-server and chromium (apt-get),
# playwright-core (npm ci in tests/browser; no browser download).
set -euo pipefail
cd "$(dirname "$0")/.."

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
REDIS_SERVER=${REDIS_SERVER:-/usr/bin/redis-server}
if [ ! -x "$CHROMIUM" ] || [ ! -x "$REDIS_SERVER" ]; then
    echo "browser-redis: installing chromium and redis-server"
    timeout 600 apt-get update -qq
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq chromium redis-server >/dev/null
fi

if [ ! -d tests/browser/node_modules/playwright-core ]; then
    echo "browser-redis: installing playwright-core"
    (cd tests/browser && timeout 300 npm ci --no-audit --no-fund --loglevel=error)
fi

# The features of scripts/browser.sh: its build of the chat serves here too.
timeout 900 cargo build --release --features tokio,axum --example chat

dir=target/redis-test
rm -rf "$dir"
mkdir -p "$dir"
free_port() {
    timeout 10 node -e "const s = require('net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })"
}
redis_port=$(free_port)
# No persistence: a restarted Redis starts empty, as after a crash, and the
# servers must write their users again. The test stops Redis and starts it
# again with the same file; the pid file says which process it is.
conf=$PWD/$dir/redis.conf
cat >"$conf" <<EOF
port $redis_port
bind 127.0.0.1
dir $PWD/$dir
pidfile $PWD/$dir/redis.pid
logfile $PWD/$dir/redis.log
save ""
appendonly no
daemonize no
EOF
bin="${CARGO_TARGET_DIR:-target}/release/examples/chat"
servers=()
cleanup() {
    for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ -f "$dir/redis.pid" ]; then kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; fi
    [ -z "${redis:-}" ] || kill "$redis" 2>/dev/null || true
}
trap cleanup EXIT
"$REDIS_SERVER" "$conf" &
redis=$!
disown "$redis"
for _ in $(seq 50); do
    timeout 2 redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
done
timeout 2 redis-cli -p "$redis_port" ping >/dev/null || { cat "$dir/redis.log"; echo "browser-redis: Redis did not start"; exit 1; }
echo "browser-redis: Redis on port $redis_port"

timers="--keepalive 1 --idle-timeout 3 --redis redis://127.0.0.1:$redis_port --presence-ttl 3"
urls=()
for n in 1 2; do
    log=$dir/chat-$n.log
    # shellcheck disable=SC2086
    "$bin" 127.0.0.1:0 $timers >"$log" 2>&1 &
    servers+=($!)
    # Disowned: the test kills them on purpose.
    disown $!
    url=
    for _ in $(seq 50); do
        url=$(sed -n 's#^chat: listening on \(http://[^/]*\)/$#\1#p' "$log")
        [ -n "$url" ] && break
        sleep 0.1
    done
    [ -n "$url" ] || { cat "$log"; echo "browser-redis: chat server $n did not start"; exit 1; }
    urls+=("$url")
done
echo "browser-redis: chat servers at ${urls[*]}"

status=0
CHROMIUM=$CHROMIUM CHAT_PIDS="${servers[*]}" CHAT_BIN=$bin CHAT_ARGS=$timers \
    REDIS_SERVER=$REDIS_SERVER REDIS_CONF=$conf REDIS_PIDFILE=$PWD/$dir/redis.pid REDIS_PORT=$redis_port \
    timeout 240 node tests/browser/chat_redis.test.mjs "${urls[0]}" "${urls[1]}" target/chat-redis.png || status=$?
if [ "$status" -ne 0 ]; then
    for n in 1 2; do
        echo "--- chat server $n log ---"
        cat "$dir/chat-$n.log"
    done
    echo "--- redis log ---"
    cat "$dir/redis.log"
fi
exit "$status"
