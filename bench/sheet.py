"""CPU time of a 100-problem sheet, for every difficulty and sheet format, as a ratio to
importing sympy and jinja2.

Both are measured in this run as CPU time (user + system, from ``os.wait4`` of each fresh
process), which a loaded machine changes far less than wall time; the baseline is the
median of several processes, each sheet the median of ``--runs``. Target: at most 3
(issue 15), every cell.

    python bench/sheet.py [--runs 1] [--difficulty easy,medium,hard] [--format md,tex,...]
"""

import argparse
import sys
import tempfile

from timing import BASELINE, median_cpu_seconds

DIFFICULTIES = ("easy", "medium", "hard")
FORMATS = ("md", "tex", "json", "moodle", "moodle-numerical", "qti")


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--runs", type=int, default=1, help="processes per sheet")
    parser.add_argument("--difficulty", default=",".join(DIFFICULTIES),
                        help="difficulties, comma-separated (default: all)")
    parser.add_argument("--format", default=",".join(FORMATS),
                        help="sheet formats, comma-separated (default: all)")
    args = parser.parse_args()
    runs = max(1, args.runs)
    difficulties, formats = args.difficulty.split(","), args.format.split(",")
    baseline = median_cpu_seconds(BASELINE, 7)
    print(f"import sympy, jinja2: {baseline:.3f} s CPU (median of 7)")
    print("symgrad sheet --count 100 --seed 1, CPU time / baseline (target <= 3):")
    print(f"{'':8}" + "".join(f"{fmt:>18}" for fmt in formats))
    worst = 0.0
    with tempfile.TemporaryDirectory() as folder:
        for difficulty in difficulties:
            cells = []
            for fmt in formats:
                seconds = median_cpu_seconds(
                    [sys.executable, "-m", "symgrad", "sheet", "--count", "100", "--seed", "1",
                     "--difficulty", difficulty, "--format", fmt, "--out", folder], runs)
                worst = max(worst, seconds / baseline)
                cells.append(f"{seconds / baseline:.1f}x ({seconds:.1f} s)")
            print(f"{difficulty:8}" + "".join(f"{cell:>18}" for cell in cells), flush=True)
    print(f"worst: {worst:.1f}x (target <= 3x)")


if __name__ == "__main__":
    main()
