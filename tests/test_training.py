"""Tests of the update step (symgrad/maths/training.py): every optimizer against a plain
reference written here from torch.optim's published rules, and against torch.optim itself
when torch is installed; the L2 penalty against sympy.diff and finite differences."""

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy import Rational, diff

from symgrad import Neuron, Sample, derive, worked_example
from symgrad.errors import SymgradError
from symgrad.maths.derive import composed_loss
from symgrad.maths.model import Layer, Network, Optimizer, numeric
from symgrad.views.render import exact_text

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")


def _reference(optimizer: Optimizer, rate, gradients_at, parameters, steps, decayed=None,
               l2=0.0):
    """The parameters before each step, by the update rules of the torch.optim docs, in
    floats; ``gradients_at(p)`` gives ∂L/∂p, an L2 penalty adds λp for the decayed ones."""
    o = {k: float(v) for k, v in optimizer.settings}
    p = [float(v) for v in parameters]
    m = [0.0] * len(p)
    v = [0.0] * len(p)
    rows = []
    for t in range(1, steps + 1):
        rows.append(list(p))
        g = gradients_at(p)
        if l2:
            g = [gi + l2 * pi if d else gi for gi, pi, d in zip(g, p, decayed)]
        for i in range(len(p)):
            if optimizer.name == "sgd":
                p[i] -= rate * g[i]
            elif optimizer.name in ("momentum", "nesterov"):
                v[i] = g[i] if t == 1 else o["momentum"] * v[i] + g[i]
                step = g[i] + o["momentum"] * v[i] if optimizer.name == "nesterov" else v[i]
                p[i] -= rate * step
            elif optimizer.name == "rmsprop":
                v[i] = o["beta2"] * v[i] + (1 - o["beta2"]) * g[i] ** 2
                p[i] -= rate * g[i] / (math.sqrt(v[i]) + o["eps"])
            else:
                if optimizer.name == "adamw":
                    p[i] -= rate * o["weight_decay"] * p[i]
                m[i] = o["beta1"] * m[i] + (1 - o["beta1"]) * g[i]
                v[i] = o["beta2"] * v[i] + (1 - o["beta2"]) * g[i] ** 2
                m_hat = m[i] / (1 - o["beta1"] ** t)
                v_hat = v[i] / (1 - o["beta2"] ** t)
                p[i] -= rate * m_hat / (math.sqrt(v_hat) + o["eps"])
    rows.append(list(p))
    return rows


def _neuron_gradients(x, y):
    """∂L/∂w and ∂L/∂b of an identity neuron with the squared loss, one sample, floats."""
    def at(p):
        w, b = p
        error = 2 * (w * x + b - y)
        return [error * x, error]
    return at


def _close(a, b, rel=1e-12):
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


_grid = st.fractions(min_value=-2, max_value=2, max_denominator=10)


@settings(max_examples=25, deadline=None)
@given(w=_grid, b=_grid, x=_grid, y=_grid, name=st.sampled_from(OPTIMIZERS),
       rate=st.sampled_from(("0.01", "0.1", "0.5")), l2=st.sampled_from(("0", "0.1")))
def test_optimizers_follow_the_published_rules(w, b, x, y, name, rate, l2):
    """Over small drawn problems, every optimizer's parameters, step by step for three
    steps, equal a float reference of torch.optim's rules to 1e-12 relative."""
    if name == "adamw":
        l2 = "0"
    neuron = Neuron(weights=str(w), bias=str(b))
    d = derive(neuron, Sample(x=str(x), y=str(y)), learning_rate=rate, steps=3,
               optimizer=name, l2=l2)
    reference = _reference(d.optimizer, float(Fraction(rate)), _neuron_gradients(
        float(x), float(y)), neuron.parameters, 3, decayed=(True, False), l2=float(Fraction(l2)))
    rows = [it.parameters for it in d.iterations] + [d.final_parameters]
    for step, (exact, floats) in enumerate(zip(rows, reference), 1):
        for value, expected in zip(exact, floats):
            assert _close(float(numeric(value, 30)), expected), (name, step, value, expected)


def test_the_first_step_is_worked_with_every_state_value():
    """Adam's first step shows m, v, m̂ and v̂ of each parameter and ends at the update."""
    d = derive(optimizer="adam")
    g = d.gradients[0]
    assert [line.name for line in g.state] == ["m", "v", "m_hat", "v_hat"]
    assert [line.formula.value for line in g.state] == [Rational(-4, 25), Rational(8, 3125),
                                                        Rational(-8, 5), Rational(64, 25)]
    assert g.update.value == d.updated[0] == Rational(1, 2) + Rational(1, 10) * Rational(8, 5) / (
        Rational(8, 5) + Rational(1, 10**8))
    assert d.reading.near_rate


def test_the_loop_table_carries_the_state():
    """Each iteration holds the optimizer's state after its step, by name."""
    d = derive(optimizer="momentum", steps=3, learning_rate="0.1")
    assert [name for name, _ in d.iterations[0].state] == ["v"]
    assert d.iterations[0].state[0][1] == (Rational(-8, 5), Rational(-4, 5))
    text = worked_example(optimizer="momentum", steps=3).to_markdown()
    assert "$v_{w}$" in text and "The last columns hold the optimizer's state" in text


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_each_step_carries_adams_bias_corrected_moments(name):
    """Every iteration of Adam holds m̂ = m/(1 - β₁ᵗ) and v̂ = v/(1 - β₂ᵗ) of its step, exactly
    (0 for a frozen parameter); the first step's equal its worked lines, and the table and
    the JSON steps show them."""
    network = Network(layers=[Layer([["0.5", "-0.3"], ["0.2", "0.4"]], ["0.1", "-0.2"]),
                              Layer([["0.7", "-0.6"]], ["0.05"])], loss="squared",
                      frozen=("b2_1",))
    d = derive(network, Sample(x=["1", "0.5"], y=["0.8"]), steps=3, optimizer=name)
    o = dict(d.optimizer.settings)
    for t, it in enumerate(d.iterations, 1):
        state, corrected = dict(it.state), dict(it.corrected)
        assert list(corrected) == ["m_hat", "v_hat"]
        for m, v, m_hat, v_hat in zip(state["m"], state["v"], corrected["m_hat"],
                                      corrected["v_hat"]):
            assert abs(numeric(m_hat - m / (1 - o["beta1"] ** t), 40)) < 1e-30
            assert abs(numeric(v_hat - v / (1 - o["beta2"] ** t), 40)) < 1e-30
        assert corrected["m_hat"][-1] == corrected["v_hat"][-1] == 0  # b2_1 is frozen
        assert corrected["m_hat"][0] != 0
    first = dict(d.iterations[0].corrected)
    for i, g in enumerate(d.gradients):
        lines = {line.name: line.formula.value for line in g.state}
        assert lines.get("m_hat", 0) == first["m_hat"][i] and lines.get("v_hat", 0) == first[
            "v_hat"][i]
    example = worked_example(network, Sample(x=["1", "0.5"], y=["0.8"]), steps=3,
                             optimizer=name)
    assert r"$\hat{m}_{w^{(1)}_{11}}$" in example.to_markdown()
    steps = example.to_data()["steps"]
    assert steps[2]["state"]["v_hat"]["w1_1_1"]["exact"] == exact_text(
        dict(d.iterations[2].corrected)["v_hat"][0])
    assert "m_hat" not in worked_example(optimizer="rmsprop", steps=2).to_data()["steps"][1][
        "state"]


def test_the_python_scripts_fail_on_a_changed_moment(tmp_path):
    """Changing Adam's m̂ of one step in the stdlib script of a neuron, or of the first step
    in a network's, makes the script fail: the per-step assertions are real."""
    import re
    import subprocess
    import sys

    network = Network(layers=[Layer([["0.15", "0.2"], ["0.25", "0.3"]], ["0.35", "0.35"]),
                              Layer([["0.4", "0.45"]], ["0.6"])], loss="half_squared")
    scripts = {
        "neuron": (worked_example(Neuron(weights=["0.5", "-1"], bias="0.1"),
                                  Sample(x=["2", "1"], y="1.5"), steps=3,
                                  optimizer="adam").to_python(),
                   r'"m_hat": \[([-0-9.e]+)'),
        "network": (worked_example(network, Sample(x=["0.05", "0.1"], y=["0.01"]),
                                   optimizer="adam").to_python(),
                    r'state\["m_hat"\]\[0\]\), ([-0-9.e]+)'),
    }
    for name, (script, number) in scripts.items():
        found = list(re.finditer(number, script))
        assert found, name
        for where in (found[0], found[-1]):
            changed = repr(float(where.group(1)) * (1 + 1e-6))
            tampered = script[:where.start(1)] + changed + script[where.end(1):]
            (tmp_path / f"{name}.py").write_text(tampered)
            run = subprocess.run([sys.executable, str(tmp_path / f"{name}.py")],
                                 capture_output=True, text=True, timeout=60)
            assert run.returncode == 1 and "AssertionError" in run.stderr, (name, run.stderr)
        (tmp_path / f"{name}.py").write_text(script)
        assert subprocess.run([sys.executable, str(tmp_path / f"{name}.py")],
                              capture_output=True, timeout=60).returncode == 0


def test_settings_a_rule_does_not_use_are_refused():
    """--beta1 with sgd, a β of 1, a negative λ and L2 with AdamW are refused in one line."""
    for bad in (dict(name="sgd", beta1="0.9"), dict(name="adam", beta2="1"),
                dict(name="rmsprop", eps="0"), dict(name="adamw", weight_decay="-1")):
        with pytest.raises(SymgradError):
            Optimizer(**bad)
    with pytest.raises(SymgradError):
        derive(optimizer="adamw", l2="0.1")
    with pytest.raises(SymgradError):
        derive(l2="-0.1")


def _torch():
    return pytest.importorskip("torch", reason="torch is not installed (pip install "
                                               "torch==2.13.0); the float reference above "
                                               "still checks every optimizer")


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizers_match_torch_optim(name):
    """A 2-2-1 sigmoid network over four steps: the parameters equal torch.optim's
    (float64), L2 given to torch as a penalty in its loss."""
    torch = _torch()
    network = Network(layers=[Layer([["0.5", "-0.3"], ["0.2", "0.4"]], ["0.1", "-0.2"]),
                              Layer([["0.7", "-0.6"]], ["0.05"])], loss="squared")
    samples = [Sample(x=["1", "0.5"], y=["0.8"]), Sample(x=["-0.5", "2"], y=["0.1"])]
    l2 = Rational(0) if name == "adamw" else Rational(1, 20)
    d = derive(network, samples, learning_rate="0.05", steps=4, optimizer=name, l2=l2)
    o = dict(d.optimizer.settings)
    weights = [torch.tensor([[0.5, -0.3], [0.2, 0.4]], dtype=torch.float64, requires_grad=True),
               torch.tensor([0.1, -0.2], dtype=torch.float64, requires_grad=True),
               torch.tensor([[0.7, -0.6]], dtype=torch.float64, requires_grad=True),
               torch.tensor([0.05], dtype=torch.float64, requires_grad=True)]
    options = {
        "sgd": lambda: torch.optim.SGD(weights, lr=0.05),
        "momentum": lambda: torch.optim.SGD(weights, lr=0.05, momentum=float(o["momentum"])),
        "nesterov": lambda: torch.optim.SGD(weights, lr=0.05, momentum=float(o["momentum"]),
                                            nesterov=True),
        "rmsprop": lambda: torch.optim.RMSprop(weights, lr=0.05, alpha=float(o["beta2"]),
                                               eps=float(o["eps"])),
        "adam": lambda: torch.optim.Adam(weights, lr=0.05),
        "adamw": lambda: torch.optim.AdamW(weights, lr=0.05),
    }
    optimizer = options[name]()
    x = torch.tensor([[1.0, 0.5], [-0.5, 2.0]], dtype=torch.float64)
    y = torch.tensor([[0.8], [0.1]], dtype=torch.float64)
    for step in range(4):
        flat = [v for w in weights for v in w.detach().flatten().tolist()]
        # symgrad's order: layer by layer, weights row by row, then the biases
        ours = [float(numeric(v, 30)) for v in d.iterations[step].parameters]
        assert all(_close(a, b, 1e-10) for a, b in zip(ours, flat)), (step, ours, flat)
        optimizer.zero_grad()
        hidden = torch.sigmoid(x @ weights[0].T + weights[1])
        output = torch.sigmoid(hidden @ weights[2].T + weights[3])
        loss = ((output - y) ** 2).sum()
        loss = loss + float(l2) / 2 * ((weights[0] ** 2).sum() + (weights[2] ** 2).sum())
        loss.backward()
        optimizer.step()
        if name in ("adam", "adamw"):  # m̂ and v̂ of the step, from torch's m, v and t
            corrected = dict(d.iterations[step].corrected)
            for moment, beta, hat in (("exp_avg", o["beta1"], "m_hat"),
                                      ("exp_avg_sq", o["beta2"], "v_hat")):
                theirs = [v / (1 - float(beta) ** (step + 1)) for w in weights
                          for v in optimizer.state[w][moment].flatten().tolist()]
                ours = [float(numeric(v, 30)) for v in corrected[hat]]
                assert all(_close(a, b, 1e-10) for a, b in zip(ours, theirs)), (step, hat)


def test_l2_gradients_are_the_derivatives_of_the_penalised_loss():
    """∂J/∂p equals sympy.diff of the composed loss plus (λ/2)Σw², biases only when asked,
    and the central difference of J agrees to O(h²)."""
    neuron = Neuron(weights=["0.5", "-1.5"], bias="0.25", activation="tanh", loss="huber")
    samples = [Sample(x=["1", "2"], y="0.5"), Sample(x=["-1", "0.5"], y="-0.25")]
    for biases in (False, True):
        d = derive(neuron, samples, l2="0.3", l2_biases=biases, finite_differences=True)
        loss, symbols = composed_loss(neuron, samples)
        penalised = symbols if biases else symbols[:-1]
        objective = loss + Rational(3, 20) * sum(s**2 for s in penalised)
        values = dict(zip(symbols, neuron.parameters))
        for g, symbol, check in zip(d.gradients, symbols, d.finite_differences):
            expected = diff(objective, symbol).subs(values)
            assert abs(numeric(g.value - expected, 40)) < 1e-30, (g.parameter, biases)
            assert abs(numeric(check.difference, 20)) < 1e-9
            assert (g.penalty is not None) == (symbol in penalised)
        assert abs(numeric(d.objective.value - objective.subs(values), 40)) < 1e-30


def test_l2_with_sgd_is_weight_decay():
    """Plain gradient descent with L2 shrinks each weight by αλw beyond the loss's step,
    exactly as decoupled decay would."""
    d = derive(l2="0.1", learning_rate="0.1")
    plain = derive(learning_rate="0.1")
    w = Rational(1, 2)
    assert d.updated[0] == plain.updated[0] - Rational(1, 10) * Rational(1, 10) * w
    assert d.updated[1] == plain.updated[1]  # the bias is not penalised


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_the_python_script_follows_the_optimizer(name, tmp_path):
    """The stdlib script of a neuron (three steps) and of a network (frozen biases, L2)
    recomputes the optimizer's steps with floats and asserts symgrad's exact values."""
    import subprocess
    import sys

    l2 = "0" if name == "adamw" else "0.05"
    network = Network(layers=[Layer([["0.15", "0.2"], ["0.25", "0.3"]], ["0.35", "0.35"]),
                              Layer([["0.4", "0.45"]], ["0.6"])], loss="half_squared",
                      frozen=("b",))
    scripts = {
        "neuron.py": worked_example(Neuron(weights=["0.5", "-1"], bias="0.1"),
                                    Sample(x=["2", "1"], y="1.5"), steps=3, optimizer=name,
                                    l2=l2, tolerance="0.0001").to_python(),
        "network.py": worked_example(network, Sample(x=["0.05", "0.1"], y=["0.01"]),
                                     learning_rate="0.5", optimizer=name, l2=l2).to_python(),
    }
    for file, text in scripts.items():
        assert "assert " in text
        (tmp_path / file).write_text(text)
        run = subprocess.run([sys.executable, str(tmp_path / file)], capture_output=True,
                             text=True, timeout=60)
        assert run.returncode == 0, run.stderr
