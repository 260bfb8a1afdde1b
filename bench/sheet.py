"""Wall time of a 100-problem sheet and key (md) as a ratio to importing sympy and jinja2.

Both are measured in this run, as the median of several fresh processes.
Target: at most 3.

    python bench/sheet.py [--runs 5]
"""

import argparse
import sys
import tempfile

from timing import BASELINE, median_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="processes per command (>= 5)")
    runs = max(5, parser.parse_args().runs)
    baseline = median_seconds(BASELINE, runs)
    with tempfile.TemporaryDirectory() as folder:
        sheet = median_seconds([sys.executable, "-m", "symgrad", "sheet", "--count", "100",
                                "--seed", "1", "--format", "md", "--out", folder], runs)
    print(f"import sympy, jinja2          : {baseline:.3f} s (median of {runs})")
    print(f"symgrad sheet --count 100 (md): {sheet:.3f} s (median of {runs})")
    print(f"ratio                         : {sheet / baseline:.2f}x (target <= 3x)")


if __name__ == "__main__":
    main()
