"""Wall time of `symgrad example` (seed 001, md) as a ratio to importing sympy and jinja2.

Both are measured in this run, as the median of several fresh processes, so the
ratio does not depend on the machine.  Target: at most 1.5.

    python bench/example.py [--runs 7]
"""

import argparse
import sys

from timing import BASELINE, median_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="processes per command (>= 5)")
    runs = max(5, parser.parse_args().runs)
    baseline = median_seconds(BASELINE, runs)
    symgrad = median_seconds([sys.executable, "-m", "symgrad", "example", "--format", "md"],
                             runs)
    print(f"import sympy, jinja2 : {baseline:.3f} s (median of {runs})")
    print(f"symgrad example (md) : {symgrad:.3f} s (median of {runs})")
    print(f"ratio                : {symgrad / baseline:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
