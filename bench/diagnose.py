"""CPU time of diagnosing an answer to every quantity of one Adam step with an L2 penalty
(a two-input sigmoid neuron, a batch of two), as a ratio to importing sympy and jinja2:
with the derivation cached (as diagnose does) and with the cache cleared before each
answer (a derivation per answer). Both, and the baseline, are measured in this run as the
median of several fresh processes, in CPU time (user + system), which a loaded
machine changes far less than wall time.

    python bench/diagnose.py [--runs 5]
"""

import argparse
import sys

from timing import BASELINE, median_cpu_seconds

SCRIPT = """
from symgrad.assess import checks
from symgrad.maths.derive import derive
from symgrad.maths.model import Neuron, Sample
from symgrad.maths.quantities import quantities
neuron = Neuron(weights=["0.5", "-0.3"], bias="0.1", activation="sigmoid")
samples = [Sample(x=["1", "2"], y="0.5"), Sample(x=["-1", "0.5"], y="0")]
options = dict(samples=samples, optimizer="adam", l2="0.1")
for key in [q.key for q in quantities(derive(neuron, **options))]:
    if {clear}:
        checks._derivation.cache_clear()
    checks.diagnose(neuron, key, "0.123", **options)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--runs", type=int, default=5, help="processes per command (>= 5)")
    runs = max(5, parser.parse_args().runs)
    baseline = median_cpu_seconds(BASELINE, runs)
    cached = median_cpu_seconds([sys.executable, "-c", SCRIPT.format(clear=False)], runs)
    uncached = median_cpu_seconds([sys.executable, "-c", SCRIPT.format(clear=True)], runs)
    print(f"import sympy, jinja2                 : {baseline:.3f} s CPU (median of {runs})")
    print(f"diagnose every quantity, cached      : {cached:.3f} s = {cached / baseline:.1f}x")
    print(f"diagnose every quantity, re-derived  : {uncached:.3f} s = {uncached / baseline:.1f}x")


if __name__ == "__main__":
    main()
