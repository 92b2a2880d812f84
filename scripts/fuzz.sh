#!/usr/bin/env bash
# Runs the fuzz targets in fuzz/ with cargo-fuzz (libFuzzer) on nightly.
#
#   scripts/fuzz.sh                   every target, 60 seconds each
#   scripts/fuzz.sh TARGET [SECONDS]  one target
#   scripts/fuzz.sh all SECONDS       every target, SECONDS each
#
# The committed seeds (fuzz/seeds/TARGET) are copied into the working corpus
# (fuzz/corpus/TARGET, not in git) before each run. A finding stops that
# target, leaves the input under fuzz/artifacts/TARGET/, and makes the script
# exit non-zero after the remaining targets have run. At the end it prints
# the executions per target, from libFuzzer's final stats.
#
# FUZZ_ARGS adds libFuzzer flags, e.g. FUZZ_ARGS="-max_len=65536".
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:-all}
seconds=${2:-60}
toolchain=nightly

if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing the $toolchain toolchain" >&2
    rustup toolchain install "$toolchain" --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

mapfile -t all_targets < <(cd fuzz && cargo +"$toolchain" fuzz list)
if [[ $target == all ]]; then
    targets=("${all_targets[@]}")
else
    if ! printf '%s\n' "${all_targets[@]}" | grep -qx -- "$target"; then
        echo "fuzz.sh: no target '$target'; targets: ${all_targets[*]}" >&2
        exit 2
    fi
    targets=("$target")
fi

# One build for every target, so that the time budget goes to fuzzing.
if [[ $target == all ]]; then
    cargo +"$toolchain" fuzz build
else
    cargo +"$toolchain" fuzz build "$target"
fi

# A value from libFuzzer's closing "stat::NAME: VALUE" lines.
final_stat() { sed -n "s/^stat::$2: *//p" "$logs/$1.log" | tail -1; }

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
touch "$logs/.start"
failed=()
summary=()
for t in "${targets[@]}"; do
    corpus=fuzz/corpus/$t
    seeds=fuzz/seeds/$t
    mkdir -p "$corpus" "fuzz/artifacts/$t"
    if [[ -d $seeds ]]; then
        cp "$seeds"/* "$corpus"/
    else
        seeds=
    fi
    echo "=== $t: ${seconds}s"
    before=$(find "fuzz/artifacts/$t" -type f -not -name '*.log' | wc -l)
    status=0
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    cargo +"$toolchain" fuzz run "$t" "$corpus" ${seeds:+"$seeds"} -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 \
        ${FUZZ_ARGS:-} \
        2>&1 | tee "$logs/$t.log" || status=$?
    execs=$(final_stat "$t" number_of_executed_units)
    rate=$(final_stat "$t" average_exec_per_sec)
    rss=$(final_stat "$t" peak_rss_mb)
    if ((status != 0)); then
        failed+=("$t")
        cp "$logs/$t.log" "fuzz/artifacts/$t/last-run.log"
        if (($(find "fuzz/artifacts/$t" -type f -not -name '*.log' | wc -l) > before)); then
            verdict="FOUND A FAILURE (input and log in fuzz/artifacts/$t/)"
        else
            verdict="DID NOT RUN, exit $status (log in fuzz/artifacts/$t/last-run.log)"
        fi
    else
        verdict=ok
    fi
    summary+=("$(printf '%-20s %12s execs %9s/s  peak %5s MB  %s' "$t" "${execs:-?}" "${rate:-?}" "${rss:-?}" "$verdict")")
done

echo
echo "=== executions per target (${seconds}s each)"
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
    echo "fuzz.sh: failures in: ${failed[*]}" >&2
    for t in "${failed[@]}"; do
        find "fuzz/artifacts/$t" -type f -newer "$logs/.start" -not -name '*.log' >&2
    done
    exit 1
fi
