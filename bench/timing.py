"""Shared timing for the benchmark scripts: CPU (and wall) time of fresh processes."""

import os
import statistics
import subprocess
import sys
import time

BASELINE = [sys.executable, "-c", "import sympy, jinja2"]


def cpu_seconds(command: list[str]) -> float:
    """CPU time (user + system) of one fresh process running ``command`` and of the
    processes it waited for: unlike wall time, it does not grow when other work shares
    the machine."""
    return wall_and_cpu_seconds(command)[1]


def wall_and_cpu_seconds(command: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (see :func:`cpu_seconds`) of one run of ``command``."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, command)
    return wall, usage.ru_utime + usage.ru_stime


def median_cpu_seconds(command: list[str], runs: int) -> float:
    """Median :func:`cpu_seconds` of ``command`` over ``runs`` fresh processes."""
    return statistics.median(cpu_seconds(command) for _ in range(runs))


def median_cpu_rounds(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    """Median :func:`cpu_seconds` of each command over ``runs`` rounds in which every
    command runs once in turn, so that the load of a shared machine hits all alike."""
    times = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            times[name].append(cpu_seconds(command))
    return {name: statistics.median(seconds) for name, seconds in times.items()}
