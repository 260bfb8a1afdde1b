"""Tests of symgrad.maths.steps: derivatives rule by rule, each line equal to sympy.diff."""

import json
import os
import re
import subprocess
import sys

import mpmath
import pytest
from hypothesis import given, settings, strategies as st
from sympy import Derivative, Rational, diff, erf, exp, lambdify, latex, log, pi, sqrt, tanh

import hostile
from conftest import ROOT, run
from symgrad import (ACTIVATIONS, LOSSES, DerivativeSteps, Neuron, Sample, derivative_steps,
                     worked_example)
from symgrad.maths.activations import custom, normal_cdf, normal_pdf, sigmoid
from symgrad.assess.checks import parse
from symgrad.errors import StepMismatch, StepsError, SymgradError
from symgrad.maths.derive import derive
from symgrad.maths.model import Given, Layer, Network
from symgrad.maths.records import PREDICTION, TARGET, Z
from symgrad.views.render import LessonPrinter
from symgrad.maths.steps import (MAX_RULE_STEPS, activation_steps, loss_steps,
                                 softmax_cross_entropy_steps, softmax_steps)
import symgrad.maths.steps

# Where the oracle compares: both sides of every kink (0 for z, y for ŷ), inside (0, 1)
# for cross-entropy, never on a kink.
_Z_POINTS = (Rational(-7, 3), Rational(-2, 5), Rational(3, 7), Rational(11, 4))
_LOSS_POINTS = ((Rational(3, 10), Rational(4, 5)), (Rational(7, 10), Rational(1, 5)),
                (Rational(2, 9), Rational(-3, 2)), (Rational(5, 6), Rational(9, 4)))


def _tex(expr) -> str:
    """LaTeX as the lesson prints it (the terms in their order)."""
    return latex(expr, order="none")


# The lesson's named functions written out by hand, apart from the library's own forms.
_WRITTEN_OUT = {sigmoid: lambda u: 1 / (1 + exp(-u)),
                normal_cdf: lambda u: (1 + erf(u / sqrt(2))) / 2,
                normal_pdf: lambda u: exp(-u ** 2 / 2) / sqrt(2 * pi)}


def _function(expr, symbols):
    """``expr`` (its derivatives taken) as a function of mpmath numbers: σ, Φ and φ written
    out, given numbers put in, Dirac's δ 0 off its kink."""
    expr = expr.replace(lambda e: type(e) in _WRITTEN_OUT,
                        lambda e: _WRITTEN_OUT[type(e)](e.args[0]))
    expr = expr.xreplace({g: g.value for g in expr.atoms(Given)}).doit()
    return lambdify(symbols, expr, [{"DiracDelta": lambda x, *order: 0}, "mpmath"])


def _real(function, point):
    """``function`` at an exact point, to 40 digits (None where it is not a finite real)."""
    with mpmath.workdps(40):
        try:
            value = mpmath.mpmathify(function(*[mpmath.mpf(v.p) / v.q for v in point]))
        except (ZeroDivisionError, ValueError):
            return None
    if isinstance(value, mpmath.mpc):
        return value.real if value.imag == 0 else None
    return value if mpmath.isfinite(value) else None


def _assert_every_line_is_the_derivative(steps: DerivativeSteps, symbols, points):
    """Every line of ``steps`` (its derivatives taken) equals sympy.diff at each point."""
    truth = _function(diff(steps.function, steps.variable), symbols)
    expected = {point: _real(truth, point) for point in points}
    expected = {point: value for point, value in expected.items() if value is not None}
    assert len(expected) >= 2
    if len(steps.steps) > 20:  # a long derivation of a big formula: two points will do
        expected = dict(list(expected.items())[:2])
    for step in steps.steps:
        line = _function(step.after, symbols)
        for point, value in expected.items():
            found = _real(line, point)
            assert found is not None and abs(found - value) < 1e-25 * max(1, abs(value)), (
                step.rule, step.after, point)


def test_sigmoid_steps_are_the_lesson():
    """The sigmoid's derivative takes the quotient, sum, exp-with-chain and constant-factor
    rules, then ends in the lesson form σ(z)(1 − σ(z)) from e^{−z}/(1+e^{−z})²."""
    steps = activation_steps(ACTIVATIONS["sigmoid"], Z)
    assert [s.rule for s in steps.steps] == ["reciprocal", "sum", "exp", "constant factor",
                                             "lesson form"]
    chain = steps.steps[2]
    assert chain.chain and _tex(chain.inner) == "- z"
    assert _tex(chain.part) == r"\frac{d}{d z} e^{- z}"
    last = steps.steps[-1]
    assert _tex(last.part) == _tex(ACTIVATIONS["sigmoid"].derivative(Z, 0))
    assert _tex(last.result) == r"\sigma\left(z\right) \left(1 - \sigma\left(z\right)\right)"
    assert last.uses and last.uses[0].lhs == sigmoid(Z)
    assert not steps.result.has(Derivative)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_every_registry_activation(name):
    """Every activation's steps equal sympy.diff line by line and end in the registry's
    lesson form (or its derivative), with no step left to SymPy."""
    activation = ACTIVATIONS[name]
    steps = activation_steps(activation, Z, Rational(1, 100))
    _assert_every_line_is_the_derivative(steps, [Z], [(p,) for p in _Z_POINTS])
    final = (activation.lesson_form(Z) if activation.lesson_form
             else activation.derivative(Z, Rational(1, 100)))
    assert _tex(steps.result) == _tex(final)
    assert "sympy" not in [s.rule for s in steps.steps]


@pytest.mark.parametrize("name", list(LOSSES))
def test_every_registry_loss(name):
    """Every loss's ∂L/∂ŷ steps equal sympy.diff line by line, hold y fixed (∂) and end in
    the registry's derivative."""
    loss = LOSSES[name]
    steps = loss_steps(loss, PREDICTION, TARGET, Rational(1))
    _assert_every_line_is_the_derivative(steps, [PREDICTION, TARGET], _LOSS_POINTS)
    assert steps.partial
    assert _tex(steps.result) == _tex(loss.derivative(PREDICTION, TARGET, Rational(1)))
    assert "sympy" not in [s.rule for s in steps.steps]


def test_gelu_steps_take_the_erf_rule_and_end_in_phi():
    """GELU's derivative takes the error-function rule with the chain rule for u = z/√2,
    then ends in the lesson form Φ(z) + z φ(z), stating what Φ and φ are."""
    steps = activation_steps(ACTIVATIONS["gelu"], Z)
    rules = [s.rule for s in steps.steps]
    assert rules == ["product", "constant factor", "sum", "erf", "constant factor", "simplify",
                     "lesson form"]
    erf_step = steps.steps[3]
    assert erf_step.chain and _tex(erf_step.inner) == r"\frac{z}{\sqrt{2}}"
    assert _tex(steps.result) == r"\Phi\left(z\right) + z \varphi\left(z\right)"
    assert [use.lhs for use in steps.steps[-1].uses] == [normal_cdf(Z), normal_pdf(Z)]
    for use in steps.steps[-1].uses:  # each stated equality holds
        assert abs((_WRITTEN_OUT[type(use.lhs)](Z) - use.rhs).subs(Z, Rational(2, 3)).evalf(
            40)) < 1e-35


def test_erf_in_a_custom_formula_has_its_rule():
    """A custom formula with erf (the parser allows it) is derived by the erf rule, every
    line equal to sympy.diff, none left to SymPy."""
    formula = parse("erf(z**2 - 1) * exp(-z)", symbols=("z",))
    steps = derivative_steps(formula, Z)
    assert "erf" in [s.rule for s in steps.steps]
    assert "sympy" not in [s.rule for s in steps.steps]
    _assert_every_line_is_the_derivative(steps, [Z], [(p,) for p in _Z_POINTS])


def test_elu_and_softsign_steps():
    """ELU is derived by cases (each piece on its side, d/dz (-1) = 0 written with brackets);
    softsign by the quotient rule and |z|'s rule, simplified to 1/(1 + |z|)²."""
    elu = activation_steps(ACTIVATIONS["elu"], Z)
    assert [s.rule for s in elu.steps] == ["cases", "identity", "sum", "exp"]
    assert _tex(elu.steps[2].uses[0]) == r"\frac{d}{d z} \left(-1\right) = 0"
    softsign = activation_steps(ACTIVATIONS["softsign"], Z)
    assert [s.rule for s in softsign.steps] == ["quotient", "identity", "sum", "abs",
                                                "simplify"]
    assert _tex(softsign.result) == r"\frac{1}{\left(1 + \left|{z}\right|\right)^{2}}"


def test_loss_steps_drop_the_target_as_a_constant():
    """For the squared error the power rule meets the chain rule, and the sum rule says
    ∂(−y)/∂ŷ = 0."""
    steps = loss_steps(LOSSES["squared"], PREDICTION, TARGET)
    assert [s.rule for s in steps.steps] == ["power", "sum", "identity"]
    assert steps.steps[0].chain and str(steps.steps[0].inner) == "a - y"
    assert _tex(steps.steps[1].uses[0]) == r"\frac{\partial}{\partial a} \left(- y\right) = 0"


def _corpus() -> list[str]:
    """The custom activation formulas of the test corpus that parse as formulas in z."""
    texts = hostile.corpus() + ["z/(1+abs(z))", "relu(z) + abs(z) + max(z, 1) + min(z, 0)",
                                "Heaviside(z)", "z**2", "z**100", "sqrt(z-3)"]
    found = []
    for text in dict.fromkeys(texts):
        try:
            parse(text, symbols=("z",))
        except SymgradError:
            continue
        found.append(text)
    return found


@pytest.mark.parametrize("text", _corpus())
def test_custom_activations_of_the_corpus(text):
    """Every custom activation of the corpus derives step by step, each line equal to
    sympy.diff (or is refused in one line when it is too deep to derive)."""
    formula = parse(text, symbols=("z",))
    try:
        steps = derivative_steps(formula, Z)
    except StepsError as error:
        assert "nested too deeply" in str(error) and text.startswith("sigmoid(" * 10)
        return
    points = [(p,) for p in _Z_POINTS + (Rational(7, 2), Rational(41, 5))]
    truth = _function(diff(formula, Z), [Z])
    if sum(_real(truth, p) is not None for p in points) >= 2:  # else: no real points here
        _assert_every_line_is_the_derivative(steps, [Z], points)
    assert not steps.result.has(Derivative)


def test_a_long_derivation_finishes_with_sympy():
    """Past MAX_RULE_STEPS rules, one honest step by SymPy takes every derivative left."""
    formula = sum(exp(k * Z) for k in range(1, 25))
    steps = derivative_steps(formula, Z)
    rules = [s.rule for s in steps.steps]
    assert rules.count("sympy") == 1 and rules.index("sympy") == MAX_RULE_STEPS
    assert steps.result.doit() == diff(formula, Z)


def test_an_unknown_function_is_left_to_sympy():
    """A power whose base and exponent both hold z has no rule here: SymPy takes it."""
    steps = derivative_steps(Z ** Z, Z)
    assert [s.rule for s in steps.steps] == ["sympy"]
    assert steps.result == diff(Z ** Z, Z)


def test_a_wrong_step_is_never_shown(monkeypatch):
    """A rule that gives a wrong derivative raises StepMismatch instead of being shown."""
    right = symgrad.maths.steps._apply

    def wrong(g, z, rate):
        rule, inner, uses, result = right(g, z, rate)
        return (rule, inner, uses, result * 2) if rule == "exp" else (rule, inner, uses, result)

    monkeypatch.setattr(symgrad.maths.steps, "_apply", wrong)
    with pytest.raises(StepMismatch, match="exp rule"):
        derivative_steps(1 / (1 + exp(-Z)), Z)


def test_a_formula_real_nowhere_cannot_be_checked():
    """A derivative that is real at too few of the points tried is refused, not shown."""
    with pytest.raises(StepsError, match="shows no step it has not checked"):
        derivative_steps(sqrt(Z - 5000), Z, forms=(sqrt(Z - 5000) / (2 * (Z - 5000)),))


_LEAVES = st.sampled_from([Z, Z, Z, Rational(1, 2), Rational(3), Rational(-2, 3)])


def _grow(children):
    """Compositions of + − * / ** exp log tanh σ erf of z, defined for every real z."""
    unary = st.sampled_from([exp, tanh, sigmoid, erf, lambda e: log(1 + e * e),
                             lambda e: 1 / (1 + exp(-e))])
    return st.one_of(
        st.tuples(unary, children).map(lambda t: t[0](t[1])),
        st.tuples(children, children).map(lambda t: t[0] + t[1]),
        st.tuples(children, children).map(lambda t: t[0] - t[1]),
        st.tuples(children, children).map(lambda t: t[0] * t[1]),
        st.tuples(children, children).map(lambda t: t[0] / (1 + t[1] * t[1])),
        st.tuples(children, st.integers(-3, 4)).map(lambda t: t[0] ** t[1] if t[1] >= 0
                                                    else (1 + t[0] ** 2) ** t[1]),
    )


# At least one operation over random subtrees, and z somewhere in it.
_COMPOSITIONS = _grow(st.recursive(_LEAVES, _grow, max_leaves=5)).filter(lambda e: e.has(Z))


@settings(max_examples=60, deadline=None)
@given(_COMPOSITIONS)
def test_random_compositions(formula):
    """For random compositions every line equals sympy.diff, every derivative gets a
    rule of its own (none left to SymPy) and the last line has no derivative left."""
    steps = derivative_steps(formula, Z)
    if formula.has(Z):
        _assert_every_line_is_the_derivative(steps, [Z], [(p,) for p in _Z_POINTS])
    assert "sympy" not in [s.rule for s in steps.steps]
    assert not steps.result.has(Derivative)


def test_derivative_steps_is_public():
    """symgrad exports derivative_steps and DerivativeSteps."""
    import symgrad
    assert {"derivative_steps", "DerivativeSteps"} <= set(symgrad.__all__)


# --- rendering ----------------------------------------------------------------------------

def _examples():
    """Worked examples with steps: every activation (each with a loss) and custom ones."""
    def one(activation, loss, y="1"):
        return worked_example(Neuron(weights="0.5", bias="0.1", activation=activation,
                                     loss=loss), [Sample(x="2", y=y)], derive_steps=True)

    pairs = {"identity": "squared", "sigmoid": "bce", "tanh": "half_squared", "relu": "mse",
             "leaky_relu": "mae", "softplus": "huber", "gelu": "squared", "silu": "mae",
             "elu": "huber", "softsign": "half_squared"}
    assert set(pairs) == set(ACTIVATIONS) and set(pairs.values()) == set(LOSSES)
    found = [one(activation, loss) for activation, loss in pairs.items()]
    found += [one(custom(parse(text, symbols=("z",))), "squared", "1.5")
              for text in ("z/(1+abs(z))", "max(sigmoid(z), 0.25)", "z*exp(z)*tanh(z)",
                           "erf(z**2)*z")]
    found += [worked_example(_softmax(loss), [Sample(x=["1", "2"], y=[0, 0, 1])],
                             derive_steps=True) for loss in ("cross_entropy", "squared")]
    return found


def _softmax(loss="cross_entropy"):
    """A 2-2-3 classifier: ReLU, then a softmax of 3 classes."""
    return Network(layers=[Layer([["0.5", "-0.2"], ["0.1", "0.4"]], ["0.1", "-0.1"], "relu"),
                           Layer([["0.3", "-0.5"], ["0.2", "0.6"], ["-0.4", "0.1"]],
                                 ["0", "0.1", "-0.1"], "softmax")], loss=loss)


@pytest.mark.parametrize("width", [2, 3, 5])
def test_softmax_jacobian_steps(width):
    """The softmax's ∂a_j/∂z_k goes by the quotient rule to a_j(δ_jk − a_k); every line, put
    to numbers for each j and k, equals sympy.diff of the softmax."""
    ds = softmax_steps(width)
    assert [step.rule for step in ds.steps] == ["quotient", "own exponential",
                                                "sum of exponentials", "lesson form"]
    assert LessonPrinter(4).doprint(ds.result) == r"{a}_{j} \left(\delta_{j k} - {a}_{k}\right)"
    z = [Rational(n, 7) - 1 for n in range(width)]
    total = sum(exp(v) for v in z)
    for step in ds.steps:
        for j in range(1, width + 1):
            for k in range(1, width + 1):
                _, Z, _ = _indexed()
                line = _concrete(step.after, j, k, width)
                value = line.xreplace({Z[m]: v for m, v in enumerate(z, 1)}).doit()
                expected = (exp(z[j - 1]) / total) * (int(j == k) - exp(z[k - 1]) / total)
                assert abs((value - expected).evalf(40)) < 1e-30, (step.rule, j, k)


def test_softmax_cross_entropy_steps_cancel_to_a_minus_y():
    """Through a softmax, −Σ y_i log a_i by z_k goes through the chain rule over the outputs
    to a_k − y_k, once the targets sum to 1; each line equals sympy.diff at numbers."""
    width = 4
    ds = softmax_cross_entropy_steps(width)
    assert [step.rule for step in ds.steps] == ["outputs", "loss term", "jacobian", "cancel",
                                                "pick", "targets"]
    assert LessonPrinter(4).doprint(ds.result) == "{a}_{k} - {y}_{k}"
    A, Z, Y = _indexed()
    z = [Rational(n, 5) - Rational(1, 3) for n in range(width)]
    y = [Rational(1, 10), Rational(2, 10), Rational(3, 10), Rational(4, 10)]
    total = sum(exp(v) for v in z)
    for step in ds.steps:
        for k in range(1, width + 1):
            line = _concrete(step.after, 2, k, width)
            value = line.xreplace({Z[m]: v for m, v in enumerate(z, 1)} | {
                Y[m]: v for m, v in enumerate(y, 1)}).doit()
            assert abs((value - (exp(z[k - 1]) / total - y[k - 1])).evalf(40)) < 1e-30, (
                step.rule, k)


def test_a_wrong_softmax_line_is_never_shown():
    """The checker refuses a line that is not the derivative, such as the diagonal
    a_j(1 − a_j) given for every entry."""
    from sympy import KroneckerDelta
    A, Z, _ = _indexed()
    j, k = (symgrad.maths.steps._J, symgrad.maths.steps._K)
    ds = softmax_steps(3)
    checker = symgrad.maths.steps._LayerChecker(3, ds.function)
    wrong = A[j] * (1 - A[j])
    with pytest.raises(StepMismatch):
        checker.checked(symgrad.maths.steps.Step("lesson form", ds.steps[-1].before, wrong,
                                                 ds.steps[-1].before, wrong))
    right = A[j] * (KroneckerDelta(j, k) - A[k])
    assert checker.checked(symgrad.maths.steps.Step("lesson form", ds.steps[-1].before, right,
                                                    ds.steps[-1].before, right)).after == right


def test_softmax_networks_derive_their_jacobian_and_the_cancellation():
    """A softmax classifier's steps hold its Jacobian, then the loss, then (cross-entropy
    only) the cancellation to a_k − y_k, said in words."""
    sample = [Sample(x=["1", "2"], y=3)]
    subjects = {loss: [ds.subject for ds in derive(
        _softmax(loss), sample, derive_steps=True).derivative_steps]
        for loss in ("cross_entropy", "squared")}
    assert subjects == {"cross_entropy": ["activation", "softmax", "loss", "cancellation"],
                        "squared": ["activation", "softmax", "loss"]}
    example = worked_example(_softmax(), sample, derive_steps=True)
    md = example.to_markdown()
    assert "So the error signal of output $k$ is its probability minus its target" in md
    assert r"\frac{\partial L}{\partial z_{k}} = \sum_{j=1}^{3}" in md
    assert [entry["of"] for entry in example.to_data()["derivative_steps"]] == [
        "activation", "softmax", "loss", "cancellation"]


def _indexed():
    steps = symgrad.maths.steps
    return steps._A, steps._Z, steps._Y


def _concrete(line, j, k, width):
    """A line with j and k put in, each a by the outputs taken, then a as the softmax of z."""
    checker = symgrad.maths.steps._LayerChecker(width, line)
    return checker._concrete(line, j, k)


def test_markdown_section_and_json():
    """The section appears (with its rules and the lesson form) only when asked for, and
    the JSON then holds each line as data."""
    plain = worked_example(Neuron(weights="0.5", bias="0.1", activation="sigmoid",
                                  loss="bce"), [Sample(x="2", y="1")])
    assert "rule by rule" not in plain.to_markdown()
    assert "derivative_steps" not in plain.to_data()
    example = worked_example(Neuron(weights="0.5", bias="0.1", activation="sigmoid",
                                    loss="bce"), [Sample(x="2", y="1")], derive_steps=True)
    md = example.to_markdown()
    assert md.index("### The derivatives, rule by rule") > md.index("## 3. Each factor")
    assert (r"$$\frac{e^{- z}}{\left(1 + e^{- z}\right)^{2}} = \sigma\left(z\right) "
            r"\left(1 - \sigma\left(z\right)\right)$$") in md
    assert "with the **chain rule** for $u = - z$" in md
    data = example.to_data()["derivative_steps"]
    assert [entry["of"] for entry in data] == ["activation", "loss"]
    assert data[0]["steps"][-1] == {
        "rule": "lesson form", "chain": False,
        "latex": r"\frac{e^{- z}}{\left(1 + e^{- z}\right)^{2}} = \sigma\left(z\right) "
                 r"\left(1 - \sigma\left(z\right)\right)",
        "result": r"\sigma\left(z\right) \left(1 - \sigma\left(z\right)\right)"}


def test_steps_render_in_katex(katex_dir):
    """Every maths span of the steps' Markdown renders with KaTeX."""
    spans = []
    for example in _examples():
        md = example.to_markdown()
        section = md[md.index("rule by rule"):md.index("Now each factor")]
        spans += [(m.strip(), True) for m in re.findall(r"\$\$(.+?)\$\$", section, re.S)]
        rest = re.sub(r"\$\$(.+?)\$\$", " ", section, flags=re.S)
        spans += [(m, False) for m in re.findall(r"\$([^$\n]+?)\$", rest)]
    assert len(spans) > 100
    result = subprocess.run(["node", str(ROOT / "tests" / "katex_check.js")],
                            input=json.dumps(spans), capture_output=True, text=True,
                            env=dict(os.environ, NODE_PATH=str(katex_dir / "node_modules")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_steps_compile_with_pdflatex(pdflatex, tmp_path):
    """Every LaTeX document with steps compiles with pdflatex."""
    for number, example in enumerate(_examples()):
        source = tmp_path / f"steps{number}.tex"
        source.write_text(example.to_latex())
        result = run(pdflatex, "-interaction=nonstopmode", "-halt-on-error", source.name,
                     cwd=tmp_path)
        assert result.returncode == 0, result.stdout[-2000:]


def test_cli_flag():
    """`symgrad example --derive-steps` adds the section, for --activation-expr too; a bad
    formula is still one line and exit code 2."""
    out = run(sys.executable, "-m", "symgrad", "example", "--activation-expr", "z/(1+abs(z))",
              "--derive-steps", cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "**Quotient rule**" in out.stdout and "**Absolute value, by cases**" in out.stdout
    bad = run(sys.executable, "-m", "symgrad", "example", "--activation-expr", "q(z)",
              "--derive-steps", cwd=ROOT)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
