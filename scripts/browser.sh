#!/usr/bin/env bash
# Runs the chat example (examples/chat/) and drives it in headless Chromium
# with tests/browser/chat.test.mjs: three users (one through a relay that counts
# compressed frames: shared-mode permessage-deflate, RSV1 both ways), group, private and room
# messages, history, forged tokens, markup shown as text, a frozen client
# dropped by the keepalive, pages reconnecting after a server restart. Leaves
# a screenshot in target/chat.png and ends with "browser: N passed, M failed".
#
# The server runs with short timers (keepalive 1 s, idle timeout 3 s) so the
# test is quick; the example's defaults are those a real server should use.
#
# Installs what it needs when missing: Debian's chromium (apt-get) and
# playwright-core (npm ci in tests/browser; no browser download).
set -euo pipefail
cd "$(dirname "$0")/.."

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
    echo "browser: installing chromium"
    timeout 600 apt-get update -qq
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq chromium >/dev/null
fi

if [ ! -d tests/browser/node_modules/playwright-core ]; then
    echo "browser: installing playwright-core"
    (cd tests/browser && timeout 300 npm ci --no-audit --no-fund --loglevel=error)
fi

# One build for both examples: the same features, so one build of the crate.
timeout 900 cargo build --release --features tokio,axum --example chat --example axum_server

mkdir -p target
log=target/chat-server.log
rm -f target/chat-server-2.log
# Port 0: the server picks a free port and prints it on its first line.
bin="${CARGO_TARGET_DIR:-target}/release/examples/chat"
timers="--keepalive 1 --idle-timeout 3"
# shellcheck disable=SC2086
"$bin" 127.0.0.1:0 $timers >"$log" 2>&1 &
server=$!
# Disowned: the test kills it on purpose, which bash would otherwise report.
disown "$server"
axum_server=
trap 'kill "$server" 2>/dev/null || true; [ -z "$axum_server" ] || kill "$axum_server" 2>/dev/null || true' EXIT

url=
for _ in $(seq 50); do
    url=$(sed -n 's#^chat: listening on \(http://[^/]*\)/$#\1#p' "$log")
    [ -n "$url" ] && break
    kill -0 "$server" 2>/dev/null || { cat "$log"; echo "browser: the server did not start"; exit 1; }
    sleep 0.1
done
[ -n "$url" ] || { cat "$log"; echo "browser: the server printed no address"; exit 1; }
echo "browser: chat server at $url"

status=0
# The test kills this server and starts the same binary again on the same
# address (its log: target/chat-server-2.log), then stops that one itself.
CHROMIUM=$CHROMIUM CHAT_PID=$server CHAT_BIN=$bin CHAT_ARGS=$timers CHAT_LOG2=target/chat-server-2.log \
    timeout 180 node tests/browser/chat.test.mjs "$url" target/chat.png || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- server log ---"
    cat "$log"
    [ -f target/chat-server-2.log ] && { echo "--- restarted server log ---"; cat target/chat-server-2.log; }
fi

# The axum echo, on a free port (the example prints its address first).
axum_log=target/axum-server.log
"${CARGO_TARGET_DIR:-target}/release/examples/axum_server" 127.0.0.1:0 >"$axum_log" 2>&1 &
axum_server=$!
axum_url=
for _ in $(seq 50); do
    axum_url=$(sed -n 's#^axum echo server on \(http://[^/]*\)/ and .*$#\1#p' "$axum_log")
    [ -n "$axum_url" ] && break
    kill -0 "$axum_server" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$axum_url" ]; then
    cat "$axum_log"
    echo "browser: the axum server did not start"
    exit 1
fi
echo "browser: axum echo server at $axum_url"
axum_status=0
CHROMIUM=$CHROMIUM timeout 120 node tests/browser/axum_echo.test.mjs "$axum_url" || axum_status=$?
if [ "$axum_status" -ne 0 ]; then
    echo "--- axum server log ---"
    cat "$axum_log"
    status=$axum_status
fi
exit "$status"
