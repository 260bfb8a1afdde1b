"""Time to derive and render (md) a chain of k sigmoid neurons, against naive SymPy.

symgrad derives each local factor and carries exact numbers layer by layer; the naive
way composes the whole loss, then runs sympy.diff, subs and evalf for every
parameter.  Both are measured in this run; the naive one only for small k, each in
its own process with a time limit.

    python bench/depth.py [--limit 60]
"""

import argparse
import subprocess
import sys

DEPTHS = (1, 2, 4, 8, 12, 25, 50, 100)
NAIVE_DEPTHS = (1, 2, 4, 8)

SETUP = """
from symgrad import worked_example
from symgrad.model import Layer, Network, Sample
from symgrad.network import composed_network_loss
network = Network(layers=[Layer([["0.5"]], ["0.1"], "sigmoid") for _ in range({k})])
samples = [Sample(x=2, y="0.5")]
"""
SYMGRAD = "worked_example(network, samples).to_markdown()"
NAIVE = """
loss, symbols = composed_network_loss(network, samples)
point = dict(zip(symbols, network.parameters))
[diff(loss, s).subs(point).evalf(15) for s in symbols]
"""


def seconds(k: int, work: str, limit: float) -> float | None:
    """Wall time of ``work`` at depth k in a fresh process (imports excluded)."""
    program = ("import time\nfrom sympy import diff\n" + SETUP.format(k=k)
               + "start = time.perf_counter()\n" + work
               + "\nprint(time.perf_counter() - start)\n")
    try:
        result = subprocess.run([sys.executable, "-c", program], capture_output=True,
                                text=True, timeout=limit, check=True)
    except subprocess.TimeoutExpired:
        return None
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=60,
                        help="seconds the naive way may take at one depth (default 60)")
    limit = parser.parse_args().limit
    print(f"{'k':>4} {'symgrad (s)':>12} {'naive SymPy (s)':>16} {'naive / symgrad':>16}")
    measured = []
    for k in DEPTHS:
        ours = seconds(k, SYMGRAD, limit * 10)
        measured.append((k, ours))
        naive_text = ratio_text = "-"
        if k in NAIVE_DEPTHS:
            naive = seconds(k, NAIVE, limit)
            naive_text = f"> {limit:.0f}" if naive is None else f"{naive:.3f}"
            ratio_text = f"> {limit / ours:.0f}x" if naive is None else f"{naive / ours:.1f}x"
        print(f"{k:>4} {ours:>12.3f} {naive_text:>16} {ratio_text:>16}")
    # Linear fit t = a + b k by least squares, and how well it explains the times.
    ks = [k for k, _ in measured]
    ts = [t for _, t in measured]
    mean_k, mean_t = sum(ks) / len(ks), sum(ts) / len(ts)
    slope = (sum((k - mean_k) * (t - mean_t) for k, t in measured)
             / sum((k - mean_k) ** 2 for k in ks))
    intercept = mean_t - slope * mean_k
    residual = sum((t - intercept - slope * k) ** 2 for k, t in measured)
    total = sum((t - mean_t) ** 2 for t in ts)
    print(f"linear fit: t = {intercept:.3f} s + {slope * 1000:.2f} ms * k, "
          f"R^2 = {1 - residual / total:.4f}")
    print(f"t(100) / t(50) = {ts[-1] / ts[-2]:.2f} (linear: 2)")


if __name__ == "__main__":
    main()
