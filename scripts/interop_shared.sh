#!/usr/bin/env bash
# Python `websockets` and Node `ws` 8 clients against `echo_server --deflate
# shared`: each offers what Chromium offers, and checks the shared-mode answer
# (server_no_context_takeover; client_no_context_takeover), the echoes, and RSV1
# on the frames (scripts/interop_shared.py, scripts/interop_shared.js).
#
#   INTEROP_PYTHON=path/to/venv/python scripts/interop_shared.sh
#
# Needs a Python with `websockets` (INTEROP_PYTHON, default python3), node and
# npm (ws is installed into target/deflate-scale, as scripts/deflate_scale.sh does).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${INTEROP_PYTHON:-python3}
TARGET=${CARGO_TARGET_DIR:-target}
DIR=target/deflate-scale
PORT=${INTEROP_SHARED_PORT:-9013}
mkdir -p "$DIR"
[[ -d $DIR/node_modules/ws ]] || (cd "$DIR" && echo '{"private":true}' >package.json &&
    npm install --no-audit --no-fund ws@8 >/dev/null)
cargo build --example echo_server >/dev/null 2>&1
"$TARGET/debug/examples/echo_server" "127.0.0.1:$PORT" --deflate shared >"$DIR/interop-server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
done
status=0
"$PYTHON" scripts/interop_shared.py "ws://127.0.0.1:$PORT/" || status=1
NODE_PATH=$DIR/node_modules node scripts/interop_shared.js "ws://127.0.0.1:$PORT/" || status=1
exit "$status"
