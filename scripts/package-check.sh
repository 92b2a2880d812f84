#!/usr/bin/env bash
# The crate as crates.io would get it: `cargo package` builds it from its
# .crate file; the file list must hold what the README links to and nothing
# from the folders that `exclude` in Cargo.toml keeps out; then the tests run
# from the extracted .crate, so a test, a doctest or an include_str! that
# needs a file left out of the package fails here and not for a user.
#
#   scripts/package-check.sh
#
# The unit and integration tests run with the default features; the doctests
# with every feature, since the README's examples (included as doctests from
# src/lib.rs) need them all. tests/browser is not shipped: it is the
# Node script that scripts/browser.sh runs, not a cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")

cargo package --locked

list=$(cargo package --list --locked)
status=0
unwanted=$(grep -E '^(target|fuzz|benches/compare|examples/firmware|tests/browser|scripts|\.ci|\.github)/' <<<"$list" || true)
if [ -n "$unwanted" ]; then
    echo "package-check: files that must not be published:" >&2
    sed 's/^/  /' <<<"$unwanted" >&2
    status=1
fi
# Relative links in the README (crates.io renders it) and the files every
# published crate carries.
links=$(grep -oE '\]\([^)#:]+\)' README.md | sed -E 's/^\]\(//; s/\)$//' | sort -u)
for f in LICENSE-MIT LICENSE-APACHE README.md CHANGELOG.md SECURITY.md $links; do
    if ! grep -qxF "$f" <<<"$list"; then
        echo "package-check: $f is not in the package" >&2
        status=1
    fi
done
[ "$status" -eq 0 ] || exit 1
echo "package-check: $(wc -l <<<"$list") files, none unwanted, every README link shipped"

version=$(cargo metadata --no-deps --format-version 1 --locked |
    python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "rfc6455"))')
crate="$target/package/rfc6455-$version.crate"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
tar -xzf "$crate" -C "$scratch"
# A .crate's entries carry one fixed old mtime, and cargo judges a path
# package fresh by mtimes, under the same unit hash as the checkout's build
# of it: untouched, the old sources would look older than the checkout's
# last test binaries, and those would run instead of the packaged sources.
find "$scratch" -type f -exec touch {} +
cd "$scratch/rfc6455-$version"
# The same target dir as the checkout's builds, so the dependencies built
# there are reused; the crate itself builds again from the extracted sources.
cargo test --locked --target-dir "$target" --lib --tests
cargo test --locked --target-dir "$target" --doc --all-features
echo "package-check: the tests passed from $crate"
