"""Tests of the cross-check scripts (--format numpy and torch): they rebuild drawn models with
NumPy and PyTorch and agree with symgrad's exact numbers, and they fail when they should."""

import json
import random
import re
import sys
from pathlib import Path

import pytest

from conftest import require, run
from gallery import CROSS_CHECKED, GALLERY, OUTPUT
from symgrad import Neuron, Optimizer, Sample, worked_example
from symgrad.cli import main
from symgrad.errors import DomainError, SymgradError
from symgrad.maths.activations import ACTIVATIONS, LAYER_ACTIVATIONS, custom
from symgrad.maths.losses import CLASS_LOSSES, LOSSES
from symgrad.maths.model import OPTIMIZERS, Layer, Network
from symgrad.assess.checks import parse
from symgrad.views.crosscheck import ACTIVATION_CODE, LOSS_CODE, OPTIMIZER_CODE

# Runs each script given in one interpreter (PyTorch takes seconds to import), as its own
# __main__, and prints {path: [exit code, output]} as JSON.
DRIVER = """
import contextlib, io, json, runpy, sys, traceback
results = {}
for path in sys.argv[1:]:
    output, code = io.StringIO(), 0
    try:
        with contextlib.redirect_stdout(output):
            runpy.run_path(path, run_name="__main__")
    except SystemExit as exit:
        code = 1 if isinstance(exit.code, str) else exit.code
        output.write(exit.code if isinstance(exit.code, str) else "")
    except Exception:
        code = 1
        output.write(traceback.format_exc())
    results[path] = [code, output.getvalue()]
print(json.dumps(results))
"""


def run_scripts(paths) -> dict[str, tuple[int, str]]:
    """Each script's exit code and output, all run by one child Python."""
    result = run(sys.executable, "-c", DRIVER, *map(str, paths), timeout=1200)
    assert result.returncode == 0, result.stderr
    return {Path(path).name: tuple(found) for path, found in json.loads(result.stdout).items()}


@pytest.fixture(scope="module")
def numpy_installed():
    """NumPy, which the numpy scripts import (in symgrad[test])."""
    import importlib.util
    require(importlib.util.find_spec("numpy") is not None, "numpy is not installed")


def test_every_activation_loss_and_optimizer_has_numpy_and_torch_code():
    """Each registry activation (softmax too), loss (cross-entropy too) and optimizer has an
    entry of code, and each entry a registry name: a new one fails here until it is written
    for NumPy and PyTorch."""
    activations = ACTIVATIONS | LAYER_ACTIVATIONS
    assert set(ACTIVATION_CODE) == set(activations), (
        f"no numpy/torch code for {sorted(set(activations) - set(ACTIVATION_CODE))}; add an "
        "entry to ACTIVATION_CODE in symgrad/views/crosscheck.py")
    assert set(LOSS_CODE) == set(LOSSES | CLASS_LOSSES)
    assert set(OPTIMIZER_CODE) == set(OPTIMIZERS)
    assert [code.layer for code in ACTIVATION_CODE.values()].count(True) == len(LAYER_ACTIVATIONS)


def _number(rng, low, high, places=2) -> str:
    return f"{rng.uniform(low, high):.{places}f}"


def _neuron_problem(rng, activation, loss):
    n, m = rng.randint(1, 3), rng.randint(1, 3)
    neuron = Neuron(weights=[_number(rng, -1.5, 1.5) for _ in range(n)],
                    bias=None if rng.random() < 0.2 else _number(rng, -1, 1),
                    activation=activation, loss=loss, slope=rng.choice(["0.01", "0.2"]),
                    delta=rng.choice(["0.5", "1"]))
    samples = [Sample(x=[_number(rng, -2, 2) for _ in range(n)],
                      y=_number(rng, 0.05, 0.95) if loss == "bce" else _number(rng, -2, 2))
               for _ in range(m)]
    return neuron, samples


def _network_problem(rng, activation, loss, widths):
    def layer(inputs, width, act):
        return Layer([[_number(rng, -1, 1) for _ in range(inputs)] for _ in range(width)],
                     [_number(rng, -0.5, 0.5) for _ in range(width)], act)

    # Cross-entropy needs outputs strictly between 0 and 1: a sigmoid output layer.
    layers = [layer(2, widths[0], activation),
              layer(widths[0], widths[1], "sigmoid" if loss == "bce" else activation)]
    network = Network(layers=layers, loss=loss, outputs=rng.choice(["sum", "mean"]),
                      slope=rng.choice(["0.01", "0.2"]), delta=rng.choice(["0.5", "1"]),
                      frozen=rng.choice([(), ("b",), ("b2_1",), ("w1_2_1", "b1_1")]))
    samples = [Sample(x=[_number(rng, -2, 2) for _ in range(2)],
                      y=[_number(rng, 0.05, 0.95) if loss == "bce" else _number(rng, -1, 1)
                         for _ in range(widths[1])])
               for _ in range(rng.randint(1, 3))]
    return network, samples


def drawn_examples():
    """(name, worked example) of seeded draws: every activation with every loss as a
    neuron (batches of 1 to 3 samples) and as a 2-2-1 or 2-3-2 network (frozen parameters
    in some), three steps each; then the kinks, and custom activations."""
    rng = random.Random(14)
    found = []
    for activation in ACTIVATIONS:
        for number, loss in enumerate(LOSSES):
            for kind in ("neuron", "network"):
                for _ in range(200):  # cross-entropy needs 0 < ŷ < 1 at every step
                    model, samples = (
                        _neuron_problem(rng, activation, loss) if kind == "neuron" else
                        _network_problem(rng, activation, loss, ((2, 1), (3, 2))[number % 2]))
                    try:
                        example = worked_example(model, samples, learning_rate=rng.choice(
                            ["0.05", "0.1", "0.5"]), steps=3)
                    except DomainError:
                        continue
                    found.append((f"{kind}_{activation}_{loss}", example))
                    break
                else:
                    raise AssertionError(f"no {kind} drawn for {activation} and {loss}")
    # At the kinks, in numbers float64 holds exactly: z = 0 for ReLU and leaky ReLU
    # (f'(0) = 0 and the slope), ŷ = y for MAE (sign(0) = 0), |ŷ - y| = δ for Huber.
    kinks = {"relu": ("relu", "squared", "-1", "1.5"), "leaky": ("leaky_relu", "mse", "-1", "1.5"),
             "mae": ("identity", "mae", "0.5", "1.5"), "huber": ("identity", "huber", "0.5", "0.5")}
    for name, (activation, loss, bias, y) in kinks.items():
        found.append((f"kink_{name}", worked_example(
            Neuron(weights="0.5", bias=bias, activation=activation, loss=loss, slope="0.25"),
            [Sample(x="2", y=y)], learning_rate="0.5", steps=3)))
    hidden_kink = Network(layers=[Layer([["0.5", "-0.25"], ["0.75", "0.5"]], None, "relu"),
                                  Layer([["0.5", "-1"]], ["0.25"], "identity")])
    found.append(("kink_network_relu", worked_example(
        hidden_kink, [Sample(x=["1", "2"], y=["1"])], learning_rate="0.5", steps=3)))
    # Custom activations, printed by SymPy's printers; max(z, 0.1 z) at its kink z = 0.
    for number, formula in enumerate(["z/(1+abs(z))", "max(z, 0.1*z)", "sqrt(1+z**2) - 1",
                                      "z*sigmoid(z)", "log(1+exp(z))/pi", "min(z, 1)"]):
        neuron = Neuron(weights="0.5", bias="-1" if number == 1 else "0.25",
                        activation=custom(parse(formula, symbols=("z",))))
        found.append((f"custom_{number}", worked_example(
            neuron, [Sample(x="2", y="1.5"), Sample(x="-1", y="0.5")], steps=3)))
    return found + training_examples(rng)


def _softmax_network(rng, loss, hidden="tanh"):
    """A 2-2-3 network with a softmax output layer."""
    def layer(inputs, width, act):
        return Layer([[_number(rng, -1, 1) for _ in range(inputs)] for _ in range(width)],
                     [_number(rng, -0.5, 0.5) for _ in range(width)], act)

    return Network(layers=[layer(2, 2, hidden), layer(2, 3, "softmax")], loss=loss,
                   frozen=rng.choice([(), ("b2_1",), ("w1_2_1",)]))


def training_examples(rng):
    """(name, worked example) of seeded draws with what torch.optim adds to the step: each
    optimizer with its settings drawn, as a neuron and as a 2-2-1 network (frozen
    parameters in some); an L2 penalty with and without the biases; softmax 2-2-3 networks
    with cross-entropy (targets by class index, one-hot, a distribution) and with squared
    error, under plain descent and Adam; three steps each."""
    found = []
    settings = {"momentum": ("momentum", "0.5", "0.9"), "nesterov": ("momentum", "0.5", "0.9"),
                "rmsprop": ("beta2", "0.9", "0.99"), "adam": ("beta1", "0.8", "0.9"),
                "adamw": ("weight_decay", "0.01", "0.1")}
    for name in OPTIMIZERS:
        for kind in ("neuron", "network"):
            model, samples = (_neuron_problem(rng, "tanh", "mse") if kind == "neuron" else
                              _network_problem(rng, "sigmoid", "half_squared", (2, 1)))
            setting, *values = settings.get(name, (None,))
            optimizer = Optimizer(name, **({setting: rng.choice(values)} if setting else {}))
            found.append((f"optimizer_{kind}_{name}", worked_example(
                model, samples, learning_rate=rng.choice(["0.05", "0.1"]), steps=3,
                optimizer=optimizer)))
    for biases in (False, True):
        penalised = "biases" if biases else "weights"
        for optimizer in ("sgd", "momentum"):
            model, samples = _network_problem(rng, "relu", "mse", (3, 2))
            found.append((f"l2_{optimizer}_{penalised}", worked_example(
                model, samples, learning_rate="0.1", steps=3, optimizer=optimizer,
                l2=rng.choice(["0.01", "0.1"]), l2_biases=biases)))
        neuron, samples = _neuron_problem(rng, "sigmoid", "bce")
        found.append((f"l2_neuron_{penalised}", worked_example(
            neuron, samples, steps=3, l2="0.1", l2_biases=biases)))
    targets = {"index": lambda: rng.randint(1, 3),
               "one_hot": lambda: rng.choice([["1", "0", "0"], ["0", "1", "0"], ["0", "0", "1"]]),
               "distribution": lambda: ["0.2", "0.5", "0.3"]}
    for loss, target, optimizer in [("cross_entropy", "index", "sgd"),
                                    ("cross_entropy", "one_hot", "adam"),
                                    ("cross_entropy", "distribution", "momentum"),
                                    ("squared", "one_hot", "sgd"),
                                    ("squared", "distribution", "rmsprop")]:
        samples = [Sample(x=[_number(rng, -2, 2) for _ in range(2)], y=targets[target]())
                   for _ in range(rng.randint(1, 3))]
        found.append((f"softmax_{loss}_{target}_{optimizer}", worked_example(
            _softmax_network(rng, loss, rng.choice(["tanh", "relu"])), samples,
            learning_rate="0.5", steps=3, optimizer=optimizer,
            l2="0.05" if optimizer == "momentum" else 0)))
    return found


@pytest.fixture(scope="module")
def drawn():
    return drawn_examples()


def _write_scripts(examples, fmt, folder) -> list[Path]:
    paths = []
    for name, example in examples:
        path = folder / f"{name}_{fmt}.py"
        path.write_text(example.render(fmt), encoding="utf-8")
        paths.append(path)
    return paths


def test_numpy_scripts_agree_with_symgrad(drawn, numpy_installed, tmp_path):
    """Every drawn example's numpy script (vectorised forward and backward and the
    optimizer's rule by hand) agrees with symgrad on every loss, gradient, parameter and
    state, step by step."""
    results = run_scripts(_write_scripts(drawn, "numpy", tmp_path))
    failed = {name: output for name, (code, output) in results.items() if code != 0}
    assert not failed, failed
    assert all("numpy agrees with symgrad on all" in out for _, out in results.values())


def test_torch_scripts_agree_with_symgrad(drawn, torch_installed, tmp_path):
    """Every drawn example's torch script (PyTorch's functions, autograd and torch.optim)
    agrees with symgrad on every loss, gradient, parameter and state, step by step."""
    results = run_scripts(_write_scripts(drawn, "torch", tmp_path))
    failed = {name: output for name, (code, output) in results.items() if code != 0}
    assert not failed, failed
    assert all("torch agrees with symgrad on all" in out for _, out in results.values())


# A line of a script's expected numbers, and the failure its change must be reported as.
TAMPERED = {
    "loss": (r"^expected_loss = ", "loss:"),
    "gradient": (r'^expected_gradients = \{\n    "w1_1_1": ', "dL/dw1_1_1:"),
    "updated": (r'^expected_updated = \{\n    "w1_1_1": ', "w1_1_1 after the step:"),
    "loss_after": (r"^expected_loss_after = ", "loss after the step:"),
    "step": (r'^    \}, [-0-9.e]+, \{\n        "w1_1_1": ', "step 1: dL/dw1_1_1:"),
    "final": (r'^expected_final = \(\{\n    "w1_1_1": ', "w1_1_1 at the end:"),
}


def _tamper(script: str, before: str) -> str:
    """The script with the number after ``before`` made larger by one part in a million."""
    found = re.search(before + r"([-0-9.e]+)", script, re.M)
    assert found, before
    changed = repr(float(found.group(1)) * (1 + 1e-6) + 1e-9)
    return script[:found.start(1)] + changed + script[found.end(1):]


@pytest.mark.parametrize("fmt", ["numpy", "torch"])
def test_a_script_with_a_wrong_number_fails(fmt, numpy_installed, tmp_path, request):
    """Changing any one of symgrad's numbers in a script (by one part in a million) makes
    it exit 1 naming that number: the assertions are real."""
    if fmt == "torch":
        request.getfixturevalue("torch_installed")
    network, samples, options = GALLERY["network_2_2_2_sigmoid"]
    script = worked_example(network, samples, learning_rate=options["learning_rate"],
                            steps=2).render(fmt)
    paths = []
    for what, (before, _) in TAMPERED.items():
        paths.append(tmp_path / f"{what}.py")
        paths[-1].write_text(_tamper(script, before), encoding="utf-8")
    (tmp_path / "untouched.py").write_text(script, encoding="utf-8")
    results = run_scripts([*paths, tmp_path / "untouched.py"])
    assert results.pop("untouched.py")[0] == 0
    for what, (_, named) in TAMPERED.items():
        code, output = results[f"{what}.py"]
        assert code == 1 and output.startswith(named) and "1 of " in output, (what, output)


@pytest.mark.parametrize("name", CROSS_CHECKED)
@pytest.mark.parametrize("fmt", ["numpy", "torch"])
def test_the_gallery_scripts_run_on_their_own(fmt, name, numpy_installed, request):
    """output/'s numpy and torch scripts (the 2-2-2 network, Adam, the softmax classifier)
    run as `python FILE` and agree with symgrad."""
    if fmt == "torch":
        request.getfixturevalue("torch_installed")
    result = run(sys.executable, str(OUTPUT / f"{name}_{fmt}.py"), cwd=OUTPUT, timeout=300)
    assert result.returncode == 0 and f"{fmt} agrees with symgrad" in result.stdout, \
        result.stdout + result.stderr


def test_a_custom_activation_they_cannot_print_is_one_line(capsys):
    """A custom activation whose formula or derivative SymPy's NumPy and PyTorch printers
    cannot print as the same function (Heaviside's derivative is DiracDelta) is refused:
    one line naming it, exit 2."""
    for fmt in ("numpy", "torch"):
        assert main(["example", "--activation-expr", "Heaviside(z)", "--format", fmt]) == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and "derivative uses DiracDelta" in error, error
        assert f"--format {fmt}" in error


def test_cli_writes_the_scripts_and_names_them(tmp_path, capsys):
    """--format numpy and torch print their scripts or write NAME.py; a .py without
    --format is the standard-library script; a script named after its library is refused,
    since it would import itself."""
    assert main(["example", "--format", "numpy"]) == 0
    assert "import numpy as np" in capsys.readouterr().out
    assert main(["example", "--format", "torch", "--out", str(tmp_path / "check.py")]) == 0
    assert "loss.backward()" in (tmp_path / "check.py").read_text(encoding="utf-8")
    assert main(["example", "--out", str(tmp_path / "plain.py")]) == 0
    assert "from fractions import" in (tmp_path / "plain.py").read_text(encoding="utf-8")
    for fmt in ("numpy", "torch"):
        assert main(["example", "--format", fmt, "--out", str(tmp_path / f"{fmt}.py")]) == 2
        assert f"would import itself instead of {fmt}" in capsys.readouterr().err
        assert not (tmp_path / f"{fmt}.py").exists()


def test_pictures_are_not_for_scripts_and_the_matrix_form_changes_nothing():
    """A graph asked of a cross-check script is a clear error; the matrix form is taken
    as it is (the NumPy script works in matrix form already): the same script."""
    network, samples, _ = GALLERY["network_2_2_2_sigmoid"]
    for fmt in ("numpy", "torch"):
        with pytest.raises(SymgradError, match=f"not {fmt}"):
            worked_example(network, samples, graph=True).render(fmt)
        assert (worked_example(network, samples, matrix=True).render(fmt)
                == worked_example(network, samples).render(fmt))


# An Adam step with an L2 penalty through a softmax: its J, Adam's state, its bias-corrected
# moments m_hat and v_hat and the objective of a step, each changed, must be reported.
TAMPERED_TRAINING = {
    "objective": (r"^expected_objective = ", "J:"),
    "objective_after": (r"^expected_objective_after = ", "J after the step:"),
    "gradient": (r'^expected_gradients = \{\n    "w1_1_1": ', "dJ/dw1_1_1:"),
    "state": (r'^        "v": \{\n            "w1_1_1": ', "step 1: v of w1_1_1:"),
    "m_hat": (r'^        "m_hat": \{\n            "w1_1_1": ', "step 1: m_hat of w1_1_1:"),
    "v_hat": (r'^        "v_hat": \{\n            "w1_1_1": [-0-9.e]+,\n            "w1_1_2": ',
              "step 1: v_hat of w1_1_2:"),
    "step": (r'^    \}, [-0-9.e]+, \{\n        "w1_1_1": ', "step 1: dJ/dw1_1_1:"),
    "final": (r"^\}, ", "J at the end:"),
}


@pytest.mark.parametrize("fmt", ["numpy", "torch"])
def test_a_training_script_with_a_wrong_number_fails(fmt, numpy_installed, tmp_path, request):
    """In a softmax network's script with Adam and an L2 penalty, changing J, a gradient ∂J,
    a state variable of Adam, a bias-corrected moment or the final J makes it exit 1 naming
    that number."""
    if fmt == "torch":
        request.getfixturevalue("torch_installed")
    network, samples, _ = GALLERY["network_softmax"]
    script = worked_example(network, samples, steps=2, optimizer="adam", l2="0.1",
                            l2_biases=True).render(fmt)
    paths = []
    for what, (before, _) in TAMPERED_TRAINING.items():
        paths.append(tmp_path / f"{what}.py")
        paths[-1].write_text(_tamper(script, before), encoding="utf-8")
    (tmp_path / "untouched.py").write_text(script, encoding="utf-8")
    results = run_scripts([*paths, tmp_path / "untouched.py"])
    assert results.pop("untouched.py")[0] == 0
    for what, (_, named) in TAMPERED_TRAINING.items():
        code, output = results[f"{what}.py"]
        assert code == 1 and output.startswith(named) and "1 of " in output, (what, output)
