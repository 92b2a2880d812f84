#!/usr/bin/env bash
# The socket benches of benches/compare, in one command: echo over loopback
# (7 to 10 minutes on a loaded 2-vCPU machine), then idle memory per
# connection (about 3 minutes), then
# the tables and the chart from the echo bench's JSON.
#
#   scripts/socket_bench.sh
#
# Writes benches/compare/target/echo.md, echo.json and idle.md, and
# rewrites benches/echo.svg; paste the two .md files into
# benches/RESULTS.md. The benches' environment variables pass through, for
# quick runs: ECHO_CONNS, ECHO_SIZES, ECHO_IN_FLIGHT, ECHO_SERVERS,
# ECHO_ROUNDS, ECHO_WINDOW_MS, ECHO_WARMUP_MS (see benches/compare/benches/echo.rs),
# IDLE_N, IDLE_RUNS, IDLE_SERVERS (see benches/compare/benches/idle.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
manifest=benches/compare/Cargo.toml
out=benches/compare/target
mkdir -p "$out"
cargo bench --manifest-path "$manifest" --bench echo | tee "$out/echo.md"
cargo bench --manifest-path "$manifest" --bench idle | tee "$out/idle.md"
python3 benches/compare/echo_report.py "$out/echo.json" --svg benches/echo.svg > /dev/null
echo "wrote $out/echo.md, $out/idle.md, benches/echo.svg" >&2
