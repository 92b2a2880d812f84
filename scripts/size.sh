#!/usr/bin/env bash
# The code size of the connection without std on a Cortex-M4F: the firmware
# example (examples/firmware, a client over rfc6455 with
# --no-default-features: handshake, connection, timers) built for
# thumbv7em-none-eabihf with the firmware's release profile (opt-level "s",
# fat LTO, one codegen unit, panic = "abort") as a static library, with
# its feature `measure` (a panic handler, a heap, the entry points kept).
#
#   scripts/size.sh
#
# Prints the sections of the one LTO'd object, which holds every Rust
# function reachable from the example's entry points (rfc6455, bytes,
# httparse, sha1, base64, core, alloc, the heap), and the routines it takes
# from compiler_builtins (memcpy, memset, 64-bit division) and the board's
# critical section (for the heap), not counted.
# Needs llvm-size and llvm-ar: on PATH, or from `rustup component add
# llvm-tools`.
set -euo pipefail
cd "$(dirname "$0")/.."

target=thumbv7em-none-eabihf
rustup target add "$target" >/dev/null 2>&1 || true
tool() {
    if command -v "$1" >/dev/null; then echo "$1"; return; fi
    local found
    found=$(ls "$(rustc --print sysroot)"/lib/rustlib/*/bin/"$1" 2>/dev/null | head -n1)
    [ -n "$found" ] || { echo "no $1: rustup component add llvm-tools" >&2; exit 1; }
    echo "$found"
}
size=$(tool llvm-size)
ar=$(tool llvm-ar)
nm=$(tool llvm-nm)

cargo rustc --manifest-path examples/firmware/Cargo.toml --target-dir target/firmware \
    --lib --release --features measure --target "$target" --crate-type staticlib --quiet
archive=target/firmware/$target/release/librfc6455_firmware_example.a
work=target/firmware/size
rm -rf "$work" && mkdir -p "$work"
(cd "$work" && "$ar" x "../$target/release/librfc6455_firmware_example.a")
object=$(ls "$work"/rfc6455_firmware_example-*.o)

echo "$archive, the LTO'd object ($(basename "$object")):"
"$size" -A "$object" | awk '
    $1 ~ /^\.text/ { text += $2 }
    $1 ~ /^\.rodata/ { rodata += $2 }
    $1 ~ /^\.(data|bss)/ { ram += $2 }
    END { printf "  .text %d bytes, .rodata %d bytes, .data + .bss %d bytes\n", text, rodata, ram }'
echo "  undefined, from compiler_builtins and the board's critical-section (not counted):"
"$nm" --undefined-only "$object" | awk '{ printf "    %s\n", $2 }'
