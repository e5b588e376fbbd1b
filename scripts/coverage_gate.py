"""Checks PROC-1's per-module rule on coverage's JSON report: every line of the modules that
decide who may reach what (roles, memberships), how items are handed out, and what an import
writes must run in the tests. The overall 90% is `coverage report --fail-under=90`'s job.

Usage: coverage json -o FILE && python scripts/coverage_gate.py FILE
Prints each module's figure, and the lines no test ran; exits 1 if any module is below 100%.
A line that truly cannot run is marked `# pragma: no cover` with the reason beside it.
"""

import json
import sys
from fnmatch import fnmatch
from pathlib import Path

COMPLETE = (
    "curation/access.py",
    "curation/permissions.py",
    "annotation/access.py",
    "annotation/assignment.py",
    "curation/importing/*.py",
)


def ranges(lines: list[int]) -> str:
    """[3, 4, 5, 9] -> "3-5, 9", as coverage's own report writes them."""
    spans: list[list[int]] = []
    for line in sorted(lines):
        if spans and line == spans[-1][1] + 1:
            spans[-1][1] = line
        else:
            spans.append([line, line])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def shortfalls(files: dict) -> list[str]:
    """One line per module that is not fully covered or has no data at all."""
    problems = []
    for pattern in COMPLETE:
        names = sorted(name for name in files if fnmatch(name.replace("\\", "/"), pattern))
        if not names:
            problems.append(f"{pattern}: no coverage data (was it measured?)")
        for name in names:
            summary, missing = files[name]["summary"], files[name]["missing_lines"]
            print(f"  {summary['percent_covered']:6.2f}%  {name}")
            if missing:
                noun = "lines" if len(missing) > 1 else "line"
                problems.append(f"{name}: {noun} {ranges(missing)} never ran")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    report = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    print("Modules that need every line covered (PROC-1):")
    problems = shortfalls(report["files"])
    print(f"Total: {report['totals']['percent_covered']:.2f}%")
    for problem in problems:
        print(f"NOT COVERED: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
