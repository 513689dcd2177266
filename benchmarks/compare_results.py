"""Compare two ``result.json`` files of the same study, apart from timings and where it ran.

A refactoring must not change a study's numbers: run an example before and after, then

    .venv/bin/python benchmarks/compare_results.py before/result.json after/result.json

prints every difference (its JSON path, both values) and exits 1 when there is one. Left out of the
comparison: ``duration_s`` fields (timings), ``provenance.started_at`` / ``finished_at`` and
``provenance.execution`` (processes, parts, workers). Floats are compared exactly unless
``--rel`` gives a relative tolerance.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

_IGNORED_KEYS = {"duration_s"}
_IGNORED_PROVENANCE = {"started_at", "finished_at", "execution"}


def _strip(document: Any) -> Any:
    if isinstance(document, dict):
        return {key: _strip(value) for key, value in document.items() if key not in _IGNORED_KEYS}
    if isinstance(document, list):
        return [_strip(value) for value in document]
    return document


def _comparable(path: Path) -> Any:
    document = json.loads(path.read_text(encoding="utf-8"))
    provenance = document.get("provenance", {})
    for key in _IGNORED_PROVENANCE:
        provenance.pop(key, None)
    return _strip(document)


def _same_number(left: float, right: float, rel: float) -> bool:
    return left == right or (rel > 0 and math.isclose(left, right, rel_tol=rel, abs_tol=0.0))


def differences(left: Any, right: Any, *, path: str = "$", rel: float = 0.0) -> list[str]:
    """Every place where two JSON documents differ, as ``path: left != right``."""
    if isinstance(left, dict) and isinstance(right, dict):
        found = [f"{path}.{key}: only in {'first' if key in left else 'second'}" for key in sorted(left.keys() ^ right.keys())]
        for key in sorted(left.keys() & right.keys()):
            found += differences(left[key], right[key], path=f"{path}.{key}", rel=rel)
        return found
    if isinstance(left, list) and isinstance(right, list):
        if len(left) != len(right):
            return [f"{path}: {len(left)} items != {len(right)} items"]
        return [
            d
            for number, (a, b) in enumerate(zip(left, right, strict=True))
            for d in differences(a, b, path=f"{path}[{number}]", rel=rel)
        ]
    numbers = (int, float)
    if isinstance(left, numbers) and isinstance(right, numbers) and not isinstance(left, bool) and not isinstance(right, bool):
        return [] if _same_number(float(left), float(right), rel) else [f"{path}: {left!r} != {right!r}"]
    return [] if left == right else [f"{path}: {left!r} != {right!r}"]


def main() -> int:
    """Compare the two files named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--rel", type=float, default=0.0, help="relative tolerance for numbers (default: exact)")
    args = parser.parse_args()
    found = differences(_comparable(args.first), _comparable(args.second), rel=args.rel)
    for line in found[:200]:
        print(line)
    if len(found) > 200:
        print(f"... and {len(found) - 200} more")
    print(f"{len(found)} differences between {args.first} and {args.second}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
