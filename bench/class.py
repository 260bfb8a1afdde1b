"""Wall time of a class: 500 per-student sheets of 10 problems, their keys, the class key
and class.json, in one process (``symgrad sheet --students``), as a ratio to importing
sympy and jinja2. Both are measured in this run; the class once (it takes a while), the
baseline as the median of several fresh processes. Target: at most 60.

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
    with tempfile.TemporaryDirectory() as folder:
        roster = Path(folder) / "roster.csv"
        roster.write_text("student\n" + "".join(f"s{i:04d}\n" for i in range(args.students)))
        seconds = median_seconds([sys.executable, "-m", "symgrad", "sheet", "--students",
                                  str(roster), "--count", "10", "--seed", "1", "--out",
                                  str(Path(folder) / "class")], 1)
    print(f"import sympy, jinja2                         : {baseline:.3f} s")
    print(f"symgrad sheet --students ({args.students}) --count 10 (md): {seconds:.1f} s")
    print(f"ratio                                        : {seconds / baseline:.0f}x "
          f"(target <= 60x)")


if __name__ == "__main__":
    main()
