"""Tests of symgrad/maths/quantities.py for an optimizer's first step and an L2 penalty: each
askable value against a plain reference written here from torch.optim's published update
rules (and torch.optim itself when torch is installed), each mistake named by diagnose,
and the values a learner's own wrong gradient carries into the state and the update."""

import math
import random

import pytest
from sympy import Rational

from symgrad.assess.checks import diagnose
from symgrad.maths.derive import derive
from symgrad.maths.model import Neuron, Optimizer, Sample, numeric
from symgrad.maths.quantities import (MISTAKES, depends_on, first_step, mistakes, quantities,
                                      recompute)

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")
# The mistakes of the optimizers and the penalty; each must be named somewhere below.
TRAINING_MISTAKES = {"l2_forgotten", "l2_lambda_only", "l2_half_kept", "l2_without_half",
                     "l2_bias_penalised", "l2_bias_not_penalised", "l2_as_decay",
                     "decay_as_l2", "weight_decay_forgotten", "no_bias_correction",
                     "divided_by_v", "velocity_unused"}


def _problem(rng: random.Random, name: str):
    """A random two-input neuron with a penalty (none for adamw, which decays itself)."""
    pick = lambda low, high: Rational(rng.randint(low, high), 10)  # noqa: E731
    neuron = Neuron(weights=[pick(-20, 20), pick(-20, 20)], bias=pick(-10, 10),
                    activation=rng.choice(["identity", "sigmoid", "tanh"]),
                    loss=rng.choice(["squared", "half_squared"]))
    samples = [Sample(x=[pick(-30, 30), pick(-30, 30)], y=pick(-10, 10))
               for _ in range(rng.randint(1, 2))]
    l2 = 0 if name == "adamw" else rng.choice([0, Rational(1, 10), Rational(1, 20)])
    return dict(model=neuron, samples=samples, learning_rate=rng.choice(["0.1", "0.05"]),
                optimizer=Optimizer(name), l2=l2, l2_biases=bool(l2) and rng.random() < 0.5)


def _reference(optimizer: Optimizer, rate: float, p: float, g: float) -> dict:
    """One parameter's first step (t = 1, state 0) by torch.optim's documented rules."""
    o = {k: float(v) for k, v in optimizer.settings}
    if optimizer.name == "sgd":
        return {"p": p - rate * g}
    if optimizer.name in ("momentum", "nesterov"):
        v = g  # torch: the buffer starts as the first gradient
        step = g + o["momentum"] * v if optimizer.name == "nesterov" else v
        return {"v": v, "p": p - rate * step}
    if optimizer.name == "rmsprop":
        v = (1 - o["beta2"]) * g * g
        return {"v": v, "p": p - rate * g / (math.sqrt(v) + o["eps"])}
    m, v = (1 - o["beta1"]) * g, (1 - o["beta2"]) * g * g
    m_hat, v_hat = m / (1 - o["beta1"]), v / (1 - o["beta2"])
    decayed = p * (1 - rate * o["weight_decay"]) if optimizer.name == "adamw" else p
    return {"m": m, "v": v, "m_hat": m_hat, "v_hat": v_hat,
            "p": decayed - rate * m_hat / (math.sqrt(v_hat) + o["eps"])}


def _close(value, want: float) -> bool:
    return math.isclose(float(numeric(value, 30)), want, rel_tol=1e-12, abs_tol=1e-15)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_quantities_match_a_reference_of_torch_rules(name):
    """J, dJ/dp, the state after step 1 and p_new equal the documented rules worked in
    floats from ∂L/∂p, over 15 random neurons; dL/dp stays the loss's gradient."""
    rng = random.Random(f"quantities:{name}")
    for _ in range(15):
        problem = _problem(rng, name)
        d = derive(problem.pop("model"), problem.pop("samples"), **problem)
        found = {q.key: q.value for q in quantities(d)}
        lam = float(d.l2)
        penalty = 0.0
        for s, p, name_ in zip(first_step(d), d.parameters, d.parameter_names):
            weight = name_.startswith("w")
            decayed = bool(lam) and (weight or d.l2_biases)
            penalty += lam / 2 * float(p) ** 2 if decayed else 0.0
            loss_gradient = float(numeric(found[f"dL/d{name_}"], 30))
            g = loss_gradient + (lam * float(p) if decayed else 0.0)
            if d.l2:
                assert _close(found[f"dJ/d{name_}"], g)
            want = _reference(d.optimizer, float(d.learning_rate), float(p), g)
            assert _close(found[f"{name_}_new"], want.pop("p"))
            for state, value in want.items():
                assert _close(found[f"{state}_{name_}"], value), (state, name_)
            assert {k for k in found if k.endswith("_" + name_) and not k.endswith("_new")} \
                == {f"{state}_{name_}" for state in want}
        if d.l2:
            assert _close(found["J"], float(numeric(found["loss"], 30)) + penalty)
        else:
            assert "J" not in found and not any(k.startswith("dJ/") for k in found)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_quantities_match_torch_optim(name):
    """torch.optim's first step (float64) gives the same state and new parameters, the
    penalty put into torch's loss by hand (biases only with l2_biases)."""
    torch = pytest.importorskip("torch")
    rng = random.Random(f"torch:{name}")
    for _ in range(5):
        problem = _problem(rng, name)
        neuron, samples = problem.pop("model"), problem.pop("samples")
        d = derive(neuron, samples, **problem)
        found = {q.key: q.value for q in quantities(d)}
        w = torch.tensor([float(v) for v in neuron.weights], dtype=torch.float64,
                         requires_grad=True)
        b = torch.tensor(float(neuron.bias), dtype=torch.float64, requires_grad=True)
        x = torch.tensor([[float(v) for v in s.x] for s in samples], dtype=torch.float64)
        y = torch.tensor([float(s.y) for s in samples], dtype=torch.float64)
        f = {"identity": lambda z: z, "sigmoid": torch.sigmoid,
             "tanh": torch.tanh}[neuron.activation]
        error = f(x @ w + b) - y
        loss = ((error ** 2).sum() if neuron.loss == "squared" else (error ** 2 / 2).sum())
        lam = float(d.l2)
        loss = loss + lam / 2 * ((w ** 2).sum() + (b ** 2 if d.l2_biases else 0))
        o = d.optimizer
        rate = float(d.learning_rate)
        settings = {k: float(v) for k, v in o.settings}
        optimizer = {
            "sgd": lambda: torch.optim.SGD([w, b], lr=rate),
            "momentum": lambda: torch.optim.SGD([w, b], lr=rate, momentum=settings["momentum"]),
            "nesterov": lambda: torch.optim.SGD([w, b], lr=rate, momentum=settings["momentum"],
                                                nesterov=True),
            "rmsprop": lambda: torch.optim.RMSprop([w, b], lr=rate, alpha=settings["beta2"],
                                                   eps=settings["eps"]),
            "adam": lambda: torch.optim.Adam([w, b], lr=rate, eps=settings["eps"],
                                             betas=(settings["beta1"], settings["beta2"])),
            "adamw": lambda: torch.optim.AdamW([w, b], lr=rate, eps=settings["eps"],
                                               betas=(settings["beta1"], settings["beta2"]),
                                               weight_decay=settings["weight_decay"]),
        }[name]()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        names = {"momentum_buffer": "v", "square_avg": "v", "exp_avg": "m", "exp_avg_sq": "v"}
        for tensor, keys in ((w, [f"w{i}" for i in range(1, 3)]), (b, ["b"])):
            new = tensor.detach().reshape(-1).tolist()
            state = {names[k]: v.reshape(-1).tolist() for k, v in optimizer.state[tensor].items()
                     if k in names}
            for i, key in enumerate(keys):
                assert math.isclose(float(numeric(found[f"{key}_new"], 30)), new[i],
                                    rel_tol=1e-9, abs_tol=1e-12)
                for short, values in state.items():
                    assert math.isclose(float(numeric(found[f"{short}_{key}"], 30)), values[i],
                                        rel_tol=1e-9, abs_tol=1e-15)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_diagnose_names_each_mistake(name):
    """Over random problems, every mistake of a first-step or penalty quantity is named by
    diagnose when its own value is given, and each is distinct from the right value."""
    rng = random.Random(f"diagnose:{name}")
    named = set()
    for _ in range(6):
        problem = _problem(rng, name)
        neuron, samples = problem.pop("model"), problem.pop("samples")
        d = derive(neuron, samples, **problem)
        for q in quantities(d):
            if q.kind not in ("objective", "objective_gradient", "state", "update"):
                continue
            for m in mistakes(d, q.key):
                assert not math.isclose(float(numeric(m.value, 30)),
                                        float(numeric(q.value, 30)), rel_tol=1e-6)
                verdict = diagnose(neuron, q.key, numeric(m.value, 30), samples=samples,
                                   tolerance="0.00001%", **problem)
                assert not verdict.correct and m.name in [n.name for n in verdict.mistakes]
                named.add(m.name)
    expected = {"sgd": {"l2_forgotten", "l2_lambda_only", "l2_half_kept", "l2_without_half",
                        "l2_bias_penalised", "l2_bias_not_penalised"},
                "momentum": {"l2_forgotten"},
                "nesterov": {"velocity_unused", "l2_as_decay"},
                "rmsprop": {"divided_by_v", "l2_as_decay"},
                "adam": {"no_bias_correction", "divided_by_v", "l2_as_decay"},
                "adamw": {"decay_as_l2", "weight_decay_forgotten", "no_bias_correction"}}
    assert expected[name] <= named, expected[name] - named


def test_every_training_mistake_has_words():
    """Each mistake of the optimizers and the penalty is described for the learner."""
    assert TRAINING_MISTAKES <= set(MISTAKES)


def test_momentum_velocity_unused_is_not_a_mistake_at_step_one():
    """At step 1 momentum's update equals plain SGD's, so 'velocity unused' is not named
    (it would be the right answer); Nesterov's differs and is named."""
    momentum = derive(optimizer="momentum")
    assert "velocity_unused" not in {m.name for m in mistakes(momentum, "w_new")}
    nesterov = derive(optimizer="nesterov")
    (unused,) = [m for m in mistakes(nesterov, "w_new") if m.name == "velocity_unused"]
    assert unused.value == momentum.gradients[0].update.value  # p - α·g: 0.5 + 0.16


def test_l2_as_decay_is_dropped_for_sgd():
    """With plain SGD an L2 penalty and decoupled decay give the same step: not a mistake."""
    d = derive(l2="0.1")
    assert "l2_as_decay" not in {m.name for m in mistakes(d, "w_new", distinct=False)}
    assert "l2_as_decay" in {m.name for m in mistakes(derive(l2="0.1", optimizer="rmsprop"),
                                                    "w_new", distinct=False)}


def test_a_wrong_gradient_is_carried_into_state_and_update():
    """recompute works Adam's moments and the update from a learner's own ∂J/∂w (or its
    ∂L/∂w) and m."""
    d = derive(optimizer="adam", l2="0.1")  # seed 001: w = 0.5, ∂L/∂w = -1.6
    assert depends_on(d, "m_hat_w") == ("dJ/dw", "dL/dw", "m_w")
    assert depends_on(d, "w_new") == ("dJ/dw", "dL/dw", "m_w", "v_w", "m_hat_w", "v_hat_w")
    # ∂J/∂w not asked: the state follows from the learner's ∂L/∂w plus λw
    assert recompute(d, "m_w", {"dL/dw": Rational(-2)}) == (Rational(-2) + Rational(1, 20)) / 10
    assert recompute(d, "dJ/dw", {"dL/dw": Rational(-2)}) == Rational(-2) + Rational(1, 20)
    assert recompute(d, "m_w", {"dJ/dw": Rational(-2)}) == Rational(-1, 5)
    assert recompute(d, "m_hat_w", {"m_w": Rational(1, 10)}) == 1
    assert recompute(d, "J", {"loss": Rational(1)}) == 1 + Rational(1, 80)  # + (λ/2)·w²
    new = recompute(d, "w_new", {"dJ/dw": Rational(2)})  # Adam's step: about α·sign(g)
    assert math.isclose(float(numeric(new, 30)), 0.5 - 0.1, rel_tol=1e-7)
