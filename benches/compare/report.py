#!/usr/bin/env python3
"""Ratios from criterion's results: ours / limit and ours / each peer.

Reads `<criterion dir>/<group>/<function>/new/estimates.json` (the median
time per iteration) and `benchmark.json` (the bytes per iteration) of the
last run, for every group whose name starts with the given prefix.

    python3 benches/compare/report.py [CRITERION_DIR ...] [--prefix mask_]

With no directory it reads both the main crate's and the compare package's
`target/criterion`. `limit` is the best of the `limit_*` functions of a
group (the constant-byte XOR at each vector width). Times from different
runs are not comparable on a shared machine: compare within one run only.
"""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_DIRS = [
    os.path.join(ROOT, "target", "criterion"),
    os.path.join(ROOT, "benches", "compare", "target", "criterion"),
]
SIZE_ORDER = ["0B", "16B", "125B", "1KiB", "4KiB", "64KiB", "1MiB", "16MiB"]


def load(directory, prefix):
    groups = {}
    if not os.path.isdir(directory):
        return groups
    for group in sorted(os.listdir(directory)):
        if not group.startswith(prefix):
            continue
        gdir = os.path.join(directory, group)
        for function in os.listdir(gdir):
            est = os.path.join(gdir, function, "new", "estimates.json")
            meta = os.path.join(gdir, function, "new", "benchmark.json")
            if not os.path.exists(est):
                continue
            with open(est) as f:
                ns = json.load(f)["median"]["point_estimate"]
            with open(meta) as f:
                throughput = json.load(f).get("throughput") or {}
            # Bytes per iteration, or elements (frames) per iteration.
            amount = throughput.get("Bytes") or throughput.get("Elements") or 1
            groups.setdefault(group, {})[function] = amount / ns  # per ns
    return groups


def sort_key(group):
    parts = group.split("_")
    size = next((p for p in parts if p in SIZE_ORDER), "")
    rank = SIZE_ORDER.index(size) if size in SIZE_ORDER else 99
    return (parts[0], "unaligned" in parts, rank, group)


def report(groups):
    for group in sorted(groups, key=sort_key):
        rates = groups[group]
        if "ours" not in rates:
            continue
        limits = {k: v for k, v in rates.items() if k.startswith("limit")}
        cells = [f"ours {rates['ours']:.2f}/ns"]
        if limits:
            best = max(limits, key=limits.get)
            cells.append(f"ours/limit {rates['ours'] / limits[best]:.2f} ({best})")
        for name in sorted(rates):
            if name == "ours" or name.startswith("limit"):
                continue
            cells.append(f"ours/{name} {rates['ours'] / rates[name]:.2f}")
        print(f"{group:28} " + "  ".join(cells))


def main(argv):
    prefix = ""
    dirs = []
    args = iter(argv)
    for arg in args:
        if arg == "--prefix":
            prefix = next(args)
        else:
            dirs.append(arg)
    for directory in dirs or DEFAULT_DIRS:
        groups = load(directory, prefix)
        if groups:
            print(f"# {directory}")
            report(groups)


if __name__ == "__main__":
    main(sys.argv[1:])
