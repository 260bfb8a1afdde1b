"""Shared timing for the benchmark scripts: fresh processes, median wall or CPU time."""

import resource
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


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def median_cpu_seconds(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    """Median CPU time (user + system) of each command over ``runs`` rounds in which every
    command runs once in turn, so that the load of a shared machine hits all alike."""
    times = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            start = _children_cpu()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            times[name].append(_children_cpu() - start)
    return {name: statistics.median(seconds) for name, seconds in times.items()}
