"""CPU time of symgrad on deep chains and wide networks, against naive SymPy, in one run.

Depth: a chain of k sigmoid neurons (layers of width one, x = 2, y = 0.5), k = 1 … 5000,
timed as the whole CLI run (``symgrad example --spec chain.toml``, imports included) and
as derive + render in a process whose imports are excluded; the naive way composes the
loss and runs ``sympy.diff``, ``subs`` and ``evalf`` for every parameter (small k only,
with a time limit). It prints the time per layer at the start (k = 100 → 500) and at the
end (the two deepest chains, 2500 → 5000) and their ratio, about 1 when the work is linear
in depth. Width: W inputs and two sigmoid layers of width W (W-W-W), two samples. Every
process is fresh and runs this checkout's ``symgrad``. Times are CPU seconds of the
process (os.wait4), since the machine may be busy, and are also given as ratios to
F = ``python -c "import sympy, jinja2"`` measured in the same run.

    python bench/depth.py [--limit 60] [--runs 3] [--max 5000]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import BASELINE, cpu_seconds

DEPTHS = (1, 2, 4, 8, 12, 25, 50, 100, 250, 500, 1000, 2500, 5000)
START = (100, 500)   # the per-layer slope at the start is taken between these depths
NAIVE_DEPTHS = (1, 2, 4, 8)
WIDTHS = (2, 4, 8, 16, 32)
WIDTH_SAMPLES = 2
ROOT = Path(__file__).resolve().parent.parent
ENV = os.environ | {"PYTHONPATH": str(ROOT)}   # this checkout, not an installed copy

SETUP = """
import tomllib
from sympy import diff
from symgrad import worked_example
from symgrad.maths.derive import composed_loss
from symgrad.maths.model import Layer, Network, Sample
spec = tomllib.loads(open({path!r}, encoding="utf-8").read())
network = Network(layers=[Layer(t["weights"], t["biases"], t["activation"])
                          for t in spec["layers"]])
samples = [Sample(x=s["x"], y=s["y"]) for s in spec["samples"]]
"""
SYMGRAD = "worked_example(network, samples, learning_rate=spec['learning_rate']).to_markdown()"
NAIVE = """
loss, symbols = composed_loss(network, samples)
point = dict(zip(symbols, network.parameters))
[diff(loss, s).subs(point).evalf(15) for s in symbols]
"""


def toml(layers: list[tuple[list[list[str]], list[str]]],
         samples: list[tuple[list[str], list[str]]]) -> str:
    """A network spec: sigmoid layers (weights, biases) and samples (x, y)."""
    text = ['learning_rate = "0.1"']
    for weights, biases in layers:
        rows = ", ".join("[" + ", ".join(f'"{w}"' for w in row) + "]" for row in weights)
        text += ["[[layers]]", 'activation = "sigmoid"', f"weights = [{rows}]",
                 "biases = [" + ", ".join(f'"{b}"' for b in biases) + "]"]
    for x, y in samples:
        text += ["[[samples]]", "x = [" + ", ".join(f'"{v}"' for v in x) + "]",
                 "y = [" + ", ".join(f'"{v}"' for v in y) + "]"]
    return "\n".join(text) + "\n"


def chain(k: int) -> str:
    """k sigmoid neurons in a row: w = 0.5, b = 0.1, x = 2, y = 0.5."""
    return toml([([["0.5"]], ["0.1"])] * k, [(["2"], ["0.5"])])


def wide(width: int) -> str:
    """W inputs, two sigmoid layers of width W, two samples; weights in [-0.25, 0.25]."""
    def layer():
        return ([[f"{((3 * j + 5 * k) % 11 - 5) / 20:g}" for k in range(width)]
                 for j in range(width)], ["0.1"] * width)
    samples = [([f"{((k + s) % 4 + 1) / 10:g}" for k in range(width)],
                ["0.2" if (j + s) % 2 else "0.8" for j in range(width)])
               for s in range(WIDTH_SAMPLES)]
    return toml([layer(), layer()], samples)


def median_cpu(command: list[str], runs: int, limit: float) -> float | None:
    """Median CPU seconds of ``command`` over ``runs`` fresh processes (None: over the limit)."""
    times = []
    for _ in range(runs):
        seconds = cpu_seconds(command, env=ENV, limit=limit)
        if seconds is None:
            return None
        times.append(seconds)
    return statistics.median(times)


def cli_seconds(path: Path, runs: int, limit: float) -> float | None:
    """Median CPU time of the whole ``symgrad example --spec`` run (imports included)."""
    return median_cpu([sys.executable, "-m", "symgrad", "example", "--spec", str(path),
                       "--format", "md"], runs, limit)


def work_seconds(path: Path, work: str, runs: int, limit: float) -> float | None:
    """Median CPU time of ``work`` in fresh processes, imports and setup excluded."""
    program = (SETUP.format(path=str(path)) + "import time\nstart = time.process_time()\n"
               + work + "\nprint(time.process_time() - start)\n")
    times = []
    for _ in range(runs):
        try:
            result = subprocess.run([sys.executable, "-c", program], capture_output=True,
                                    text=True, timeout=limit, check=True, env=ENV)
        except subprocess.TimeoutExpired:
            return None
        times.append(float(result.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def slope(times: dict, low: int, high: int) -> float:
    """Seconds per layer between two depths."""
    return (times[high] - times[low]) / (high - low)


def fit(points: list[tuple[float, float]]) -> tuple[float, float, float]:
    """Least-squares line t = a + b n through the points, and its R²."""
    ns, ts = [n for n, _ in points], [t for _, t in points]
    mean_n, mean_t = sum(ns) / len(ns), sum(ts) / len(ts)
    slope = (sum((n - mean_n) * (t - mean_t) for n, t in points)
             / sum((n - mean_n) ** 2 for n in ns))
    intercept = mean_t - slope * mean_n
    residual = sum((t - intercept - slope * n) ** 2 for n, t in points)
    total = sum((t - mean_t) ** 2 for t in ts)
    return intercept, slope, 1 - residual / total


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--limit", type=float, default=60,
                        help="CPU seconds the naive way may take at one depth (default 60)")
    parser.add_argument("--runs", type=int, default=3,
                        help="processes per measurement up to k = 100, median taken "
                             "(default 3; deeper chains run once)")
    parser.add_argument("--max", type=int, default=max(DEPTHS),
                        help=f"deepest chain to time (default {max(DEPTHS)})")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="symgrad-bench-"))
    baseline = median_cpu(BASELINE, 5, options.limit)
    print(f"F = python -c \"import sympy, jinja2\": {baseline:.3f} s CPU\n")

    print(f"{'k':>5} {'CLI (s)':>9} {'CLI / F':>8} {'derive+render (s)':>18} "
          f"{'naive SymPy (s)':>16}")
    cli, work, naive = {}, {}, {}
    for k in (k for k in DEPTHS if k <= options.max):
        path = folder / f"chain{k}.toml"
        path.write_text(chain(k), encoding="utf-8")
        runs = options.runs if k <= 100 else 1
        cli[k] = cli_seconds(path, runs, options.limit * 10)
        work[k] = work_seconds(path, SYMGRAD, runs, options.limit * 10)
        naive_text = "-"
        if k in NAIVE_DEPTHS:
            naive[k] = work_seconds(path, NAIVE, 1, options.limit)
            naive_text = f"> {options.limit:.0f}" if naive[k] is None else f"{naive[k]:.3f}"
        print(f"{k:>5} {cli[k]:>9.3f} {cli[k] / baseline:>8.1f} {work[k]:>18.3f} "
              f"{naive_text:>16}", flush=True)

    if 8 in naive and 12 in work:
        at_least = "> " if naive[8] is None else ""
        slow = options.limit if naive[8] is None else naive[8]
        print(f"naive(k=8) / symgrad(k=12): {at_least}{slow / work[12]:.0f}x derive+render, "
              f"{at_least}{slow / cli[12]:.1f}x whole CLI run (target: derive+render >= 100x)")
    deepest = sorted(cli)[-2:]
    if all(k in cli for k in START) and deepest[0] >= START[1]:
        for name, times in (("CLI", cli), ("derive+render", work)):
            first, last = slope(times, *START), slope(times, *deepest)
            print(f"{name} per layer: {first * 1000:.2f} ms at k = {START[0]} -> {START[1]}, "
                  f"{last * 1000:.2f} ms at k = {deepest[0]} -> {deepest[1]}; "
                  f"end / start = {last / first:.2f} (linear: about 1)")
    print(f"CLI at k = {deepest[-1]}: {cli[deepest[-1]]:.1f} s CPU = "
          f"{cli[deepest[-1]] / baseline:.1f} F")

    print(f"\nwidth W-W-W, sigmoid, {WIDTH_SAMPLES} samples")
    print(f"{'W':>3} {'parameters':>10} {'CLI (s)':>9} {'CLI / F':>8} {'derive+render (s)':>18} "
          f"{'per parameter x sample (ms)':>28}")
    points = []
    for width in WIDTHS:
        path = folder / f"wide{width}.toml"
        path.write_text(wide(width), encoding="utf-8")
        parameters = 2 * (width * width + width)
        whole = cli_seconds(path, 1, options.limit * 10)
        inner = work_seconds(path, SYMGRAD, 1, options.limit * 10)
        points.append((parameters * WIDTH_SAMPLES, inner))
        print(f"{width:>3} {parameters:>10} {whole:>9.3f} {whole / baseline:>8.1f} {inner:>18.3f} "
              f"{inner * 1000 / (parameters * WIDTH_SAMPLES):>28.3f}", flush=True)
    intercept, per_unit, r2 = fit(points)
    print(f"derive+render linear fit: t = {intercept:.3f} s + {per_unit * 1000:.3f} ms * "
          f"(parameters x samples), R^2 = {r2:.4f}")


if __name__ == "__main__":
    main()
