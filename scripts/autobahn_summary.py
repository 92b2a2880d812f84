#!/usr/bin/env python3
"""Summarize Autobahn TestSuite reports written by kosoku (index.json).

Usage:
    autobahn_summary.py [--include GLOB]... [--exclude GLOB]... ROLE=PATH/index.json...

index.json, as kosoku 0.1.0 writes it, maps agent -> case id -> entry:

    {"rfc6455": {"1.1.1": {"behavior": "OK", "behaviorClose": "OK",
                           "duration": 3, "remoteCloseCode": 1000,
                           "reportfile": "rfc6455_case_1_1_1.json"}, ...}}

A case passes when both `behavior` and `behaviorClose` are OK. INFORMATIONAL
is accepted (alone or with OK); UNIMPLEMENTED is accepted only for 12.x and
13.x (permessage-deflate). Everything else (NON-STRICT, FAILED, ERROR, WRONG
CODE, UNCLEAN, FAILED BY CLIENT, ...) is a failure. When kosoku is importable
(run this with the venv's python), each report must also hold every case that
the --include/--exclude selection names; a missing case is a failure too.

Prints, per role, a count per outcome for `behavior` and `behaviorClose`, every
case that is not OK, and a line `autobahn-ROLE: N passed, M failed`; then a
closing line `autobahn: N passed, M failed` over all roles. Exits 1 if any role
has a failure or an unreadable report, else 0.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from collections import Counter

ACCEPTED = {"OK", "INFORMATIONAL"}
UNIMPLEMENTED_OK_SECTIONS = {"12", "13"}


def case_key(case_id: str) -> list[int]:
    try:
        return [int(p) for p in case_id.split(".")]
    except ValueError:
        return [1 << 30]


def verdict(case_id: str, behavior: str, close: str) -> bool:
    """True if the case is acceptable."""
    if behavior == "OK" and close == "OK":
        return True
    section = case_id.split(".")[0]
    allowed = set(ACCEPTED)
    if section in UNIMPLEMENTED_OK_SECTIONS:
        allowed.add("UNIMPLEMENTED")
    if behavior == "UNIMPLEMENTED" and section in UNIMPLEMENTED_OK_SECTIONS:
        # kosoku renders such a case as a single "Unimplemented" cell; its close
        # verdict is not meaningful.
        return True
    return behavior in allowed and close in allowed


def expected_cases(include: list[str], exclude: list[str]) -> list[str] | None:
    """Case ids that kosoku runs for this selection, or None if unknown."""
    try:
        from kosoku.cases import CASES  # type: ignore[import-not-found]
    except Exception:  # kosoku not installed in this interpreter
        return None
    ids = list(CASES)
    if include:
        ids = [i for i in ids if any(fnmatch.fnmatchcase(i, p) for p in include)]
    return [i for i in ids if not any(fnmatch.fnmatchcase(i, p) for p in exclude)]


def summarize(role: str, path: str, expected: list[str] | None) -> tuple[int, int]:
    """Print the summary of one role; return (passed, failed)."""
    print(f"== autobahn {role}: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
        if not isinstance(index, dict):
            raise ValueError("top level is not an object of agents")
    except (OSError, ValueError) as e:
        print(f"   cannot read report: {e}")
        missing = len(expected) if expected else 1
        print(f"autobahn-{role}: 0 passed, {missing} failed")
        return 0, missing

    passed = failed = 0
    if not index:
        print("   report holds no agent")
    for agent in sorted(index):
        cases = index[agent]
        print(f"   agent {agent!r}: {len(cases)} cases")
        behavior = Counter(e.get("behavior", "?") for e in cases.values())
        close = Counter(e.get("behaviorClose", "?") for e in cases.values())
        print("   behavior:      " + ", ".join(f"{k} {v}" for k, v in sorted(behavior.items())))
        print("   behaviorClose: " + ", ".join(f"{k} {v}" for k, v in sorted(close.items())))

        not_ok = []
        for case_id in sorted(cases, key=case_key):
            e = cases[case_id]
            b, c = e.get("behavior", "?"), e.get("behaviorClose", "?")
            good = verdict(case_id, b, c)
            if good:
                passed += 1
            else:
                failed += 1
            if not (b == "OK" and c == "OK"):
                not_ok.append((case_id, b, c, e.get("remoteCloseCode"), good))
        if not_ok:
            print("   cases not OK:")
            for case_id, b, c, code, good in not_ok:
                tag = "accepted" if good else "FAIL"
                print(
                    f"     {case_id:<8} behavior={b:<13} behaviorClose={c:<16}"
                    f" remoteCloseCode={code}  [{tag}]"
                )

        if expected is not None:
            missing = [i for i in expected if i not in cases]
            extra = [i for i in cases if i not in set(expected)]
            if missing:
                failed += len(missing)
                shown = ", ".join(missing[:20]) + (" ..." if len(missing) > 20 else "")
                print(f"   MISSING {len(missing)} of {len(expected)} selected cases: {shown}")
            if extra:
                print(f"   note: {len(extra)} cases outside the selection: {', '.join(extra[:20])}")

    if not index:
        failed += len(expected) if expected else 1
    print(f"autobahn-{role}: {passed} passed, {failed} failed")
    return passed, failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--include", action="append", default=[], metavar="GLOB")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB")
    parser.add_argument("reports", nargs="+", metavar="ROLE=INDEX_JSON")
    args = parser.parse_args()

    expected = expected_cases(args.include, args.exclude)
    if expected is None:
        print("note: kosoku is not importable here; not checking for missing cases")

    total_passed = total_failed = 0
    for spec in args.reports:
        role, sep, path = spec.partition("=")
        if not sep:
            parser.error(f"expected ROLE=PATH, got {spec!r}")
        p, f = summarize(role, path, expected)
        total_passed += p
        total_failed += f
    print(f"autobahn: {total_passed} passed, {total_failed} failed")
    return 1 if total_failed else 0


if __name__ == "__main__":
    sys.exit(main())
