#!/usr/bin/env bash
# Runs the unit tests of every module that holds unsafe code under Miri, the
# interpreter that checks unsafe code for undefined behaviour: `mask` (the
# SIMD paths), `message` (`Utf8Bytes::as_str` trusts validated bytes) and
# `connection::read_space` (`PayloadSpace`'s `BufMut`).
# Their tests use inputs sized for Miri.
#
#   scripts/miri.sh              the mask, message and read_space tests
#   scripts/miri.sh FILTER...    library tests whose names match any FILTER
#
# On x86_64 the tests run twice: once for the baseline (SSE2), and once with
# AVX2 and AVX-512 enabled at compile time, which Miri emulates whatever the
# host CPU, so that every SIMD path runs under Miri and not only the one
# this machine would pick. About 2 minutes a pass once built.
set -euo pipefail
cd "$(dirname "$0")/.."

toolchain=nightly
filters=(mask:: message:: connection::read_space::)
if [ $# -gt 0 ]; then filters=("$@"); fi

if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
    echo "miri.sh: installing the $toolchain toolchain" >&2
    rustup toolchain install "$toolchain" --profile minimal
fi
installed=$(rustup component list --toolchain "$toolchain" --installed)
if ! grep -q '^miri' <<<"$installed" || ! grep -q '^rust-src' <<<"$installed"; then
    echo "miri.sh: adding miri and rust-src to $toolchain" >&2
    rustup component add --toolchain "$toolchain" miri rust-src
fi

# Isolation stays on, so the run is deterministic (proptest's seed and the
# clock come from Miri, not the host). proptest looks for its regression
# files through getcwd, which isolation refuses: make that an error the test
# sees (proptest then goes without the files) rather than an abort.
export MIRIFLAGS=${MIRIFLAGS:--Zmiri-strict-provenance -Zmiri-isolation-error=warn-nobacktrace}

cargo +"$toolchain" miri setup

# std (run-time CPU detection) without deflate: the deflate code has no
# unsafe, and interpreting zlib-rs inside the message tests would more than
# double the time Miri takes without checking one more unsafe block.
features=(--no-default-features --features std)

pass() {
    local name=$1
    shift
    local start=$SECONDS
    echo "=== miri: $name"
    "$@" cargo +"$toolchain" miri test --lib "${features[@]}" -- "${filters[@]}"
    echo "miri.sh: '${filters[*]}' passed under Miri ($name) in $((SECONDS - start))s"
}

pass baseline env
if [[ $(uname -m) == x86_64 ]]; then
    # Its own target dir, so that the two passes do not rebuild each other.
    pass "avx2 + avx-512" env \
        RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+avx2,+avx512f,+avx512bw" \
        CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/miri-simd"
fi
