#!/usr/bin/env bash
# Runs the mask module's unit tests under Miri, the interpreter that checks
# unsafe code for undefined behaviour. `mask` is the only module with unsafe
# (the AVX2/AVX-512 dispatch, compiled out under Miri, which runs the portable
# loops those wrappers inline); its tests use lengths sized for Miri.
#
#   scripts/miri.sh            the mask tests
#   scripts/miri.sh FILTER     other library tests whose names match FILTER
set -euo pipefail
cd "$(dirname "$0")/.."

toolchain=nightly
filter=${1:-mask}

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
start=$SECONDS
cargo +"$toolchain" miri test --lib "$filter"
echo "miri.sh: '$filter' passed under Miri in $((SECONDS - start))s (wall clock, build included)"
