#!/usr/bin/env bash
# Autobahn TestSuite conformance run for rfc6455, driven by kosoku 0.1.0
# (a runner of the Autobahn TestSuite's own case files, from PyPI).
#
#   scripts/autobahn.sh            # both roles, every case (sections 1-13)
#   AUTOBAHN_CASES='1.* 2.*' scripts/autobahn.sh   # quick run on a subset
#
# Roles:
#   server: our echo_server listens on AUTOBAHN_SERVER_ADDR; `kosoku -m fuzzingclient`
#           drives every case against it. Reports: $AUTOBAHN_OUT/server/index.json
#   client: `kosoku -m fuzzingserver` listens on AUTOBAHN_FUZZSERVER_ADDR; our
#           autobahn_client runs getCaseCount / runCase?case=N&agent=rfc6455 /
#           updateReports against it. Reports: $AUTOBAHN_OUT/client/index.json
# Then scripts/autobahn_summary.py judges both reports; the exit status is non-zero
# if any case is not OK (INFORMATIONAL is fine; kosoku's own fault, shown in a case's
# report, is listed apart), if a case is missing from a report, or if a peer or
# kosoku misbehaved. Sections 12 and 13 need permessage-deflate: echo_server
# accepts it and autobahn_client offers it.
#
#   AUTOBAHN_DEFLATE=shared AUTOBAHN_CASES='12.* 13.*' AUTOBAHN_ROLES=server \
#       AUTOBAHN_OUT=target/autobahn-shared scripts/autobahn.sh
# runs the echo server in permessage-deflate's shared mode (no context takeover
# either way, compression state pooled; echo_server --deflate shared).
#
# Environment overrides (defaults in brackets):
#   AUTOBAHN_CASES          space-separated case ids/globs to run [all, less the exclusions]
#   AUTOBAHN_EXCLUDE        space-separated case globs to exclude [none]
#   AUTOBAHN_PARALLELISM    cases kosoku's fuzzingclient runs at once (server role) [2]
#   AUTOBAHN_ROLES          roles to run ['server client']
#   AUTOBAHN_BUILD_CMD      build command, empty to skip
#                           ['cargo build --release --example echo_server --example autobahn_client']
#   AUTOBAHN_SERVER_CMD     server under test; the listen address is appended
#                           [target/release/examples/echo_server]
#   AUTOBAHN_DEFLATE        if set, `--deflate $AUTOBAHN_DEFLATE` follows the address
#                           (echo_server: shared, dedicated or off) [unset: its default]
#   AUTOBAHN_CLIENT_CMD     client under test; the fuzzing server's base URL is appended,
#                           then AUTOBAHN_CLIENT_JOBS if not empty
#                           [target/release/examples/autobahn_client]
#   AUTOBAHN_CLIENT_JOBS    cases the client under test runs at once [2]
#   AUTOBAHN_SERVER_ADDR    where the server under test listens [127.0.0.1:9001]
#   AUTOBAHN_FUZZSERVER_ADDR where kosoku's fuzzingserver listens [127.0.0.1:9002]
#   AUTOBAHN_OUT            report root [target/autobahn]
#   AUTOBAHN_VENV           virtual environment holding kosoku [target/autobahn-venv]
#   AUTOBAHN_PYTHON         interpreter that creates the venv [python3]
#   AUTOBAHN_ROLE_TIMEOUT   seconds allowed for one role's run [1500]
#   AUTOBAHN_STARTUP_TIMEOUT seconds to wait for a listening port [30]
#   AUTOBAHN_BUILD_TIMEOUT  seconds allowed for the build [1800]
#   AUTOBAHN_INSTALL_TIMEOUT seconds allowed for the pip install [600]
#   AUTOBAHN_REPORT_TIMEOUT seconds for the fuzzingserver to finish after the client exits [60]
set -euo pipefail
set -f # patterns such as 1.* must never be expanded as file names

cd "$(dirname "${BASH_SOURCE[0]}")/.."

KOSOKU_VERSION=0.1.0
CASES=${AUTOBAHN_CASES:-}
EXCLUDE=${AUTOBAHN_EXCLUDE-}
PARALLELISM=${AUTOBAHN_PARALLELISM:-2}
CLIENT_JOBS=${AUTOBAHN_CLIENT_JOBS-2}
ROLES=${AUTOBAHN_ROLES:-server client}
BUILD_CMD=${AUTOBAHN_BUILD_CMD-cargo build --release --example echo_server --example autobahn_client}
SERVER_CMD=${AUTOBAHN_SERVER_CMD:-${CARGO_TARGET_DIR:-target}/release/examples/echo_server}
CLIENT_CMD=${AUTOBAHN_CLIENT_CMD:-${CARGO_TARGET_DIR:-target}/release/examples/autobahn_client}
SERVER_ADDR=${AUTOBAHN_SERVER_ADDR:-127.0.0.1:9001}
DEFLATE_MODE=${AUTOBAHN_DEFLATE:-}
FUZZSERVER_ADDR=${AUTOBAHN_FUZZSERVER_ADDR:-127.0.0.1:9002}
OUT=${AUTOBAHN_OUT:-target/autobahn}
VENV=${AUTOBAHN_VENV:-target/autobahn-venv}
PYTHON=${AUTOBAHN_PYTHON:-python3}
ROLE_TIMEOUT=${AUTOBAHN_ROLE_TIMEOUT:-1500}
STARTUP_TIMEOUT=${AUTOBAHN_STARTUP_TIMEOUT:-30}
BUILD_TIMEOUT=${AUTOBAHN_BUILD_TIMEOUT:-1800}
INSTALL_TIMEOUT=${AUTOBAHN_INSTALL_TIMEOUT:-600}
REPORT_TIMEOUT=${AUTOBAHN_REPORT_TIMEOUT:-60} # after the client exits, for the fuzzingserver to write reports

log() { printf 'autobahn.sh: %s\n' "$*"; }

# --- background process bookkeeping -------------------------------------------------
# Each background process is started with setsid, so it leads its own process group
# and can be stopped together with anything it spawned.
BG_PIDS=()

# Drop a reaped pid from BG_PIDS, so that cleanup never signals a reused pid.
forget_pid() {
    local p keep=()
    for p in "${BG_PIDS[@]}"; do
        [[ $p == "$1" ]] || keep+=("$p")
    done
    BG_PIDS=("${keep[@]}")
}

stop_pid() { # pid [name]
    local pid=$1 name=${2:-process} i
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null || true
        forget_pid "$pid"
        return 0
    fi
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name (pid $pid) ignored SIGTERM for 5s; sending SIGKILL"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    forget_pid "$pid"
}

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local pid
    for pid in "${BG_PIDS[@]}"; do
        stop_pid "$pid"
    done
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# start_bg logfile cmd... ; sets BG_PID. A logfile of - keeps this script's output.
start_bg() {
    local logfile=$1
    shift
    if [[ $logfile == - ]]; then
        setsid -w "$@" </dev/null &
    else
        setsid -w "$@" >"$logfile" 2>&1 </dev/null &
    fi
    BG_PID=$!
    BG_PIDS+=("$BG_PID")
}

# run_wait logfile cmd...: run cmd in the background and wait for it, so that a
# signal to this script is handled at once (bash defers traps while a foreground
# command runs, and `timeout` moves its child out of the terminal's process group).
# Sets RUN_RC to cmd's exit status.
run_wait() {
    local pid
    start_bg "$@"
    pid=$BG_PID
    RUN_RC=0
    wait "$pid" || RUN_RC=$?
    forget_pid "$pid"
}

port_open() { # host port
    timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

# wait_port host port pid name: until host:port accepts, while pid is alive.
wait_port() {
    local host=$1 port=$2 pid=$3 name=$4 deadline=$((SECONDS + STARTUP_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "$name exited before listening on $host:$port"
            return 1
        fi
        port_open "$host" "$port" && return 0
        sleep 0.2
    done
    log "$name did not listen on $host:$port within ${STARTUP_TIMEOUT}s"
    return 1
}

# wait_exit pid seconds: 0 once pid has exited (its status in WAIT_RC), 1 on timeout.
wait_exit() {
    local pid=$1 deadline=$((SECONDS + $2))
    while kill -0 "$pid" 2>/dev/null; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
    WAIT_RC=0
    wait "$pid" 2>/dev/null || WAIT_RC=$?
    forget_pid "$pid"
    return 0
}

tail_log() { # file
    [[ -s $1 ]] || return 0
    log "last lines of $1:"
    tail -n 20 "$1" | sed "s/^/    /"
}

split_addr() { # host:port -> HOST PORT
    HOST=${1%:*}
    PORT=${1##*:}
}

# --- case selection, as kosoku flags -------------------------------------------------
SELECT_ARGS=()
SUMMARY_SELECT=()
read -ra _cases <<<"$CASES"
for p in "${_cases[@]}"; do SELECT_ARGS+=(-i "$p"); SUMMARY_SELECT+=(--include "$p"); done
read -ra _excl <<<"$EXCLUDE"
for p in "${_excl[@]}"; do SELECT_ARGS+=(-x "$p"); SUMMARY_SELECT+=(--exclude "$p"); done
read -ra SERVER_ARGV <<<"$SERVER_CMD"
SERVER_EXTRA=()
[[ -n $DEFLATE_MODE ]] && SERVER_EXTRA=(--deflate "$DEFLATE_MODE")
read -ra CLIENT_ARGV <<<"$CLIENT_CMD"

# --- 1. kosoku in its own virtual environment ----------------------------------------
KOSOKU=$VENV/bin/kosoku
venv_ok() {
    [[ -x $VENV/bin/python && -x $KOSOKU ]] &&
        "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('kosoku') != '$KOSOKU_VERSION')" 2>/dev/null
}
if venv_ok; then
    log "reusing kosoku $KOSOKU_VERSION in $VENV"
else
    log "installing kosoku==$KOSOKU_VERSION into $VENV"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    run_wait - timeout 120 "$PYTHON" -m venv "$VENV"
    if ((RUN_RC != 0)); then
        log "could not create a venv with $PYTHON (on Debian: apt-get install python3-venv)"
        exit 2
    fi
    run_wait - timeout "$INSTALL_TIMEOUT" "$VENV/bin/python" -m pip install \
        --disable-pip-version-check -q "kosoku==$KOSOKU_VERSION"
    venv_ok || { log "kosoku $KOSOKU_VERSION did not install into $VENV"; exit 2; }
fi

# --- 2. build --------------------------------------------------------------------------
if [[ -n $BUILD_CMD ]]; then
    log "building: $BUILD_CMD"
    read -ra _build <<<"$BUILD_CMD"
    run_wait - timeout "$BUILD_TIMEOUT" "${_build[@]}"
    if ((RUN_RC != 0)); then
        log "build failed (exit $RUN_RC)"
        exit 2
    fi
fi

mkdir -p "$OUT"
STATUS=0 # set to 1 on any problem outside the reports themselves
SUMMARY_ROLES=()

# --- 3. server role: kosoku fuzzingclient -> our echo server -------------------------
run_server_role() {
    local dir=$OUT/server rc=0 pid
    split_addr "$SERVER_ADDR"
    rm -rf "$dir" "$OUT/server-peer.log" "$OUT/server-kosoku.log"
    if port_open "$HOST" "$PORT"; then
        log "server role: something already listens on $SERVER_ADDR; not testing it"
        return 1
    fi
    log "server role: starting ${SERVER_ARGV[*]} $SERVER_ADDR ${SERVER_EXTRA[*]}"
    start_bg "$OUT/server-peer.log" "${SERVER_ARGV[@]}" "$SERVER_ADDR" "${SERVER_EXTRA[@]}"
    pid=$BG_PID
    wait_port "$HOST" "$PORT" "$pid" "server under test" || { tail_log "$OUT/server-peer.log"; return 1; }

    log "server role: kosoku fuzzingclient ${SELECT_ARGS[*]} (timeout ${ROLE_TIMEOUT}s)"
    local t0=$SECONDS
    run_wait "$OUT/server-kosoku.log" timeout "$ROLE_TIMEOUT" \
        "$KOSOKU" -m fuzzingclient "$SERVER_ADDR" -p "$PARALLELISM" "${SELECT_ARGS[@]}" -o "$dir"
    rc=$RUN_RC
    log "server role: kosoku exited $rc after $((SECONDS - t0))s"
    # kosoku exits 1 when a case failed; the summary judges the report. Anything else
    # (124 = timeout) means the run itself went wrong.
    if ((rc != 0 && rc != 1)); then
        log "server role: kosoku run did not complete (exit $rc)"
        tail_log "$OUT/server-kosoku.log"
        STATUS=1
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        log "server role: the server under test died during the run"
        tail_log "$OUT/server-peer.log"
        STATUS=1
    fi
    stop_pid "$pid" "server under test"
    return 0
}

# --- 4. client role: our client -> kosoku fuzzingserver ------------------------------
run_client_role() {
    local dir=$OUT/client rc=0 pid url
    split_addr "$FUZZSERVER_ADDR"
    url=ws://$FUZZSERVER_ADDR
    rm -rf "$dir" "$OUT/client-peer.log" "$OUT/client-kosoku.log"
    if port_open "$HOST" "$PORT"; then
        log "client role: something already listens on $FUZZSERVER_ADDR"
        return 1
    fi
    log "client role: kosoku fuzzingserver on $FUZZSERVER_ADDR ${SELECT_ARGS[*]}"
    start_bg "$OUT/client-kosoku.log" timeout "$((ROLE_TIMEOUT + REPORT_TIMEOUT))" \
        "$KOSOKU" -m fuzzingserver "$FUZZSERVER_ADDR" "${SELECT_ARGS[@]}" -o "$dir"
    pid=$BG_PID
    wait_port "$HOST" "$PORT" "$pid" "kosoku fuzzingserver" || { tail_log "$OUT/client-kosoku.log"; return 1; }

    log "client role: running ${CLIENT_ARGV[*]} $url ${CLIENT_JOBS} (timeout ${ROLE_TIMEOUT}s)"
    local t0=$SECONDS
    local jobs=()
    [[ -n $CLIENT_JOBS ]] && jobs=("$CLIENT_JOBS")
    run_wait "$OUT/client-peer.log" timeout "$ROLE_TIMEOUT" "${CLIENT_ARGV[@]}" "$url" "${jobs[@]}"
    rc=$RUN_RC
    log "client role: client exited $rc after $((SECONDS - t0))s"
    if ((rc != 0)); then
        log "client role: the client under test exited $rc"
        tail_log "$OUT/client-peer.log"
        STATUS=1
    fi

    # /updateReports makes the fuzzingserver write its reports and exit by itself.
    if wait_exit "$pid" "$REPORT_TIMEOUT"; then
        log "client role: kosoku fuzzingserver exited $WAIT_RC"
        if ((WAIT_RC != 0 && WAIT_RC != 1)); then
            tail_log "$OUT/client-kosoku.log"
            STATUS=1
        fi
    else
        log "client role: kosoku fuzzingserver still running ${REPORT_TIMEOUT}s after the client" \
            "exited (did the client open ws://$FUZZSERVER_ADDR/updateReports?agent=...?); stopping it"
        stop_pid "$pid" "kosoku fuzzingserver"
        STATUS=1
    fi
    return 0
}

for role in $ROLES; do
    case $role in
    server) run_server_role || STATUS=1 ;;
    client) run_client_role || STATUS=1 ;;
    *) log "unknown role '$role' (expected server and/or client)"; exit 2 ;;
    esac
    SUMMARY_ROLES+=("$role=$OUT/$role/index.json")
done

# --- 5. summary ---------------------------------------------------------------------
SUMMARY_RC=0
"$VENV/bin/python" scripts/autobahn_summary.py "${SUMMARY_SELECT[@]}" "${SUMMARY_ROLES[@]}" || SUMMARY_RC=$?
if ((STATUS != 0)); then
    log "FAILED: a peer or kosoku misbehaved (see the messages above and $OUT/*.log)"
    exit 1
fi
exit "$SUMMARY_RC"
