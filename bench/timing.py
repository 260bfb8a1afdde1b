"""Shared timing for the benchmark scripts: fresh processes, median wall time."""

import statistics
import subprocess
import sys
import time

BASELINE = [sys.executable, "-c", "import sympy, jinja2"]


def median_seconds(command: list[str], runs: int) -> float:
    """Median wall time of ``command`` over ``runs`` fresh processes."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)
