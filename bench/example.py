"""CPU time of `symgrad example` (seed 001) per format, and of `--help` and `--version`,
as ratios to F, the CPU time of `python -c "import sympy, jinja2"`.

Every command is run in turn, round after round, so a busy moment of a shared machine
falls on all of them alike; each ratio is the median of its command's rounds over F's
median, all measured in this run. CPU time (user + system of the child) counts the work a
command does, not the time it waits for a CPU another process holds.
Targets (issue 15): md <= 1.05; tex, html, json <= 1.15.

`python -m symgrad` finds symgrad in the current folder first, then on PYTHONPATH: run
this from a checkout to time that checkout, or from elsewhere with PYTHONPATH=CHECKOUT.

    python bench/example.py [--runs 7]
"""

import argparse
import sys

from timing import BASELINE, median_cpu_rounds

SYMGRAD = [sys.executable, "-m", "symgrad"]
COMMANDS = {
    "example (md)": ([*SYMGRAD, "example", "--format", "md"], 1.05),
    "example (tex)": ([*SYMGRAD, "example", "--format", "tex"], 1.15),
    "example (html)": ([*SYMGRAD, "example", "--format", "html"], 1.15),
    "example (json)": ([*SYMGRAD, "example", "--format", "json"], 1.15),
    "--help": ([*SYMGRAD, "--help"], None),
    "--version": ([*SYMGRAD, "--version"], None),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--runs", type=int, default=7, help="rounds of every command (>= 5)")
    runs = max(5, parser.parse_args().runs)
    medians = median_cpu_rounds({"F": BASELINE} | {name: command for name, (command, _)
                                                    in COMMANDS.items()}, runs)
    baseline = medians.pop("F")
    print(f"F = import sympy, jinja2 : {baseline:.3f} s CPU (median of {runs})")
    for name, seconds in medians.items():
        target = COMMANDS[name][1]
        verdict = "" if target is None else f" (target <= {target:.2f}x)"
        print(f"{name:<24} : {seconds:.3f} s CPU = {seconds / baseline:.2f}x F{verdict}")


if __name__ == "__main__":
    main()
