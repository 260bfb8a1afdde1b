"""All the maths: build the neuron's formulas, derive each chain-rule factor,
substitute exact values, and update the parameters by gradient descent.

The result is a :class:`Derivation`, a frozen record of every line of working.
Each line is a :class:`Formula` shown three ways: symbolic (``2(ŷ - y)``),
with the numbers substituted (``2(1.1 - 1.5)``), and its exact value (``-4/5``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from sympy import Add, Expr, Mul, Not, Piecewise, Rational, Symbol

from .activations import Activation, activation as find_activation
from .errors import DomainError, NumberError, ShapeError, UnknownNameError
from .losses import Loss, loss as find_loss
from .model import (PRECISION, Defined, Given, Neuron, Sample, exact, numeric, seed_neuron,
                    seed_samples, whole_number)

__all__ = ["Formula", "Factor", "Forward", "Gradient", "Iteration", "Derivation", "Quantity",
           "Mistake", "MISTAKES", "StepNumbers", "derive", "step_numbers", "composed_loss",
           "quantities", "mistakes", "Z", "PREDICTION", "TARGET", "TINY"]

# Real symbols, so that sympy.diff of |ŷ - y| is sign(ŷ - y), not a complex form.
Z = Symbol("z", real=True)
PREDICTION = Symbol("a", real=True)  # the neuron's output a = ŷ
TARGET = Symbol("y", real=True)
# A gradient smaller than this in size barely moves its parameter.
TINY = Rational(1, 1000)
# At most this many training steps, so a typo cannot run for hours.
MAX_STEPS = 10_000
# Exact values of non-rational activations nest (exp of exp of ...) and grow about
# fourfold each step; past this many operations the loop carries PRECISION digits.
MAX_EXACT_OPS = 100


@dataclass(frozen=True, slots=True)
class Formula:
    """One line of working: ``symbolic = substituted = value``.

    ``lesson_form`` is an equal way of writing ``symbolic`` that lessons use
    (``σ(z)(1 - σ(z))``); ``condition`` is the case of a piecewise formula
    that applies to these numbers (``1.1 > 0``).
    """

    symbolic: Expr | None
    substituted: Expr | None
    value: Expr
    lesson_form: Expr | None = None
    condition: Expr | None = None


@dataclass(frozen=True, slots=True)
class Factor:
    """One chain-rule factor ``d(numerator)/d(denominator)`` for one sample."""

    name: str
    numerator: Symbol
    denominator: Symbol
    sample: int
    formula: Formula


@dataclass(frozen=True, slots=True)
class Forward:
    """The forward pass of one sample: z, the prediction ŷ and its loss term."""

    sample: int
    sample_data: Sample
    z: Formula
    prediction: Formula
    loss: Formula


@dataclass(frozen=True, slots=True)
class Gradient:
    """``dL/dp`` for one parameter: the chain product per sample, and its update.

    ``sign`` is -1, 0 or 1; ``cause`` says why a zero or tiny gradient is so:
    ``"at_target"``, ``"flat_activation"`` or ``"zero_input"``.
    """

    parameter: str
    symbol: Symbol
    chain: tuple[str, ...]
    per_sample: tuple[Formula, ...]
    total: Formula | None
    value: Expr
    sign: int
    tiny: bool
    cause: str | None
    update: Formula


@dataclass(frozen=True, slots=True)
class Iteration:
    """One row of the training loop: parameters before the step, loss, gradients."""

    step: int
    parameters: tuple[Expr, ...]
    loss: Expr
    gradients: tuple[Expr, ...]
    exact: bool = True


@dataclass(frozen=True, slots=True)
class Derivation:
    """The whole worked example: the first step in full and the training loop."""

    neuron: Neuron
    samples: tuple[Sample, ...]
    learning_rate: Rational
    activation: Activation
    loss_function: Loss
    parameter_names: tuple[str, ...]
    parameter_symbols: tuple[Symbol, ...]
    input_symbols: tuple[Symbol, ...]
    linear: Expr
    activation_formula: Expr
    activation_derivative: Expr
    loss_formula: Expr
    loss_derivative: Expr
    forward: tuple[Forward, ...]
    loss: Formula
    factors: tuple[Factor, ...]
    gradients: tuple[Gradient, ...]
    forward_after: tuple[Forward, ...]
    loss_after: Formula
    iterations: tuple[Iteration, ...]
    final_parameters: tuple[Expr, ...]
    final_loss: Expr
    tolerance: Rational | None
    converged: bool
    exact_until: int | None = None

    @property
    def parameters(self) -> tuple[Expr, ...]:
        """The parameters before the first step."""
        return self.neuron.parameters

    @property
    def updated(self) -> tuple[Expr, ...]:
        """The parameters after the first step."""
        return tuple(g.update.value for g in self.gradients)


@dataclass(frozen=True, slots=True)
class _Values:
    """Exact numbers of one step, shared by the worked step and the training loop."""

    z: tuple[Expr, ...]
    prediction: tuple[Expr, ...]
    losses: tuple[Expr, ...]
    loss: Expr
    dloss: tuple[Expr, ...]
    dactivation: tuple[Expr, ...]
    gradients: tuple[tuple[Expr, ...], ...]  # [parameter][sample]
    totals: tuple[Expr, ...]


@lru_cache(maxsize=64)
def _formulas(activation_name: str, loss_name: str, slope: Rational, delta: Rational, n: int,
              bias: bool):
    """Symbols and formulas of a neuron shape, built once: SymPy objects are immutable,
    so problems of the same shape share them."""
    suffixes = [""] if n == 1 else [f"_{i}" for i in range(1, n + 1)]
    inputs = tuple(Symbol("x" + s, real=True) for s in suffixes)
    weights = tuple(Symbol("w" + s, real=True) for s in suffixes)
    symbols = weights + ((Symbol("b", real=True),) if bias else ())
    terms = [Mul(w, x, evaluate=False) for w, x in zip(weights, inputs)]
    linear = Add(*terms, *symbols[n:], evaluate=False) if len(symbols) > 1 else terms[0]
    act, entry = find_activation(activation_name), find_loss(loss_name)
    return (inputs, weights, symbols, linear, act.function(Z, slope), act.derivative(Z, slope),
            entry.function(PREDICTION, TARGET, delta), entry.derivative(PREDICTION, TARGET, delta))


class _Problem:
    """The formulas of a neuron, built once, evaluated at many parameter values."""

    def __init__(self, neuron: Neuron, samples: tuple[Sample, ...]):
        self.neuron = neuron
        self.samples = samples
        self.activation = find_activation(neuron.activation)
        self.loss = find_loss(neuron.loss)
        n = len(neuron.weights)
        for i, sample in enumerate(samples, 1):
            if len(sample.x) != n:
                raise ShapeError(f"sample {i} has {len(sample.x)} input(s) x but the neuron has "
                                 f"{n} weight(s) w; give one x per w")
        (self.inputs, self.weights, self.symbols, self.linear, self.f, self.df, self.ell,
         self.dell) = _formulas(neuron.activation, neuron.loss, neuron.slope, neuron.delta, n,
                                neuron.bias is not None)
        m = len(samples)
        self.scale = Rational(1, m) if self.loss.reduction == "mean" else Rational(1)

    def values(self, parameters: tuple[Expr, ...]) -> _Values:
        """Every exact number of one gradient-descent step at ``parameters``."""
        n = len(self.weights)
        weights, bias = parameters[:n], (parameters[n] if len(parameters) > n else 0)
        zs, preds, losses, dls, das = [], [], [], [], []
        for i, sample in enumerate(self.samples, 1):
            z = Add(*(w * x for w, x in zip(weights, sample.x))) + bias
            a = _evaluate(self.f, {Z: z})
            if self.loss.domain and (problem := self.loss.domain(a)):
                raise DomainError(problem + (f" (sample {i})" if len(self.samples) > 1 else ""))
            zs.append(z)
            preds.append(a)
            losses.append(_evaluate(self.ell, {PREDICTION: a, TARGET: sample.y}))
            dls.append(_evaluate(self.dell, {PREDICTION: a, TARGET: sample.y}))
            das.append(_evaluate(self.df, {Z: z}))
        local = [[s.x[j] for s in self.samples] for j in range(n)]
        if len(parameters) > n:
            local.append([Rational(1)] * len(self.samples))
        gradients = tuple(tuple(dl * da * dz for dl, da, dz in zip(dls, das, column))
                          for column in local)
        totals = tuple(self.scale * Add(*per_sample) for per_sample in gradients)
        return _Values(tuple(zs), tuple(preds), tuple(losses), self.scale * Add(*losses),
                       tuple(dls), tuple(das), gradients, totals)


def _evaluate(formula: Expr, values: dict) -> Expr:
    """The exact value of a display formula, with the given numbers put in; a piecewise
    formula takes the case that holds."""
    if isinstance(formula, Piecewise) and all(_is_number(v) for v in values.values()):
        formula = next(piece for piece, test in formula.args if _holds(test, values))
    values = dict(values)
    values.update((g, g.value) for g in formula.atoms(Given))
    return formula.xreplace(values)


def _is_number(value: Expr) -> bool:
    """A number, possibly written with named exact values (not a formula of symbols)."""
    return not (value.free_symbols - value.atoms(Defined))


def _holds(condition, values: dict) -> bool:
    """Whether a piecewise condition holds at ``values``; decided numerically when SymPy
    cannot tell (a named exact value inside |ŷ - y| ≤ δ, say)."""
    if condition == True:  # noqa: E712 - SymPy's true
        return True
    filled = condition.xreplace(dict(values) | {g: g.value for g in condition.atoms(Given)})
    if filled in (True, False):
        return bool(filled)
    return bool(type(filled)(numeric(filled.lhs, PRECISION), numeric(filled.rhs, PRECISION)))


def _show(formula: Expr, values: dict) -> Expr:
    """The formula with each number visible in its place (nothing folded)."""
    return _unevaluated(formula, {symbol: Given(value) for symbol, value in values.items()})


def _unevaluated(expr: Expr, replacements: dict) -> Expr:
    """``expr.xreplace(replacements)`` rebuilding each changed node unevaluated.

    (SymPy's ``evaluate(False)`` context does the same but clears SymPy's cache
    each time it is entered, which costs more than the whole substitution.)
    """
    if expr in replacements:
        return replacements[expr]
    if not expr.args:
        return expr
    args = tuple(_unevaluated(arg, replacements) for arg in expr.args)
    if args == expr.args:
        return expr
    try:
        return expr.func(*args, evaluate=False)
    except TypeError:  # a node without an evaluate option, such as a piecewise branch
        return expr.func(*args)


def _working(formula: Expr, values: dict, value: Expr, lesson_form: Expr | None = None,
             shown: dict | None = None) -> Formula:
    """A :class:`Formula` for ``formula`` at ``values``; a piecewise formula shows
    the case that applies and the condition that picks it."""
    shown = values if shown is None else shown
    condition = None
    applied = formula
    if isinstance(formula, Piecewise):
        earlier = []
        for piece, test in formula.args:
            if _holds(test, values):
                condition = test if test != True else Not(earlier[-1])  # noqa: E712
                applied = piece
                break
            earlier.append(test)
        condition = _show(condition, shown)
    target = lesson_form if lesson_form is not None else applied
    substituted = _show(target, shown) if target.free_symbols - set(target.atoms(Given)) else None
    return Formula(formula, substituted, value, lesson_form, condition)


def _sign(value: Expr) -> int:
    """-1, 0 or 1; exact for rationals, decided numerically for other values."""
    if value.is_Rational:
        return int(bool(value > 0)) - int(bool(value < 0))
    approx = value.evalf(30)
    if abs(approx) < Rational(1, 10**25):
        return 0
    return 1 if approx > 0 else -1


def _is_tiny(value: Expr) -> bool:
    return bool(abs(value) < TINY)


def _forward(problem: _Problem, parameters, values: _Values) -> tuple[tuple[Forward, ...],
                                                                     Formula]:
    """Working for z, ŷ and the loss of every sample, and the batch's loss."""
    named = dict(zip(problem.symbols, parameters))
    rows = []
    for i, sample in enumerate(problem.samples):
        numbers = named | dict(zip(problem.inputs, sample.x))
        z_value, a_value = values.z[i], values.prediction[i]
        z = _working(problem.linear, numbers, z_value)
        prediction = _working(problem.f, {Z: z_value}, a_value)
        ell = _working(problem.ell, {PREDICTION: a_value, TARGET: sample.y}, values.losses[i])
        rows.append(Forward(i + 1, sample, z, prediction, ell))
    m = len(problem.samples)
    total = rows[0].loss if m == 1 else _reduce(problem.scale, "L", values.losses, values.loss)
    return tuple(rows), total


def _reduce(scale: Rational, letter: str | None, terms: tuple[Expr, ...],
            value: Expr) -> Formula:
    """``(1/m)(L_1 + ... + L_m)`` (or the plain sum) with each sample's number put in;
    without a ``letter`` only the numbers are shown."""
    names = [Symbol(f"{letter or 'term'}_{i}") for i in range(1, len(terms) + 1)]
    total = Add(*names, evaluate=False)
    symbolic = Mul(scale, total, evaluate=False) if scale != 1 else total
    working = _working(symbolic, dict(zip(names, terms)), value)
    return working if letter else Formula(None, working.substituted, value)


def _product(*factors: Expr) -> Expr:
    """``a · b · c``, kept as written."""
    return Mul(*factors, evaluate=False)


def _descent(parameter: Expr, rate: Expr, gradient: Expr) -> Expr:
    """``p - α·g``, kept in that order."""
    return Add(parameter, Mul(-1, Mul(rate, gradient, evaluate=False), evaluate=False),
               evaluate=False)


def _numbers_in(build, numbers: tuple[Expr, ...]) -> Expr:
    """``build(*numbers)`` with every number visible, e.g. ``-0.8 · 1 · 2``; ``build``
    makes an unevaluated expression."""
    return build(*(Given(n) for n in numbers))


def _cause(factors: list[Factor], parameter_factor: str) -> str | None:
    """Why the chain product is zero or tiny: which factor vanishes everywhere."""
    for name, cause in (("dL/da", "at_target"), ("da/dz", "flat_activation"),
                        (parameter_factor, "zero_input")):
        chosen = [f.formula.value for f in factors if f.name == name]
        if chosen and all(_is_tiny(v) for v in chosen):
            return cause
    return None


def step_inputs(samples, learning_rate) -> tuple[tuple[Sample, ...], Rational]:
    """Samples as a non-empty tuple and the learning rate as a positive exact number."""
    samples = (samples,) if isinstance(samples, Sample) else tuple(samples)
    if not samples:
        raise ShapeError("give at least one sample (x, y)")
    rate = exact(learning_rate, "learning rate")
    if rate <= 0:
        raise NumberError(f"the learning rate must be positive, not {rate}")
    return samples, rate


def derive(neuron: Neuron | None = None, samples=None, *, learning_rate="0.1", steps: int = 1,
           tolerance=None) -> Derivation:
    """Derive one worked gradient-descent step (and ``steps`` training steps).

    >>> d = derive()  # the built-in example: w = 0.5, b = 0.1, x = 2, y = 1.5
    >>> d.loss.value, [g.value for g in d.gradients], d.updated
    (4/25, [-8/5, -4/5], (33/50, 9/50))
    """
    neuron = seed_neuron() if neuron is None else neuron
    samples, rate = step_inputs(seed_samples() if samples is None else samples, learning_rate)
    whole_number(steps, "steps", MAX_STEPS)
    tol = None if tolerance is None else exact(tolerance, "tolerance")
    if tol is not None and tol <= 0:
        raise NumberError(f"the tolerance must be positive, not {tol}")
    problem = _Problem(neuron, samples)
    parameters = neuron.parameters
    first = problem.values(parameters)

    forward, total = _forward(problem, parameters, first)
    factors = _factors(problem, first)
    gradients = []
    for j, (name, symbol) in enumerate(zip(neuron.parameter_names, problem.symbols)):
        local = f"dz/d{name}"
        chains = zip(first.dloss, first.dactivation,
                     [f.formula.value for f in factors if f.name == local], first.gradients[j])
        per_sample = tuple(Formula(None, _numbers_in(_product, (dl, da, dz)), value)
                           for dl, da, dz, value in chains)
        total_working = None
        if len(samples) > 1:
            total_working = _reduce(problem.scale, None, first.gradients[j], first.totals[j])
        value = first.totals[j]
        update = Formula(None, _numbers_in(_descent, (parameters[j], rate, value)),
                         parameters[j] - rate * value)
        sign = _sign(value)
        tiny = sign != 0 and _is_tiny(value)
        cause = _cause(factors, local) if (sign == 0 or tiny) else None
        gradients.append(Gradient(name, symbol, ("dL/da", "da/dz", local), per_sample,
                                  total_working, value, sign, tiny, cause, update))

    updated = tuple(g.update.value for g in gradients)
    after = problem.values(updated)
    forward_after, loss_after = _forward(problem, updated, after)

    iterations, current, values, converged = [], parameters, first, False
    exact_until = None  # the first step whose numbers are PRECISION-digit approximations
    for step_number in range(1, steps + 1):
        if tol is not None and values.loss < tol:
            converged = True
            break
        iterations.append(Iteration(step_number, current, values.loss, values.totals,
                                    exact=exact_until is None))
        current = tuple(p - rate * g for p, g in zip(current, values.totals))
        if exact_until is None and any(p.count_ops() > MAX_EXACT_OPS for p in current):
            exact_until = step_number + 1
        if exact_until is not None:
            current = tuple(p.evalf(PRECISION) for p in current)
        values = after if step_number == 1 else problem.values(current)
    if tol is not None and not converged and values.loss < tol:
        converged = True

    return Derivation(
        neuron=neuron, samples=samples, learning_rate=rate, activation=problem.activation,
        loss_function=problem.loss, parameter_names=neuron.parameter_names,
        parameter_symbols=problem.symbols, input_symbols=problem.inputs,
        linear=problem.linear, activation_formula=problem.f, activation_derivative=problem.df,
        loss_formula=problem.ell, loss_derivative=problem.dell,
        forward=forward, loss=total, factors=factors, gradients=tuple(gradients),
        forward_after=forward_after, loss_after=loss_after, iterations=tuple(iterations),
        final_parameters=current, final_loss=values.loss, tolerance=tol, converged=converged,
        exact_until=exact_until)


@dataclass(frozen=True, slots=True)
class StepNumbers:
    """The exact numbers of one worked step, without its working: a quick look for
    drawing problems. ``shown`` holds every number the worked solution displays."""

    predictions: tuple[Expr, ...]
    loss: Expr
    gradients: tuple[Expr, ...]
    loss_after: Expr
    shown: tuple[Expr, ...]


def step_numbers(neuron: Neuron, samples, *, learning_rate) -> StepNumbers:
    """The numbers :func:`derive` would show for one step, computed the same way.

    >>> step_numbers(seed_neuron(), seed_samples(), learning_rate="0.1").loss_after
    0
    """
    problem = _Problem(neuron, tuple(samples))
    rate = exact(learning_rate, "learning rate")
    first = problem.values(neuron.parameters)
    updated = tuple(p - rate * g for p, g in zip(neuron.parameters, first.totals))
    after = problem.values(updated)
    shown = [*neuron.parameters, rate, *updated]
    for values in (first, after):
        shown += [*values.z, *values.prediction, *values.losses, values.loss]
    shown += [*first.dloss, *first.dactivation, *first.totals]
    shown += [g for per_sample in first.gradients for g in per_sample]
    return StepNumbers(first.prediction, first.loss, first.totals, after.loss, tuple(shown))


def _factors(problem: _Problem, values: _Values) -> tuple[Factor, ...]:
    """Every chain-rule factor of every sample, with its working."""
    factors = []
    act = problem.activation
    for i, sample in enumerate(problem.samples):
        a, z = values.prediction[i], values.z[i]
        factors.append(Factor("dL/da", Symbol("L"), PREDICTION, i + 1, _working(
            problem.dell, {PREDICTION: a, TARGET: sample.y}, values.dloss[i])))
        lesson = act.lesson_form(Z) if act.lesson_form else None
        shown = {Z: z}
        if act.output is not None:
            shown[act.output(Z)] = a
        factors.append(Factor("da/dz", PREDICTION, Z, i + 1, _working(
            problem.df, {Z: z}, values.dactivation[i], lesson, shown)))
        for name, symbol, x_symbol, x in zip(problem.neuron.parameter_names, problem.symbols,
                                             problem.inputs, sample.x):
            factors.append(Factor(f"dz/d{name}", Z, symbol, i + 1, Formula(x_symbol, None, x)))
        if problem.neuron.bias is not None:
            factors.append(Factor("dz/db", Z, problem.symbols[-1], i + 1,
                                  Formula(Rational(1), None, Rational(1))))
    return tuple(factors)


def composed_loss(neuron: Neuron, samples) -> tuple[Expr, tuple[Symbol, ...]]:
    """The batch loss as one expression of the parameters, for checks with ``sympy.diff``.

    >>> L, (w, b) = composed_loss(seed_neuron(), seed_samples())
    >>> L
    (b + 2*w - 3/2)**2
    """
    problem = _Problem(neuron, tuple(samples))
    terms = []
    for sample in problem.samples:
        z = Add(*(w * x for w, x in zip(problem.weights, sample.x)))
        if neuron.bias is not None:
            z += problem.symbols[-1]
        prediction = _evaluate(problem.f, {Z: z})
        terms.append(_evaluate(problem.ell, {PREDICTION: prediction, TARGET: sample.y}))
    return problem.scale * Add(*terms), problem.symbols



@dataclass(frozen=True, slots=True)
class Quantity:
    """One number a learner can be asked for: ``kind`` is ``prediction``, ``loss``,
    ``gradient``, ``update`` or ``loss_after``; ``key`` names it (``dL/dw``, ``w_new``)."""

    key: str
    kind: str
    value: Expr
    symbol: Symbol | None = None
    sample: int | None = None


@dataclass(frozen=True, slots=True)
class Mistake:
    """The value a predictable mistake gives, and what that mistake is."""

    name: str
    description: str
    value: Expr


MISTAKES = {
    "missing_activation_derivative": "the chain without the activation's derivative f'(z)",
    "missing_input": "the chain without dz/dw = x, the input the weight multiplies",
    "missing_factor_two": "the derivative of the square without its factor 2",
    "flipped_sign": "(y - ŷ) used instead of (ŷ - y), which flips the sign",
    "missing_mean": "the sum over the batch without dividing by the number of samples",
    "z_for_prediction": "z used where the activation's output ŷ = f(z) belongs",
    "plus_instead_of_minus": "the update with + instead of -: a step uphill",
    "missing_learning_rate": "the update without the learning rate α",
}


def quantities(derivation: Derivation) -> tuple[Quantity, ...]:
    """Every number of the worked step a learner can be asked for, in lesson order.

    >>> [q.key for q in quantities(derive())]
    ['prediction', 'loss', 'dL/dw', 'dL/db', 'w_new', 'b_new', 'loss_after']
    """
    d = derivation
    batch = len(d.forward) > 1
    found = [Quantity(f"prediction{row.sample}" if batch else "prediction", "prediction",
                      row.prediction.value, sample=row.sample) for row in d.forward]
    found.append(Quantity("loss", "loss", d.loss.value))
    found += [Quantity(f"dL/d{g.parameter}", "gradient", g.value, g.symbol) for g in d.gradients]
    found += [Quantity(f"{g.parameter}_new", "update", g.update.value, g.symbol)
              for g in d.gradients]
    found.append(Quantity("loss_after", "loss_after", d.loss_after.value))
    return tuple(found)


def mistakes(derivation: Derivation, key: str, *, distinct: bool = True) -> tuple[Mistake, ...]:
    """The values predictable mistakes give for quantity ``key``, computed from the
    derivation's own factors: each differs from the correct value, and with ``distinct``
    from the others too (else mistakes that give the same number are all listed).

    >>> [(m.name, m.value) for m in mistakes(derive(), "dL/dw")]
    [('missing_input', -4/5), ('flipped_sign', 8/5)]
    """
    d = derivation
    wanted = {q.key: q for q in quantities(d)}
    if key not in wanted:
        raise UnknownNameError(f"unknown quantity {key!r}; choose one of: {', '.join(wanted)}")
    quantity = wanted[key]
    problem = _Problem(d.neuron, d.samples)
    first = problem.values(d.parameters)
    m = len(d.samples)
    candidates: list[tuple[str, Expr]] = []

    def at_z(i):  # dL/dŷ evaluated at z instead of ŷ
        return _evaluate(problem.dell, {PREDICTION: first.z[i], TARGET: d.samples[i].y})

    if quantity.kind == "prediction" and d.activation.name != "identity":
        candidates.append(("z_for_prediction", first.z[quantity.sample - 1]))
    elif quantity.kind == "loss":
        if problem.scale != 1 and m > 1:
            candidates.append(("missing_mean", first.loss * m))
        if d.activation.name != "identity":
            candidates.append(("z_for_prediction", problem.scale * Add(*(
                _evaluate(problem.ell, {PREDICTION: z, TARGET: s.y})
                for z, s in zip(first.z, d.samples)))))
    elif quantity.kind == "gradient":
        j = d.parameter_symbols.index(quantity.symbol)
        local = [Rational(1)] * m if j >= len(d.neuron.weights) else [s.x[j] for s in d.samples]
        chains = list(zip(first.dloss, first.dactivation, local))
        if d.activation.name != "identity":
            candidates.append(("missing_activation_derivative",
                               problem.scale * Add(*(dl * dz for dl, _, dz in chains))))
        if j < len(d.neuron.weights):
            candidates.append(("missing_input",
                               problem.scale * Add(*(dl * da for dl, da, _ in chains))))
        if d.loss_function.name in ("squared", "mse"):
            candidates.append(("missing_factor_two", quantity.value / 2))
        candidates.append(("flipped_sign", -quantity.value))
        if problem.scale != 1 and m > 1:
            candidates.append(("missing_mean", quantity.value * m))
        if d.activation.name != "identity":
            candidates.append(("z_for_prediction", problem.scale * Add(*(
                at_z(i) * da * dz for i, (_, da, dz) in enumerate(chains)))))
    elif quantity.kind in ("update", "loss_after"):
        plus = tuple(p + d.learning_rate * g for p, g in zip(d.parameters, first.totals))
        no_rate = tuple(p - g for p, g in zip(d.parameters, first.totals))
        if quantity.kind == "update":
            j = d.parameter_symbols.index(quantity.symbol)
            candidates += [("plus_instead_of_minus", plus[j]),
                           ("missing_learning_rate", no_rate[j])]
        else:
            for name, parameters in (("plus_instead_of_minus", plus),
                                     ("missing_learning_rate", no_rate)):
                try:
                    candidates.append((name, problem.values(parameters).loss))
                except DomainError:
                    continue  # that wrong step leaves the loss undefined: no number to match
    return _differing(quantity.value, candidates, distinct)


def _differing(correct: Expr, candidates, distinct: bool) -> tuple[Mistake, ...]:
    """Keep the mistakes whose values differ from the correct one (and, when ``distinct``,
    from each other)."""
    kept: list[Mistake] = []
    for name, value in candidates:
        approx = complex(value.evalf(30))
        if approx.imag or not math.isfinite(approx.real):
            continue  # e.g. log of a negative number: no number a learner could write
        others = [correct] + ([k.value for k in kept] if distinct else [])
        if all(_sign(value - other) != 0 for other in others):
            kept.append(Mistake(name, MISTAKES[name], value))
    return tuple(kept)
