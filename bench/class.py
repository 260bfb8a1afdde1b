"""Wall time of a class: 500 per-student sheets of 10 problems, their keys, the class key
and class.json (``symgrad sheet --students``), with one job and with two, as ratios to
importing sympy and jinja2. Both are measured in this run; each class once (it takes a
while), the baseline as the median of several fresh processes. Targets: at most 60 (issue
13, the default jobs), at most 40 with two jobs (issue 15).

    python bench/class.py [--students 500] [--runs 5]
"""

import argparse
import sys
import tempfile
from pathlib import Path

from timing import BASELINE, median_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=500, help="students in the roster")
    parser.add_argument("--runs", type=int, default=5, help="baseline processes (>= 5)")
    args = parser.parse_args()
    baseline = median_seconds(BASELINE, max(5, args.runs))
    print(f"import sympy, jinja2: {baseline:.3f} s")
    with tempfile.TemporaryDirectory() as folder:
        roster = Path(folder) / "roster.csv"
        roster.write_text("student\n" + "".join(f"s{i:04d}\n" for i in range(args.students)))
        for jobs in (1, 2):
            seconds = median_seconds([sys.executable, "-m", "symgrad", "sheet", "--students",
                                      str(roster), "--count", "10", "--seed", "1", "--jobs",
                                      str(jobs), "--out", str(Path(folder) / f"class{jobs}")],
                                     1)
            print(f"symgrad sheet --students ({args.students}) --count 10 --jobs {jobs} (md): "
                  f"{seconds:.1f} s = {seconds / baseline:.0f}x")
    print("targets: <= 60x (issue 13), <= 40x with --jobs 2 (issue 15)")


if __name__ == "__main__":
    main()
