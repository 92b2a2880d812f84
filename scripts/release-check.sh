#!/usr/bin/env bash
# The checks a release must pass before `cargo publish`, one definition of
# each: .ci/run calls the cheap ones by name on every submission; with no
# argument this runs them all, the slow ones included.
#
#   scripts/release-check.sh                 every check, in the order below
#   scripts/release-check.sh CHECK...        only these
#
# Cheap (in .ci/run):
#   safety     every `unsafe` in src/ has a SAFETY comment (scripts/safety-comments.sh)
#   docsrs     the docs built as docs.rs builds them: nightly, every feature,
#              --cfg docsrs (the feature badges), warnings are errors
#   msrv       the library on exactly the `rust-version` of Cargo.toml, with
#              the default features and with every feature
#   package    the .crate file: its contents and its tests (scripts/package-check.sh)
# Slow (minutes of building on a fresh machine; here only):
#   minimal    the crate at the lowest versions of its direct dependencies that
#              Cargo.toml allows (nightly's -Z direct-minimal-versions), built and
#              tested with every feature, in a scratch copy
#   deny       cargo-deny (installed under the target dir on first use) on
#              licences, bans and sources, as deny.toml says
#
# Toolchains come from rustup and cargo-deny from crates.io, so it runs with
# an empty cargo home too.
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")

all=(safety docsrs msrv package minimal deny)
checks=("$@")
if [ ${#checks[@]} -eq 0 ]; then checks=("${all[@]}"); fi

toolchain() {
    if ! rustup run "$1" rustc --version >/dev/null 2>&1; then
        echo "release-check: installing the $1 toolchain" >&2
        rustup toolchain install "$1" --profile minimal
    fi
}

check_safety() {
    bash scripts/safety-comments.sh
}

check_docsrs() {
    toolchain nightly
    RUSTDOCFLAGS="--cfg docsrs -D warnings" cargo +nightly doc --locked --no-deps --all-features
}

check_msrv() {
    local msrv
    msrv=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml)
    if [ -z "$msrv" ]; then
        echo "release-check: no rust-version in Cargo.toml" >&2
        return 1
    fi
    toolchain "$msrv"
    # The library only: the tests' and examples' dev-dependencies may need a
    # newer compiler. Its own target dir, so that it does not rebuild the
    # stable toolchain's artifacts.
    cargo +"$msrv" check --locked --lib --target-dir "$target/msrv"
    cargo +"$msrv" check --locked --lib --all-features --target-dir "$target/msrv"
    echo "release-check: the library builds on Rust $msrv, default features and all"
}

check_package() {
    bash scripts/package-check.sh
}

check_minimal() {
    toolchain nightly
    local scratch="$target/release-check/minimal"
    rm -rf "$scratch"
    mkdir -p "$scratch"
    # The files git tracks, as they are in the work tree.
    git ls-files -z | tar --null --ignore-failed-read -T - -cf - | tar -xf - -C "$scratch"
    (
        cd "$scratch"
        cargo +nightly update -Z direct-minimal-versions
        cargo +nightly test --locked --all-features --target-dir "$target/minimal-versions"
    )
    echo "release-check: the crate builds and passes its tests at its dependencies' lowest versions"
}

check_deny() {
    local tools="$target/release-check/tools"
    if ! "$tools/bin/cargo-deny" --version >/dev/null 2>&1; then
        cargo install cargo-deny --locked --root "$tools" --target-dir "$target/release-check/build"
    fi
    cargo fetch --locked
    # No advisories: they need the advisory database from the network (see
    # deny.toml).
    PATH="$tools/bin:$PATH" cargo deny --locked --offline check --hide-inclusion-graph --show-stats licenses bans sources
}

for check in "${checks[@]}"; do
    case "$check" in
        safety | docsrs | msrv | package | minimal | deny) ;;
        *)
            echo "release-check: unknown check '$check' (${all[*]})" >&2
            exit 2
            ;;
    esac
done
for check in "${checks[@]}"; do
    start=$SECONDS
    echo "=== release-check: $check"
    "check_$check"
    echo "=== release-check: $check passed in $((SECONDS - start))s"
done
