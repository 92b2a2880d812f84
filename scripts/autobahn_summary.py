#!/usr/bin/env python3
"""Summarize Autobahn TestSuite reports written by kosoku (index.json).

Usage:
    autobahn_summary.py [--include GLOB]... [--exclude GLOB]... ROLE=PATH/index.json...

index.json, as kosoku 0.1.0 writes it, maps agent -> case id -> entry:

    {"rfc6455": {"1.1.1": {"behavior": "OK", "behaviorClose": "OK",
                           "duration": 3, "remoteCloseCode": 1000,
                           "reportfile": "rfc6455_case_1_1_1.json"}, ...}}

A case passes when both `behavior` and `behaviorClose` are OK. INFORMATIONAL
is accepted (alone or with OK). Everything else (NON-STRICT, FAILED, ERROR,
UNIMPLEMENTED, WRONG CODE, UNCLEAN, FAILED BY CLIENT, ...) is a failure, with
one exception: a fault of kosoku 0.1.0 itself. On some cases of sections 13.2,
13.5, 13.6 and 13.7 its permessage-deflate code raises "Strings must be
encoded before hashing" whatever the peer does (Node's `ws` gets the same).
A case is counted as such a runner fault only when its own report file shows
that exact message; it is listed by number and neither passes nor fails.
When kosoku is importable (run this with the venv's python), each report must
also hold every case that the --include/--exclude selection names; a missing
case is a failure too.

Prints, per role, a count per outcome for `behavior` and `behaviorClose`, a
count per section, every case that is not OK, and a line `autobahn-ROLE: N
passed, M failed`; then a closing line `autobahn: N passed, M failed` over all
roles. Exits 1 if any role has a failure or an unreadable report, else 0.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
from collections import Counter, defaultdict

ACCEPTED = {"OK", "INFORMATIONAL"}
# kosoku 0.1.0's own fault, raised by its permessage-deflate code.
RUNNER_FAULT = "Strings must be encoded before hashing"


def case_key(case_id: str) -> list[int]:
    try:
        return [int(p) for p in case_id.split(".")]
    except ValueError:
        return [1 << 30]


def verdict(behavior: str, close: str) -> bool:
    """True if the case is acceptable."""
    return behavior in ACCEPTED and close in ACCEPTED


def runner_fault(index_path: str, entry: dict) -> bool:
    """True if the case's own report shows kosoku's fault, and nothing else."""
    name = entry.get("reportfile")
    if not name:
        return False
    try:
        with open(os.path.join(os.path.dirname(index_path), name), encoding="utf-8") as f:
            report = json.load(f)
    except (OSError, ValueError):
        return False
    fields = (report.get("result"), report.get("resultClose"), report.get("wasNotCleanReason"))
    return any(isinstance(v, str) and RUNNER_FAULT in v for v in fields)


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
        faults = []
        sections: dict[str, Counter] = defaultdict(Counter)
        for case_id in sorted(cases, key=case_key):
            e = cases[case_id]
            b, c = e.get("behavior", "?"), e.get("behaviorClose", "?")
            section = case_id.split(".")[0]
            good = verdict(b, c)
            if good:
                passed += 1
                sections[section]["passed"] += 1
            elif runner_fault(path, e):
                faults.append(case_id)
                sections[section]["runner fault"] += 1
            else:
                failed += 1
                sections[section]["FAILED"] += 1
            if not (b == "OK" and c == "OK"):
                tag = "accepted" if good else ("runner fault" if case_id in faults else "FAIL")
                not_ok.append((case_id, b, c, e.get("remoteCloseCode"), tag))
        print("   per section:")
        for section in sorted(sections, key=lambda s: case_key(s)):
            counts = sections[section]
            print("     " + f"{section:>3}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        if not_ok:
            print("   cases not OK:")
            for case_id, b, c, code, tag in not_ok:
                print(
                    f"     {case_id:<8} behavior={b:<13} behaviorClose={c:<16}"
                    f" remoteCloseCode={code}  [{tag}]"
                )
        if faults:
            print(f"   runner faults ({RUNNER_FAULT!r}), {len(faults)}: {', '.join(faults)}")

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
