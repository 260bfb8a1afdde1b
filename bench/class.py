"""Time of a class: 500 per-student sheets of 10 problems, their keys, the class key and
class.json (``symgrad sheet --students``), with one job and with two, as ratios to
importing sympy and jinja2. Both are measured in this run; each class once (it takes a
while), the baseline as the median of several fresh processes just before and just after
it. Targets: at most 60 (issue 13, the default jobs), at most 40 with two jobs (issue 15),
in wall time.

Wall time is what a teacher waits, but it grows with whatever else runs on the machine;
CPU time (user + system of the process and its workers, from ``os.wait4``) does not, so
both are printed, each over the baseline's own.

    python bench/class.py [--students 500] [--runs 5]
"""

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from timing import BASELINE, wall_and_cpu_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--students", type=int, default=500, help="students in the roster")
    parser.add_argument("--runs", type=int, default=5, help="baseline processes (>= 5)")
    args = parser.parse_args()
    count = max(5, args.runs)
    baselines = _baselines(count)
    with tempfile.TemporaryDirectory() as folder:
        roster = Path(folder) / "roster.csv"
        roster.write_text("student\n" + "".join(f"s{i:04d}\n" for i in range(args.students)))
        for jobs in (1, 2):
            seconds, used = wall_and_cpu_seconds(
                [sys.executable, "-m", "symgrad", "sheet", "--students", str(roster), "--count",
                 "10", "--seed", "1", "--jobs", str(jobs), "--out",
                 str(Path(folder) / f"class{jobs}")])
            # The machine's speed drifts over a class's half minute: the baseline is timed
            # just before and just after it, and the median of both sets taken.
            after = _baselines(count)
            wall = statistics.median(w for w, _ in baselines + after)
            cpu = statistics.median(c for _, c in baselines + after)
            print(f"import sympy, jinja2 (before and after): {wall:.3f} s wall, "
                  f"{cpu:.3f} s CPU")
            print(f"symgrad sheet --students ({args.students}) --count 10 --jobs {jobs} (md): "
                  f"{seconds:.1f} s wall = {seconds / wall:.0f}x, "
                  f"{used:.1f} s CPU = {used / cpu:.0f}x", flush=True)
            baselines = after
    print("targets: <= 60x (issue 13), <= 40x with --jobs 2 (issue 15), in wall time")


def _baselines(count: int) -> list[tuple[float, float]]:
    return [wall_and_cpu_seconds(BASELINE) for _ in range(count)]


if __name__ == "__main__":
    main()
