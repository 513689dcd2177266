"""Reading PSS/E RAW uploads (issue: studies on the planner's own model, performance section).

activsg10k and activsg70k are written as RAW v33 (by the tests' writer) and uploaded through
``load_upload`` (read, validate, convert to the grid), against the MATPOWER upload of the same case
measured in the same run. Targets: a 10,000-bus RAW <= 3 s, a 70,000-bus one <= 20 s.

Run: ``.venv/bin/python benchmarks/bench_raw.py [--quick]`` (--quick: activsg10k only).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from grid_models.catalog.matpower_text import parse_matpower_text
from grid_models.catalog.registry import catalog_file
from grid_models.catalog.uploads import load_upload
from tests.unit.catalog.raw_writer import write_raw

warnings.simplefilter("ignore")
TARGETS_S = {"activsg10k": 3.0, "activsg70k": 20.0}


def _upload_s(content: bytes, filename: str, repeat: int) -> list[float]:
    """Seconds of each of ``repeat`` uploads of the file (read, validate, convert)."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        load_upload(content, grid_id="bench", filename=filename, max_bytes=10**9)
        times.append(time.perf_counter() - began)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="activsg10k only")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'grid':<12} {'RAW upload s':>13} {'MATPOWER s':>11} {'ratio':>6}  target")
    for grid_id in ("activsg10k",) if args.quick else ("activsg10k", "activsg70k"):
        m_text = catalog_file(grid_id).read_text()
        raw = write_raw(parse_matpower_text(m_text)).encode()
        raw_all = _upload_s(raw, f"{grid_id}.raw", args.repeat)
        raw_s, mat_s = statistics.median(raw_all), statistics.median(_upload_s(m_text.encode(), f"{grid_id}.m", args.repeat))
        verdict = "meets" if raw_s <= TARGETS_S[grid_id] else "MISSES"
        spread = f"{min(raw_all):.2f}-{max(raw_all):.2f}"
        print(f"{grid_id:<12} {raw_s:>13.2f} {mat_s:>11.2f} {raw_s / mat_s:>5.2f}x  <= {TARGETS_S[grid_id]:.0f} s {verdict} "
              f"(median of {args.repeat}: {spread} s; {len(raw) / 1e6:.1f} MB)")  # fmt: skip


if __name__ == "__main__":
    main()
