"""Tests of symgrad.maths.derive (and the registries): values against independent oracles."""

import mpmath
import pytest
from hypothesis import given, settings, strategies as st
from sympy import Rational, diff, erf, exp, lambdify, pi, simplify, sqrt, tanh

from symgrad.maths.activations import ACTIVATIONS, normal_cdf, normal_pdf, sigmoid
from symgrad.maths.derive import Z, PREDICTION, TARGET, composed_loss, derive
from symgrad.errors import DomainError, NumberError, ShapeError, UnknownNameError
from symgrad.maths.losses import LOSSES
from symgrad.maths.model import Defined, Given, Neuron, Sample, numeric

R = Rational


def _plain(expr):
    """Replace shown parameters (leaky slope, Huber delta) by their values."""
    return expr.xreplace({g: g.value for g in expr.atoms(Given)})


def _factor(d, name, sample=1):
    return next(f.formula.value for f in d.factors if f.name == name and f.sample == sample)


def test_seed_001_numbers():
    """Seed 001: ŷ 1.1, L 0.16, dL/dŷ -0.8, dL/dw -1.6, dL/db -0.8, w 0.66, b 0.18, ŷ after 1.5."""
    d = derive(Neuron(weights="0.5", bias="0.1"), [Sample(x="2.0", y="1.5")],
               learning_rate="0.1")
    assert d.forward[0].prediction.value == R("1.1")
    assert d.loss.value == R("0.16")
    assert _factor(d, "dL/da") == R("-0.8")
    assert [g.value for g in d.gradients] == [R("-1.6"), R("-0.8")]
    assert d.updated == (R("0.66"), R("0.18"))
    assert d.forward_after[0].prediction.value == R("1.5")
    assert d.loss_after.value == 0


def test_seed_003_numbers():
    """Seed 003: z 3.5, L 0.25, factors -1, 1, 2, 1, gradients -2, -1, w 1.7, b 0.6, L after 0."""
    d = derive(Neuron(weights="1.5", bias="0.5"), [Sample(x="2.0", y="4.0")])
    assert d.forward[0].z.value == R("3.5")
    assert d.loss.value == R("0.25")
    assert [_factor(d, n) for n in ("dL/da", "da/dz", "dz/dw", "dz/db")] == [-1, 1, 2, 1]
    assert [g.value for g in d.gradients] == [-2, -1]
    assert d.updated == (R("1.7"), R("0.6"))
    assert d.loss_after.value == 0


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_derivative_matches_sympy_diff(name):
    """Each registry f'(z) equals sympy.diff of f(z) away from kinks."""
    act = ACTIVATIONS[name]
    f, df = _plain(act.function(Z, R(1, 100))), _plain(act.derivative(Z, R(1, 100)))
    for point in (R(-3, 2), R(-1, 7), R(2, 9), R(5, 2)):
        assert abs((diff(f, Z) - df).subs(Z, point).evalf(30)) < 1e-25


def _written_out(expr):
    """σ, Φ and φ written out by hand (not by the library's own rewriting)."""
    forms = {sigmoid: lambda u: 1 / (1 + exp(-u)),
             normal_cdf: lambda u: (1 + erf(u / sqrt(2))) / 2,
             normal_pdf: lambda u: exp(-u ** 2 / 2) / sqrt(2 * pi)}
    return expr.replace(lambda e: type(e) in forms, lambda e: forms[type(e)](e.args[0]))


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softplus", "gelu", "silu", "softsign"])
def test_lesson_forms_equal_derivative(name):
    """σ(z)(1 - σ(z)), Φ(z) + zφ(z), σ(z)(1 + z(1 - σ(z))) and the output forms a(1 - a),
    1 - a², (1 - |a|)² equal the explicit derivatives."""
    act = ACTIVATIONS[name]
    derivative = act.derivative(Z, 0).doit()
    if act.lesson_form is not None:
        assert simplify(_written_out(act.lesson_form(Z)) - derivative) == 0
    if act.output_form is not None:
        through_output = act.output_form(PREDICTION).subs(PREDICTION, act.function(Z, 0))
        assert simplify(through_output - derivative) == 0
    assert act.lesson_form is not None or act.output_form is not None


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_derivative_matches_sympy_diff(name):
    """Each registry dℓ/dŷ equals sympy.diff of ℓ(ŷ, y) away from kinks."""
    entry = LOSSES[name]
    ell = _plain(entry.function(PREDICTION, TARGET, R(1, 2)))
    dell = _plain(entry.derivative(PREDICTION, TARGET, R(1, 2)))
    for a, y in ((R(1, 5), R(1)), (R(7, 10), R(0)), (R(3, 10), R(1, 4))):
        point = {PREDICTION: a, TARGET: y}
        assert abs((diff(ell, PREDICTION) - dell).subs(point).evalf(30)) < 1e-25


def _numeric(value):
    return float(value.evalf(30))


@settings(max_examples=25, deadline=None)
@given(act=st.sampled_from(sorted(ACTIVATIONS)), loss=st.sampled_from(sorted(LOSSES)),
       w=st.integers(-20, 20), b=st.integers(-20, 20), x=st.integers(-20, 20),
       y=st.integers(0, 10), batch=st.booleans())
def test_gradient_equals_diff_and_finite_difference(act, loss, w, b, x, y, batch):
    """For every activation × loss the chain product equals sympy.diff of the composed
    loss and a central finite difference."""
    w, b, x, y = R(w, 10), R(b, 10), R(x, 10), R(y, 10)
    if loss == "bce":
        y = min(y, R(1))
    neuron = Neuron(weights=w, bias=b, activation=act, loss=loss, delta=R(1, 2))
    samples = [Sample(x=x, y=y)] + ([Sample(x=x / 2 + R(1, 3), y=y / 3)] if batch else [])
    try:
        d = derive(neuron, samples)
    except DomainError:
        assert loss == "bce" and act != "sigmoid"  # ŷ outside (0, 1): log undefined
        return
    total, symbols = composed_loss(neuron, samples)
    point = dict(zip(symbols, (w, b)))
    h = R(1, 10**6)
    for g, symbol in zip(d.gradients, symbols):
        zs = [z.z.value for z in d.forward]
        at_kink = any(abs(_numeric(z)) < 1e-3 for z in zs) and act in ("relu", "leaky_relu")
        errors = [a.prediction.value - s.y for a, s in zip(d.forward, samples)]
        at_kink |= loss in ("mae", "huber") and any(
            min(abs(_numeric(e)), abs(abs(_numeric(e)) - 0.5)) < 1e-3 for e in errors)
        if at_kink:
            continue  # the derivative there is a stated convention, tested separately
        symbolic = diff(total, symbol).subs(point)
        assert abs(_numeric(g.value - symbolic)) < 1e-12
        up = total.subs(point | {symbol: point[symbol] + h})
        down = total.subs(point | {symbol: point[symbol] - h})
        central = (up - down) / (2 * h)
        assert abs(_numeric(g.value) - _numeric(central)) < 1e-6 * (1 + abs(_numeric(central)))


# The new activations as PyTorch's documentation defines them (torch.nn.GELU with
# approximate='none', SiLU, ELU(alpha=1.0), Softsign), written with mpmath.
_TORCH = {
    "gelu": lambda x: x * (1 + mpmath.erf(x / mpmath.sqrt(2))) / 2,  # x·Φ(x)
    "silu": lambda x: x / (1 + mpmath.exp(-x)),                    # x·σ(x)
    "elu": lambda x: x if x > 0 else 1 * (mpmath.exp(x) - 1),      # α = 1
    "softsign": lambda x: x / (1 + abs(x)),
}
_POINTS = st.fractions(min_value=-8, max_value=8, max_denominator=1000).map(
    lambda f: R(f.numerator, f.denominator))


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(sorted(_TORCH)), z=_POINTS)
def test_new_activations_agree_with_pytorch(name, z):
    """GELU, SiLU, ELU and softsign take the values PyTorch's definitions give, to 38
    digits, at exact points (z = 0 included)."""
    act = ACTIVATIONS[name]
    ours = numeric(_plain(act.function(Z, R(1, 100))).subs(Z, z), 45)
    with mpmath.workdps(45):
        theirs = _TORCH[name](mpmath.mpf(z.p) / z.q)
        assert abs(mpmath.mpf(str(ours)) - theirs) < mpmath.mpf(10) ** -38


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(ACTIVATIONS)), z=_POINTS)
def test_derivative_equals_diff_and_central_difference(name, z):
    """At random exact points each registry f'(z) equals sympy.diff of f(z) and the central
    difference (f(z + h) - f(z - h))/2h, h = 10^-6, off the kinks of ReLU and leaky ReLU
    (where f'(0) is a convention); GELU, SiLU, ELU and softsign have none, so z = 0 counts."""
    act = ACTIVATIONS[name]
    if act.kink is not None and abs(z - act.kink) < R(1, 10**5):
        return
    f, df = _plain(act.function(Z, R(1, 100))), _plain(act.derivative(Z, R(1, 100)))
    registry = numeric(df.subs(Z, z), 40)
    assert abs(registry - numeric(diff(f, Z).subs(Z, z), 40)) < 1e-30
    plain = lambdify(Z, f, "mpmath")
    h = mpmath.mpf(10) ** -6
    with mpmath.workdps(40):
        at = mpmath.mpf(z.p) / z.q
        central = (plain(at + h) - plain(at - h)) / (2 * h)
        # off by about h² f'''(z)/6 where f is smooth; ELU's pieces at 0 differ by O(h) in f'
        assert abs(central - mpmath.mpf(str(registry))) < 1e-6 * (1 + abs(central))


def test_elu_and_softsign_have_no_kink_at_zero():
    """At z = 0 ELU's slope is e^0 = 1 and softsign's 1/(1 + |0|)² = 1: derivatives equal
    from both sides, not conventions, and their notes say what f'(0) is."""
    for name in ("elu", "softsign"):
        d = derive(Neuron(weights="0.5", bias="-1", activation=name), [Sample(x=2, y="1.5")])
        assert d.forward[0].z.value == 0 and _factor(d, "da/dz") == 1
        assert ACTIVATIONS[name].kink is None and "f'(0) =" in d.activation.convention
        f = _plain(ACTIVATIONS[name].function(Z, 0))
        h = R(1, 10**8)
        left, right = (f.subs(Z, 0) - f.subs(Z, -h)) / h, (f.subs(Z, h) - f.subs(Z, 0)) / h
        assert abs(numeric(left - 1)) < 1e-7 and abs(numeric(right - 1)) < 1e-7


def test_gelu_at_its_lowest_point_is_a_turning_point_not_saturated():
    """Near GELU's lowest point (z = -0.75) its slope is tiny but changes sign: the cause is
    'turning'; far in its left tail (z = -5) the slope is tiny and keeps its sign: saturated."""
    turning = derive(Neuron(weights="0.5", bias="-1.25", activation="gelu"), [Sample(x=1, y=0)])
    assert abs(numeric(_factor(turning, "da/dz"))) < 1e-3
    assert all(g.tiny and g.cause == "turning" for g in turning.gradients)
    tail = derive(Neuron(weights="0.5", bias="-5", activation="gelu"), [Sample(x=1, y=1)])
    assert all(g.tiny and g.cause == "flat_activation" for g in tail.gradients)
    with mpmath.workdps(30):  # GELU's slope changes sign between -0.76 and -0.74
        slope = lambda x: (1 + mpmath.erf(x / mpmath.sqrt(2))) / 2 + x * mpmath.npdf(x)  # noqa
        assert slope(mpmath.mpf("-0.76")) < 0 < slope(mpmath.mpf("-0.74"))


def test_relu_at_kink_uses_zero_convention():
    """At z = 0 the ReLU factor is 0 by convention, and the gradient stops: at the kink,
    which is not called dead (that is z < 0)."""
    d = derive(Neuron(weights="0.5", bias="-1", activation="relu"), [Sample(x=2, y="1.5")])
    assert d.forward[0].z.value == 0
    assert _factor(d, "da/dz") == 0
    assert all(g.sign == 0 and g.cause == "at_kink" for g in d.gradients)
    dead = derive(Neuron(weights="0.5", bias="-2", activation="relu"), [Sample(x=2, y="1.5")])
    assert all(g.cause == "flat_activation" for g in dead.gradients)
    assert "f'(0) = 0" in d.activation.convention


def test_leaky_relu_at_kink_uses_slope():
    """At z = 0 leaky ReLU's factor is its slope."""
    d = derive(Neuron(weights="0.5", bias="-1", activation="leaky_relu", slope="0.1"),
               [Sample(x=2, y="1.5")])
    assert _factor(d, "da/dz") == R(1, 10)


def test_mae_subgradient_at_target_is_zero():
    """|ŷ - y| at ŷ = y uses sign(0) = 0: nothing to learn."""
    d = derive(Neuron(weights="0.5", bias="0.5", loss="mae"), [Sample(x=1, y=1)])
    assert _factor(d, "dL/da") == 0
    assert d.gradients[0].cause == "at_target"


def test_sigmoid_factor_has_lesson_form_and_exact_value():
    """The sigmoid factor is shown as σ(z)(1 - σ(z)) and its value stays exact."""
    d = derive(Neuron(weights="0.5", bias="0.1", activation="sigmoid"), [Sample(x=2, y=1)])
    f = next(f.formula for f in d.factors if f.name == "da/dz")
    assert f.lesson_form.has(sigmoid(Z))
    s = 1 / (1 + exp(-R(11, 10)))
    assert simplify(f.value - s * (1 - s)) == 0


def test_saturated_sigmoid_is_flagged_tiny():
    """A saturated sigmoid gives a tiny gradient whose cause is the flat activation."""
    d = derive(Neuron(weights="10", bias="0", activation="sigmoid"), [Sample(x=2, y=0)])
    g = d.gradients[0]
    assert g.tiny and g.cause == "flat_activation" and g.sign == 1


def test_batch_mean_and_sum():
    """mse averages the per-sample gradients, squared sums them."""
    samples = [Sample(x=1, y=1), Sample(x=2, y=0)]
    mean = derive(Neuron(weights=1, bias=0, loss="mse"), samples)
    total = derive(Neuron(weights=1, bias=0, loss="squared"), samples)
    # per sample dL/dw: 2(1-1)*1 = 0 and 2(2-0)*2 = 8
    assert mean.gradients[0].value == 4 and total.gradients[0].value == 8
    assert mean.loss.value == 2 and total.loss.value == 4


def test_training_loop_first_row_is_the_worked_step():
    """The loop's first row equals the worked step, and updates use exact values."""
    d = derive(Neuron(weights="0.5", bias="0.1"), [Sample(x="2.0", y="1.5")],
               learning_rate="0.05", steps=5)
    assert len(d.iterations) == 5
    assert d.iterations[0].gradients == tuple(g.value for g in d.gradients)
    assert d.iterations[1].parameters == d.updated
    w, b = R(1, 2), R(1, 10)
    for _ in range(5):
        error = 2 * w + b - R(3, 2)
        w, b = w - R(1, 20) * 2 * error * 2, b - R(1, 20) * 2 * error
    assert d.final_parameters == (w, b)


def test_tolerance_stops_the_loop():
    """With --tol the loop stops once the loss is below it."""
    d = derive(Neuron(weights="0.5", bias="0.1"), [Sample(x="2.0", y="1.5")],
               steps=50, tolerance="0.001")
    assert d.converged and len(d.iterations) == 1 and d.final_loss == 0


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(neuron=Neuron(weights=1, activation="swish")), UnknownNameError, "identity, sigmoid"),
    (dict(neuron=Neuron(weights=1, loss="hinge")), UnknownNameError, "squared, half_squared"),
    (dict(neuron=Neuron(weights=[1, 2])), ShapeError, "one x per w"),
    (dict(learning_rate="0"), NumberError, "positive"),
    (dict(learning_rate="-0.1"), NumberError, "positive"),
    (dict(steps=0), NumberError, "steps"),
    (dict(neuron=Neuron(weights="0.5", bias="0.5", loss="bce")), DomainError, "log"),
])
def test_bad_problems_raise_narrow_errors(kwargs, error, message):
    """Unknown names, mismatched shapes, bad rates and log(0) raise one-line errors."""
    neuron = kwargs.pop("neuron", None)
    with pytest.raises(error, match=message):
        derive(neuron, [Sample(x=1, y=1)], **kwargs)


def test_tanh_uses_output_in_lesson_form():
    """tanh's factor is written 1 - ŷ², with the prediction substituted (no tautology)."""
    d = derive(Neuron(weights=1, bias=0, activation="tanh"), [Sample(x=1, y=0)])
    f = next(f.formula for f in d.factors if f.name == "da/dz")
    assert f.value == 1 - tanh(1) ** 2
    assert f.lesson_form == 1 - PREDICTION ** 2
    assert not f.substituted.has(Z)


def test_long_sigmoid_loop_stays_exact_with_named_values():
    """Nested exponentials become named exact values, so a long loop stays exact and agrees
    with 50-digit arithmetic done independently."""
    neuron = Neuron(weights="0.5", bias="0.1", activation="sigmoid")
    long = derive(neuron, [Sample(x=2, y=1)], steps=40)
    assert any(p.atoms(Defined) for p in long.final_parameters)
    with mpmath.workdps(50):
        w, b = mpmath.mpf("0.5"), mpmath.mpf("0.1")
        for _ in range(40):
            a = 1 / (1 + mpmath.exp(-(2 * w + b)))
            delta = 2 * (a - 1) * a * (1 - a)
            w, b = w - mpmath.mpf("0.1") * delta * 2, b - mpmath.mpf("0.1") * delta
        for ours, theirs in zip(long.final_parameters, (w, b)):
            assert abs(numeric(ours, 50) - theirs) < 1e-40


@settings(max_examples=12, deadline=None)
@given(st.lists(st.integers(-8, 8), min_size=6, max_size=6),
       st.sampled_from(["identity", "sigmoid", "tanh", "relu"]),
       st.sampled_from(["mse", "squared", "mae"]), st.integers(1, 3))
def test_batch_matrix_form_is_the_gradient(numbers, activation, loss, count):
    """The batch in matrix form (matrix=True): Z = X w + b 1 row by row is each sample's z,
    and c Xᵀ Δ, c 1ᵀ Δ are the gradients, equal to sympy.diff of the composed loss."""
    w1, w2, b, x1, x2, y = (Rational(n, 4) for n in numbers)
    neuron = Neuron(weights=(w1, w2), bias=b, activation=activation, loss=loss)
    samples = [Sample(x=(x1 + i, x2 - i), y=y + i) for i in range(count)]
    d = derive(neuron, samples, matrix=True)
    (layer,) = d.batch_matrices
    assert (layer.inputs.rows, layer.inputs.cols, layer.z.shape, layer.weights.shape) == (
        count, 2, (count, 1), (2, 1))
    assert [g.value for g in layer.z] == [f.units[0].z.value for f in d.forward]
    loss_of, symbols = composed_loss(neuron, samples)
    at = dict(zip(symbols, (w1, w2, b)))
    expected = [diff(loss_of, s).subs(at) for s in symbols]
    shown = [g.value for g in layer.weight_gradient] + [g.value for g in layer.bias_gradient]
    for value, exact in zip(shown, expected):
        if activation == "relu" and any(f.units[0].z.value == 0 for f in d.forward):
            continue  # at the kink sympy.diff has no value; the convention is tested elsewhere
        if loss == "mae" and any(f.units[0].a.value == s.y for f, s in zip(d.forward, samples)):
            continue
        assert abs(numeric(value - exact, 40)) < Rational(1, 10**30), (value, exact)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(ACTIVATIONS)), st.sampled_from(sorted(LOSSES)),
       st.integers(-30, 30), st.integers(-20, 20), st.integers(1, 9))
def test_shallow_evaluation_gives_sympys_value(name, loss_name, top, target, bottom):
    """A value after a step goes into f and the loss as it is (evaluate's ``shallow``),
    into the formula SymPy evaluated at a stand-in of its sign: the same number as SymPy's
    evaluation at the value itself, to 40 digits, for every activation and loss, on
    either side of a kink and of the target."""
    from symgrad.maths.activations import activation
    from symgrad.maths.losses import loss as find_loss
    from symgrad.maths.working import evaluate
    act, loss = activation(name), find_loss(loss_name)
    if act.layer is not None or loss.categorical:
        return  # a softmax's layer-wide formulas take every z at once
    value = Rational(top, 10) + tanh(Rational(1, bottom)) / 7  # irrational, either sign
    y = Rational(target, 10)
    a = evaluate(act.function(Z, Rational(1, 100)), {Z: value})
    shallow_a = evaluate(act.function(Z, Rational(1, 100)), {Z: value}, shallow=True)
    assert abs(numeric(shallow_a, 45) - numeric(a, 45)) <= abs(numeric(a, 45)) * 1e-40
    if loss.domain is not None and loss.domain(a):
        return  # bce outside (0, 1): no loss to compare
    for formula in (loss.function(PREDICTION, TARGET, 1), loss.derivative(PREDICTION, TARGET, 1)):
        exact = evaluate(formula, {PREDICTION: a, TARGET: y})
        shallow = evaluate(formula, {PREDICTION: shallow_a, TARGET: y}, shallow=True)
        assert abs(numeric(shallow, 45) - numeric(exact, 45)) <= abs(numeric(exact, 45)) * 1e-40


def test_values_after_the_step_where_shallow_evaluation_is_tested_hardest():
    """The loss after a step, worked shallowly, as SymPy's own evaluation gives it: a
    sample whose loss the step leaves as it was says so (not a rise or a fall read off
    rounding noise); a loss whose terms cancel (ELU's -1 + e^(-31999) + 1) keeps its tiny
    value; a loss of 10^95659674 is compared in a moment; a custom f with no real value
    after the step is a one-line error, not a complex loss."""
    from sympy import Symbol
    from symgrad.maths.activations import custom
    z = Symbol("z", real=True)
    kept = derive(Neuron(weights=["0.5"], bias=None, activation="softplus", loss="mae"),
                  [Sample(x=["0"], y="1"), Sample(x=["1"], y="2")], learning_rate="0.5")
    assert kept.reading.sample_changes == (0, -1) and kept.reading.loss_change == -1
    same = derive(Neuron(weights=["0.5"], bias=None, activation="softplus", loss="mse"),
                  [Sample(x=["0"], y="1"), Sample(x=["0"], y="2")], learning_rate="0.5")
    assert same.reading.loss_change == 0
    tiny = derive(Neuron(weights=["1"], bias="0", activation="elu", loss="squared"),
                  [Sample(x=["1"], y="-1")], learning_rate="4000")
    assert str(numeric(tiny.loss_after.value, 8)) == "1.0513496e-27794"
    huge = derive(Neuron(weights=["3", "-2"], bias="1", activation=custom(exp(z)),
                         loss="squared"),
                  [Sample(x=["2", "1"], y="0"), Sample(x=["-1", "0.5"], y="0")],
                  learning_rate="5000")
    assert str(numeric(huge.loss_after.value, 8)) == "2.8609368e+95659674"
    assert huge.reading.sample_changes == (-1, 1)
    with pytest.raises(DomainError, match=r"f\(z\) = sqrt\(z\) gives no real number at "
                                          r"z = -0.5 \(after the update\)"):
        derive(Neuron(weights=["1"], bias="0.5", activation=custom(sqrt(z)), loss="squared"),
               [Sample(x=["1"], y="0")], learning_rate="1")
