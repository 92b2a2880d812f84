#!/usr/bin/env bash
# Every `unsafe` block, impl, trait, extern block and fn in src/ must say why
# it is sound, in a comment directly above it: `// SAFETY: ...` for a block or
# an impl (what makes the operation sound here), and `// SAFETY:` or a
# `/// # Safety` doc section for an `unsafe fn` (what the caller must
# uphold). Attribute lines and other comment lines may stand between the
# comment and the line with `unsafe`; a blank line or code may not.
#
#   scripts/safety-comments.sh [DIR...]    (default: src)
#
# Lists each `unsafe` without such a comment and exits 1 if there is one.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then set -- src; fi

python3 - "$@" <<'PY'
import pathlib
import re
import sys

# `unsafe` as a keyword that opens something needing a justification; not
# `unsafe_op_in_unsafe_fn` (a lint name) nor `#[unsafe(no_mangle)]`.
UNSAFE = re.compile(r"\bunsafe\s*(\{|fn\b|impl\b|trait\b|extern\b)")
# String literals and the comment at the end of a line are not code.
STRING = re.compile(r'"(?:\\.|[^"\\])*"')


def code_of(line):
    return STRING.sub('""', line).split("//", 1)[0]


def is_comment_or_attribute(line):
    s = line.strip()
    return s.startswith("//") or s.startswith("#[") or s.startswith("#![")


def justified(lines, i, kind):
    j = i - 1
    while j >= 0 and is_comment_or_attribute(lines[j]):
        s = lines[j].strip()
        if re.match(r"//+\s*SAFETY:", s):
            return True
        if kind == "fn" and re.match(r"///\s*#\s*Safety\b", s):
            return True
        j -= 1
    return False


missing = []
total = 0
for root in sys.argv[1:]:
    for path in sorted(pathlib.Path(root).rglob("*.rs")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if line.strip().startswith("//"):
                continue
            for m in UNSAFE.finditer(code_of(line)):
                total += 1
                kind = "block" if m.group(1) == "{" else m.group(1)
                if not justified(lines, i, kind):
                    missing.append(f"{path}:{i + 1}: unsafe {kind}: {line.strip()}")

if missing:
    print(f"safety-comments: {len(missing)} of {total} `unsafe` without a SAFETY comment above:")
    for m in missing:
        print("  " + m)
    sys.exit(1)
print(f"safety-comments: all {total} `unsafe` in {', '.join(sys.argv[1:])} have a SAFETY comment")
PY
