#!/bin/bash
# Chooses SHARED_PAYLOAD by measurement: the CPU time of one server thread
# that queues batches of 16 messages with `send(Message::binary(Bytes))` and
# writes its whole queue with `write_vectored` (main.rs), with the crate
# built twice from this checkout: every payload copied into the send queue
# (SHARED_PAYLOAD = usize::MAX) and every payload sent from its own buffer
# (SHARED_PAYLOAD = 1). Then again with glibc's memcpy kept off AVX-512
# (GLIBC_TUNABLES), to stand for a CPU without it.
#
#   bash scripts/shared_payload/run.sh [REPS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
reps=${1:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for variant in copy shared; do
    value=$([ $variant = shared ] && echo 1 || echo usize::MAX)
    mkdir -p "$work/$variant/lib" "$work/$variant/bin"
    git -C "$root" archive HEAD | tar -x -C "$work/$variant/lib"
    sed -i "s|^pub const SHARED_PAYLOAD: usize = .*;|pub const SHARED_PAYLOAD: usize = $value;|" \
        "$work/$variant/lib/src/connection.rs"
    grep -q "SHARED_PAYLOAD: usize = $value;" "$work/$variant/lib/src/connection.rs"
    cp "$here/main.rs" "$work/$variant/bin/"
    sed "s|LIB|$work/$variant/lib|" "$here/Cargo.toml.in" > "$work/$variant/bin/Cargo.toml"
    CARGO_TARGET_DIR="$work/target" cargo build --quiet --release \
        --manifest-path "$work/$variant/bin/Cargo.toml"
    cp "$work/target/release/shared-payload" "$work/$variant.exe"
done
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), family $(grep -m1 'cpu family' /proc/cpuinfo | awk '{print $NF}') model $(grep -m1 '^model' /proc/cpuinfo | awk '{print $NF}')"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg); median of $reps interleaved runs, 256 MiB each"
echo
echo "| memcpy | size | copied (ms) | shared (ms) | shared / copied |"
echo "|---|---:|---:|---:|---:|"
for tunables in "" "glibc.cpu.hwcaps=-AVX512F,-AVX512BW,-AVX512VL,-AVX512DQ,-AVX512CD"; do
    name=$([ -z "$tunables" ] && echo "glibc's own" || echo "without AVX-512")
    for size in 1024 2048 4096 8192 16384 32768 65536; do
        iters=$(( (256 << 20) / (16 * size) ))
        : > "$work/copy.t"; : > "$work/shared.t"
        for _ in $(seq "$reps"); do
            for variant in copy shared; do
                GLIBC_TUNABLES=$tunables perf stat -x, -e task-clock "$work/$variant.exe" "$size" "$iters" \
                    2>&1 >/dev/null | awk -F, '/task-clock/ {print $1}' >> "$work/$variant.t"
            done
        done
        mid=$(( (reps + 1) / 2 ))
        copied=$(sort -n "$work/copy.t" | sed -n "${mid}p")
        shared=$(sort -n "$work/shared.t" | sed -n "${mid}p")
        echo "| $name | $size | $copied | $shared | $(python3 -c "print(f'{$shared / $copied:.2f}')") |"
    done
done
