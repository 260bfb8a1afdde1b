"""Shared timing for the benchmark scripts: CPU (and wall) time of fresh processes."""

import os
import resource
import statistics
import subprocess
import sys
import time

BASELINE = [sys.executable, "-c", "import sympy, jinja2"]


def cpu_seconds(command: list[str], *, env=None, limit: float | None = None) -> float | None:
    """CPU time (user + system) of one fresh process running ``command`` and of the
    processes it waited for: unlike wall time, it does not grow when other work shares
    the machine. None when it ran into its CPU ``limit`` (seconds)."""
    found = wall_and_cpu_seconds(command, env=env, limit=limit)
    return None if found is None else found[1]


def wall_and_cpu_seconds(command: list[str], *, env=None,
                         limit: float | None = None) -> tuple[float, float] | None:
    """Wall time and CPU time (see :func:`cpu_seconds`) of one run of ``command``, or None
    when the CPU ``limit`` stopped it."""
    def cap():
        resource.setrlimit(resource.RLIMIT_CPU, (int(limit) + 1, int(limit) + 1))
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=env,
                             preexec_fn=None if limit is None else cap)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode < 0 and limit is not None:  # killed by a signal: the CPU limit
        return None
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
