"""Derivative steps: ``f'(z)`` and ``∂L/∂ŷ`` derived rule by rule, as a lesson writes them.

A derivation is a chain of equalities.  It starts at the unevaluated derivative
``d/dz f(z)``; each :class:`Step` rewrites one derivative still to be taken by one rule
(sum, constant factor, product, quotient, power, chain with exp, log, tanh, σ, erf, by cases,
...) until none is left, then rewrites the result into the registry's forms
(``e^{-z}/(1 + e^{-z})² = σ(z)(1 - σ(z))``).  Every line is checked against
``sympy.diff`` before it is kept, so a step can never disagree with the derivative.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

import mpmath

from sympy import (Abs, Add, Derivative, DiracDelta, Eq, Expr, Heaviside, IndexedBase,
                   KroneckerDelta, Max, Min, Mul, Piecewise, Pow, Rational, Sum, Symbol, diff,
                   erf, exp, lambdify, latex, log, pi, preorder_traversal, sign, sympify, tanh)
from sympy.core.relational import Relational
from sympy.printing.precedence import PRECEDENCE

from .activations import LESSON_FUNCTIONS, Activation, explicit, sigmoid
from .losses import Loss
from ..errors import StepMismatch, StepsError
from .model import Given
from ..words import N_
from .working import unevaluated

__all__ = ["Step", "DerivativeSteps", "derivative_steps", "activation_steps", "loss_steps",
           "softmax_steps", "softmax_cross_entropy_steps", "Rate", "PartialRate", "RULES",
           "MAX_RULE_STEPS"]

# What each rule does; the templates word them (templates/*/derive_steps.*.j2).
RULES = ("constant", "identity", "sum", "constant factor", "product", "quotient",
         "reciprocal", "power", "exponential", "exp", "log", "tanh", "sigmoid", "erf", "abs",
         "cases", "step", "sympy", "simplify", "lesson form",
         # a softmax's Jacobian and cross-entropy through it (softmax_steps and
         # softmax_cross_entropy_steps)
         "own exponential", "sum of exponentials", "outputs", "loss term", "jacobian",
         "cancel", "pick", "targets")
# Rule-by-rule steps at most; a longer derivation finishes with one step by SymPy, so the
# time stays bounded for the largest formula the parser accepts.
MAX_RULE_STEPS = 30
# Digits every line is evaluated to, and how closely it must match sympy.diff.
CHECK_DIGITS = 50
CHECK_TOLERANCE = Rational(1, 10 ** 30)
# Points a line must be checked at (more are tried when some fall outside the domain).
CHECK_POINTS = 6
MIN_POINTS = 3
# Exact values the check puts in: both signs, small and large, inside (0, 1) for logs.
_POOL = tuple(Rational(p, q) for p, q in (
    (3, 7), (-5, 11), (13, 9), (-17, 6), (2, 13), (29, 8), (-1, 3), (5, 8), (-9, 4), (7, 17),
    (41, 5), (-23, 7), (11, 12), (-2, 9), (9, 10), (1, 6), (103, 4), (-61, 3), (3, 19),
    (1001, 3)))


class Rate(Derivative):
    r"""An unevaluated derivative still to be taken, printed as a lesson writes it all
    through one derivation: ``\frac{d}{dz} u`` (SymPy would switch to ``∂`` for a piece
    that holds a given number such as leaky ReLU's slope).

    >>> from sympy import Symbol, exp, latex
    >>> z = Symbol("z")
    >>> latex(Rate(exp(-z), z)), Rate(exp(-z), z).doit()
    ('\\frac{d}{d z} e^{- z}', -exp(-z))
    """

    symbol = "d"

    def _latex(self, printer):
        variable, = self.variables
        # A product or quotient in brackets: d/dz (u v), never d/dz u · v.
        # ... and a negative number too: d/dz (-1), never d/dz -1.
        inner = (printer._print(self.expr) if self.expr.is_Atom and not (
            self.expr.is_Number and self.expr.is_negative) else
                 printer.parenthesize(self.expr, PRECEDENCE["Mul"],
                                      is_neg=self.expr.could_extract_minus_sign()))
        return rf"\frac{{{self.symbol}}}{{{self.symbol} {printer._print(variable)}}} {inner}"


class PartialRate(Rate):
    r"""A partial derivative still to be taken, ``\frac{\partial}{\partial \hat{y}} u``: the
    loss's derivative holds the target ``y`` fixed, in every piece."""

    symbol = r"\partial"


@dataclass(frozen=True, slots=True)
class Step:
    """One equality of a derivation: ``part = result`` by ``rule``.

    ``part`` is the derivative this step takes (``d/dz e^{-z}``), or the whole
    expression when the step rewrites it (``simplify``, ``lesson form``); ``result``
    is what it becomes and ``after`` the whole derivative with it put in. ``chain``
    says the rule met an inner function ``u(z) ≠ z``, so the chain rule multiplies by
    ``du/dz``; ``uses`` are equalities the step relies on (``d/dz 1 = 0``,
    ``σ(z) = 1/(1 + e^{-z})``); ``inner`` is ``u`` when ``chain``.
    """

    rule: str
    part: Expr
    result: Expr
    before: Expr
    after: Expr
    chain: bool = False
    uses: tuple[Expr, ...] = ()
    inner: Expr | None = None

    @property
    def local(self) -> bool:
        """Whether the step rewrites one piece of the expression, not all of it."""
        return self.part != self.before


@dataclass(frozen=True, slots=True)
class DerivativeSteps:
    """The derivative of ``function`` with respect to ``variable``, step by step.

    ``subject`` is ``"activation"``, ``"loss"`` or ``""``; ``name`` and ``title`` the
    registry's.
    ``partial`` says the function holds other variables (the loss holds ``y``), so
    the derivative is written ``∂``.
    """

    function: Expr
    variable: Symbol
    steps: tuple[Step, ...]
    subject: str = ""
    name: str = ""
    title: str = ""
    partial: bool = False

    @property
    def start(self) -> Expr:
        """``d/dz f(z)``, unevaluated: the first line of the chain of equalities."""
        return (PartialRate if self.partial else Rate)(self.function, self.variable)

    @property
    def result(self) -> Expr:
        """The last line: the derivative in its final form."""
        return self.steps[-1].after if self.steps else self.start


def derivative_steps(expr: Expr, variable: Symbol, *, forms: tuple[Expr, ...] = (),
                     subject: str = "", name: str = "", title: str = "") -> DerivativeSteps:
    """Derive ``expr`` with respect to ``variable`` one rule at a time, each line checked
    equal to ``sympy.diff(expr, variable)``; then rewrite the result into each of
    ``forms`` in turn (the first a ``simplify`` step, later ones the ``lesson form``).

    >>> from sympy import Symbol, diff, exp
    >>> z = Symbol("z", real=True)
    >>> steps = derivative_steps(1 / (1 + exp(-z)), z)
    >>> [step.rule for step in steps.steps]
    ['reciprocal', 'sum', 'exp', 'constant factor']
    >>> steps.result.doit() == diff(1 / (1 + exp(-z)), z)
    True
    """
    try:
        return _derivative_steps(expr, variable, forms, subject, name, title)
    except RecursionError:  # SymPy's own diff recurses once per level of nesting
        raise StepsError("the formula is nested too deeply to derive step by step") from None


def _derivative_steps(expr, variable, forms, subject, name, title) -> DerivativeSteps:
    target = diff(_explicit(expr), variable)
    checker = _Checker(expr, target, variable)
    partial = bool(expr.free_symbols - expr.atoms(Given) - {variable})
    rate = PartialRate if partial else Rate
    current = rate(expr, variable)
    steps = []
    while (part := _next_derivative(current)) is not None:
        if len(steps) == MAX_RULE_STEPS:
            after = _tidy(current.doit())
            rule, inner, uses, part, result = "sympy", None, (), current, after
        else:
            rule, inner, uses, result = _apply(part.expr, variable, rate)
            after = _tidy(unevaluated(current, {part: result}))
        checker.check(after, rule)
        steps.append(Step(rule, part, result, current, after, inner is not None, uses, inner))
        current = after
    for number, form in enumerate(forms):
        if _printed(form) == _printed(current) or form.has(DiracDelta):
            continue  # nothing to rewrite; or SymPy's δ where the steps say "0 off the jump"
        checker.check(form, "form")
        named = set().union(*(form.atoms(f) - current.atoms(f) for f in LESSON_FUNCTIONS))
        uses = tuple(Eq(s, _explicit(s), evaluate=False) for s in sorted(named, key=str))
        steps.append(Step("simplify" if number == 0 else "lesson form", current, form,
                          current, form, False, uses))
        current = form
    return DerivativeSteps(expr, variable, tuple(steps), subject, name, title, partial)


def activation_steps(activation: Activation, variable: Symbol, slope=Rational(1, 100)
                     ) -> DerivativeSteps:
    """``f'(z)`` of a registry (or custom) activation, ending in the registry's derivative
    and its lesson form.

    >>> from sympy import Symbol
    >>> from symgrad.maths.activations import ACTIVATIONS
    >>> steps = activation_steps(ACTIVATIONS["softplus"], Symbol("z", real=True))
    >>> steps.steps[-1].rule, steps.result
    ('lesson form', sigmoid(z))
    """
    forms = [activation.derivative(variable, slope)]
    if activation.lesson_form is not None:
        forms.append(activation.lesson_form(variable))
    return derivative_steps(activation.function(variable, slope), variable, forms=tuple(forms),
                            subject="activation", name=activation.name,
                            title=activation.title)


def loss_steps(loss: Loss, prediction: Symbol, target: Symbol, delta=Rational(1)
               ) -> DerivativeSteps:
    """``∂L/∂ŷ`` of a registry loss, ending in the registry's derivative.

    >>> from sympy import Symbol
    >>> from symgrad.maths.losses import LOSSES
    >>> a, y = Symbol("a", real=True), Symbol("y", real=True)
    >>> loss_steps(LOSSES["squared"], a, y).result
    2*(a - y)
    """
    return derivative_steps(loss.function(prediction, target, delta), prediction,
                            forms=(loss.derivative(prediction, target, delta),),
                            subject="loss", name=loss.name, title=loss.title)


# --- a softmax layer: its Jacobian, and cross-entropy through it ---------------------------

# The softmax's outputs a, inputs z and targets y, indexed by output (j, k) and by the terms
# of a sum (m, i): a_j = e^{z_j} / Σ_m e^{z_m}.
_A, _Z, _Y = IndexedBase("a"), IndexedBase("z"), IndexedBase("y")
_J, _K, _M, _I = (Symbol(name, integer=True, positive=True) for name in "jkmi")


def _exponentials(width: int) -> Expr:
    """``Σ_{m=1}^{n} e^{z_m}``, the softmax's denominator over ``width`` outputs."""
    return Sum(exp(_Z[_M]), (_M, 1, width))


@lru_cache(maxsize=16)
def softmax_steps(width: int) -> DerivativeSteps:
    """``∂a_j/∂z_k`` of a softmax of ``width`` outputs, ``a_j = e^{z_j} / Σ_m e^{z_m}``: the
    quotient rule, then which ``z`` each exponential holds, to ``a_j(δ_jk - a_k)``. Every
    line is checked against ``sympy.diff`` (see _LayerChecker); remembered per width.

    >>> [step.rule for step in softmax_steps(3).steps]
    ['quotient', 'own exponential', 'sum of exponentials', 'lesson form']
    """
    total = _exponentials(width)
    own = exp(_Z[_J])
    function = _over(own, total)
    checker = _LayerChecker(width, function)
    current = PartialRate(function, _Z[_K])
    rate_own, rate_total = PartialRate(own, _Z[_K]), PartialRate(total, _Z[_K])
    quotient = _over(_plus(_times(total, rate_own), _minus(_times(own, rate_total))),
                     _power(total, 2))
    lines = [("quotient", current, quotient, ()),
             ("own exponential", rate_own, _times(KroneckerDelta(_J, _K), own), ()),
             ("sum of exponentials", rate_total, exp(_Z[_K]), ())]
    steps = []
    for rule, part, result, uses in lines:
        after = result if part == current else _tidy(unevaluated(current, {part: result}))
        steps.append(checker.checked(Step(rule, part, result, current, after, uses=uses)))
        current = after
    form = _times(_A[_J], _plus(KroneckerDelta(_J, _K), _minus(_A[_K])))
    steps.append(checker.checked(Step("lesson form", current, form, current, form,
                                      uses=(Eq(_A[_J], function, evaluate=False),))))
    return DerivativeSteps(function, _Z[_K], tuple(steps), "softmax", "softmax", N_("softmax"),
                           partial=True)


@lru_cache(maxsize=16)
def softmax_cross_entropy_steps(width: int) -> DerivativeSteps:
    """``∂L/∂z_k`` of categorical cross-entropy ``L = -Σ_i y_i log a_i`` through a softmax
    of ``width`` outputs: the chain rule over every output, then the softmax's Jacobian, to
    ``a_k - y_k`` (a sample's targets sum to 1). Every line is checked against
    ``sympy.diff`` (see _LayerChecker); remembered per width.

    >>> softmax_cross_entropy_steps(2).result
    a[k] - y[k]
    """
    loss = _minus(Sum(_times(_Y[_I], log(_A[_I])), (_I, 1, width)))
    checker = _LayerChecker(width, loss)
    current = PartialRate(loss, _Z[_K])
    by_output = PartialRate(loss, _A[_J])
    jacobian = PartialRate(_A[_J], _Z[_K])
    kept = _plus(KroneckerDelta(_J, _K), _minus(_A[_K]))
    targets = Sum(_Y[_J], (_J, 1, width))
    lines = [
        ("outputs", current, Sum(_times(by_output, jacobian), (_J, 1, width)), ()),
        ("loss term", by_output, _minus(_over(_Y[_J], _A[_J])), ()),
        ("jacobian", jacobian, _times(_A[_J], kept), ()),
        ("cancel", None, _minus(Sum(_times(_Y[_J], kept), (_J, 1, width))), ()),
        ("pick", None, _plus(_minus(_Y[_K]), _times(_A[_K], targets)), ()),
        ("targets", None, _plus(_A[_K], _minus(_Y[_K])), (Eq(targets, 1, evaluate=False),)),
    ]
    steps = []
    for rule, part, result, uses in lines:
        if part is None:  # the whole line rewritten
            part, after = current, result
        else:
            after = result if part == current else _tidy(unevaluated(current, {part: result}))
        steps.append(checker.checked(Step(rule, part, result, current, after, uses=uses)))
        current = after
    return DerivativeSteps(loss, _Z[_K], tuple(steps), "cancellation", "cross_entropy",
                           N_("categorical cross-entropy"), partial=True)


class _LayerChecker:
    """Checks a line of a softmax layer's derivation for outputs j and k of its width (the
    first two and the last, each with each),
    at exact points z (and targets y that sum to 1): derivatives by the outputs a are taken
    with a held as variables, then a is put in as the softmax of z and the rest is
    differentiated by SymPy; the line must equal sympy.diff of the start, a function of z."""

    def __init__(self, width: int, start: Expr):
        self.width = width
        self.start = start
        chooser = random.Random(width)
        self.points = [[chooser.choice(_POOL[:12]) for _ in range(width)] for _ in range(2)]
        # a distribution over the outputs: positive, summing to 1
        weights = [Rational(n) for n in range(1, width + 1)]
        self.targets = [w / sum(weights) for w in weights]
        self._expected = {}

    def _concrete(self, line: Expr, j: int, k: int) -> Expr:
        # k is never a sum's index; j is one only in lines where it is not free
        line = line.xreplace({_K: k} | ({_J: j} if _J in line.free_symbols else {}))
        line = line.replace(lambda e: isinstance(e, Derivative) and isinstance(
            e.variables[0], type(_A[1])) and e.variables[0].base == _A, lambda e: e.doit())
        total = Add(*(exp(_Z[m]) for m in range(1, self.width + 1)))
        line = line.replace(lambda e: getattr(e, "base", None) == _A and e.is_Indexed,
                            lambda e: exp(_Z[e.indices[0]]) / total)
        return line.doit()

    def _value(self, expr: Expr, point) -> Expr:
        values = {_Z[m]: v for m, v in enumerate(point, 1)}
        values |= {_Y[m]: v for m, v in enumerate(self.targets, 1)}
        return expr.xreplace(values).doit().evalf(CHECK_DIGITS)

    def checked(self, step: Step) -> Step:
        """``step``, once its line ``after`` holds at every point for the outputs j and k
        checked; else StepMismatch."""
        tolerance = Rational(1, 10 ** 30)
        # the first two outputs and the last: entries on and off the diagonal, at each end
        indices = sorted({1, 2, self.width})
        for j in indices:
            for k in indices:
                if (j, k) not in self._expected:
                    start = self._concrete(PartialRate(self.start, _Z[_K]), j, k)
                    self._expected[j, k] = [self._value(start, p) for p in self.points]
                line = self._concrete(step.after, j, k)
                for point, expected in zip(self.points, self._expected[j, k]):
                    if abs(self._value(line, point) - expected) > tolerance:
                        raise StepMismatch(f"the step by the {step.rule} rule gives "
                                           f"{step.after}, which is not the derivative at "
                                           f"j = {j}, k = {k}")
        return step


# --- the rules ---------------------------------------------------------------------------

def _times(*factors: Expr) -> Expr:
    """A product as a lesson writes it: numbers first (a sign pulled out of a factor too),
    no factor 1, nothing times 0, and a derivative still to be taken last, so that it
    cannot be read as acting on the factors after it."""
    number, rest, rates = Rational(1), [], []
    for factor in factors:
        if factor.is_Mul and factor.args[0].is_Number:
            number *= factor.args[0]
            factor = _times(*factor.args[1:])
        if factor.is_Number:
            number *= factor
        else:
            (rates if isinstance(factor, Rate) else rest).append(factor)
    rest += rates
    if number == 0 or not rest:
        return number
    if number != 1:
        rest.insert(0, number)
    return rest[0] if len(rest) == 1 else Mul(*rest, evaluate=False)


def _plus(*terms: Expr) -> Expr:
    """A sum as a lesson writes it: in order, no term 0, no brackets around a sum inside."""
    kept = [part for t in map(sympify, terms) for part in (t.args if t.is_Add else (t,))
            if part != 0]
    if not kept:
        return Rational(0)
    return kept[0] if len(kept) == 1 else Add(*kept, evaluate=False)


def _power(base: Expr, exponent: Expr) -> Expr:
    if exponent == 1:
        return base
    if exponent == 0:
        return Rational(1)
    return Pow(base, exponent, evaluate=False)


def _over(numerator: Expr, denominator: Expr) -> Expr:
    return _times(numerator, Pow(denominator, -1, evaluate=False))


def _minus(term: Expr) -> Expr:
    return Mul(-1, term, evaluate=False)


def _printed(expr: Expr) -> str:
    """How ``expr`` reads (two lines that read the same are one line)."""
    return latex(expr, order="none")


def _apply(g: Expr, z: Symbol, rate: type[Rate]
           ) -> tuple[str, Expr | None, tuple[Expr, ...], Expr]:
    """The rule for ``d/dz g``: (rule, the inner function u when the chain rule joins in,
    the equalities it uses, what the derivative becomes)."""
    d = lambda inner: rate(inner, z)  # noqa: E731

    def chained(rule, outer, inner):  # f(u) -> f'(u) · du/dz, or f'(z) when u = z
        if inner == z:
            return rule, None, (), outer
        return rule, inner, (), _times(outer, d(inner))

    if not g.has(z):
        return "constant", None, (), Rational(0)
    if g == z:
        return "identity", None, (), Rational(1)
    if g.is_Add:
        constants = [t for t in g.args if not t.has(z)]
        uses = (Eq(d(_plus(*constants)), 0, evaluate=False),) if constants else ()
        return "sum", None, uses, _plus(*(d(t) for t in g.args if t.has(z)))
    if g.is_Mul:
        constants = [f for f in g.args if not f.has(z)]
        varying = [f for f in g.args if f.has(z)]
        if constants:
            inner = _times(*varying) if len(varying) > 1 else varying[0]
            if inner == z:
                return "constant factor", None, (), _times(*constants)
            return "constant factor", None, (), _times(*constants, d(inner))
        below = [f for f in varying if f.is_Pow and f.exp.is_Number and f.exp.is_negative]
        above = [f for f in varying if f not in below]
        if below and above:
            u, v = _product(above), _product([_power(f.base, -f.exp) for f in below])
            return "quotient", None, (), _over(
                _plus(_times(d(u), v), _minus(_times(u, d(v)))), _power(v, 2))
        if below:  # only factors of a denominator: 1/v
            v = _product([_power(f.base, -f.exp) for f in below])
            return "reciprocal", None, (), _minus(_over(d(v), _power(v, 2)))
        u, v = varying[0], _product(varying[1:])
        return "product", None, (), _plus(_times(d(u), v), _times(u, d(v)))
    if g.is_Pow:
        base, n = g.args
        if not n.has(z):
            if n == -1:
                return "reciprocal", None, (), _minus(_over(d(base), _power(base, 2)))
            return chained("power", _times(n, _power(base, n - 1)), base)
        if not base.has(z):
            return chained("exponential", _times(g, log(base)), n)
        return "sympy", None, (), diff(g, z)
    if isinstance(g, exp):
        return chained("exp", g, g.args[0])
    if isinstance(g, log) and len(g.args) == 1:
        return chained("log", Pow(g.args[0], -1, evaluate=False), g.args[0])
    if isinstance(g, tanh):
        return chained("tanh", _plus(1, _minus(_power(g, 2))), g.args[0])
    if isinstance(g, sigmoid):
        return chained("sigmoid", _times(g, _plus(1, _minus(g))), g.args[0])
    if isinstance(g, erf):  # d/du erf(u) = 2/√π · e^{-u²}
        u = g.args[0]
        root_pi = Pow(pi, Rational(1, 2), evaluate=False)
        return chained("erf", _times(Rational(2), Pow(root_pi, -1, evaluate=False),
                                     exp(_minus(_power(u, 2)))), u)
    if isinstance(g, Abs):
        return chained("abs", sign(g.args[0]), g.args[0])
    if isinstance(g, (sign, Heaviside)):
        return "step", None, (), Rational(0)
    if isinstance(g, (Max, Min)):
        return "cases", None, (), _cases(g, z, d)
    if isinstance(g, Piecewise):
        return "cases", None, (), Piecewise(*((d(piece), condition)
                                               for piece, condition in g.args), evaluate=False)
    return "sympy", None, (), diff(g, z)


def _product(factors: list[Expr]) -> Expr:
    return factors[0] if len(factors) == 1 else Mul(*factors, evaluate=False)


def _cases(g: Max | Min, z: Symbol, d) -> Piecewise:
    """``d/dz max(u, v)``: ``du/dz`` where ``u > v``, else ``dv/dz`` (``min``: ``u < v``)."""
    args = sorted(g.args, key=lambda arg: not arg.has(z))  # a varying argument first
    first, rest = args[0], args[1:]
    other = rest[0] if len(rest) == 1 else g.func(*rest, evaluate=False)
    wins = first > other if isinstance(g, Max) else first < other
    return Piecewise((d(first), wins), (d(other), True), evaluate=False)


def _next_derivative(expr: Expr) -> Derivative | None:
    """The first derivative still to be taken, reading left to right."""
    for node in preorder_traversal(expr):
        if isinstance(node, Derivative):
            return node
    return None


def _tidy(expr: Expr) -> Expr:
    """Drop the 1s and 0s a rule leaves behind (``e^{-z} · 1``, ``0 + u``)."""
    if not expr.args or isinstance(expr, (Derivative, Given)):
        return expr
    args = tuple(_tidy(arg) for arg in expr.args)
    if expr.is_Mul:  # with no derivative left in them, one product: 2/√π · e^{-u²} · 1/√2
        return _times(*(part for arg in args for part in (
            arg.args if arg.is_Mul and not arg.has(Rate) else (arg,))))
    if expr.is_Add:
        return _plus(*args)
    if expr.is_Pow:
        return _power(*args)
    if args == expr.args:
        return expr
    try:
        return expr.func(*args, evaluate=False)
    except TypeError:  # a piecewise branch takes no evaluate option
        return expr.func(*args)


# --- the check ---------------------------------------------------------------------------

def _explicit(expr: Expr) -> Expr:
    """σ(u), Φ(u) and φ(u) written out through exp and erf, which SymPy can evaluate."""
    return explicit(expr)


def _kinks(expr: Expr) -> list[Expr]:
    """Expressions that are 0 exactly where a piece of ``expr`` has a kink or a jump."""
    found = []
    for node in preorder_traversal(expr):
        if isinstance(node, (Abs, sign, Heaviside)):
            found.append(node.args[0])
        elif isinstance(node, (Max, Min)):
            found += [a - b for a in node.args for b in node.args if a is not b]
        elif isinstance(node, Relational):
            found.append(node.lhs - node.rhs)
    return found


class _Checker:
    """Evaluates lines of a derivation at exact points (as 50-digit mpmath numbers, which
    is fast even where SymPy's exact forms would grow, e.g. log(log(3/7)))."""

    def __init__(self, expr: Expr, target: Expr, variable: Symbol):
        self.symbols = sorted((expr.free_symbols | {variable}) - expr.atoms(Given), key=str)
        self.givens = {g: g.value for g in expr.atoms(Given)}
        self.target = target
        self._expected = None
        self._points = None
        self._kinks = [k.xreplace(self.givens) for k in _kinks(expr) + _kinks(target)]

    def values(self, expr: Expr, points: list[tuple]) -> list:
        """``expr`` at each point: an mpmath real, or None where it is not a finite real."""
        expr = _explicit(expr).xreplace(self.givens)
        try:
            function = lambdify(self.symbols, expr, modules=[_MPMATH_EXTRA, "mpmath"])
        except (NameError, TypeError, SyntaxError, KeyError):  # pragma: no cover
            function = None
        found = []
        with mpmath.workdps(CHECK_DIGITS):
            for point in points:
                numbers = [mpmath.mpf(v.p) / v.q for v in point]
                try:
                    value = (function(*numbers) if function is not None else complex(
                        expr.xreplace(dict(zip(self.symbols, point))).evalf(CHECK_DIGITS)))
                    value = mpmath.mpmathify(value)
                except (ZeroDivisionError, ValueError, TypeError, OverflowError, NameError):
                    value = None
                if isinstance(value, mpmath.mpc):
                    value = value.real if value.imag == 0 else None
                found.append(value if value is not None and mpmath.isfinite(value) else None)
        return found

    @property
    def points(self) -> list[tuple]:
        """Up to CHECK_POINTS exact points where the derivative is a finite real number,
        away from every kink (chosen once, the same every run)."""
        if self._points is None:
            chooser = random.Random(12)
            candidates = [tuple(chooser.choice(_POOL) for _ in self.symbols)
                          for _ in range(2 * len(_POOL))]
            away = [p for p in candidates if all(
                value not in (None, 0) for k in self._kinks for value in self.values(k, [p]))]
            expected = self.values(self.target, away)
            kept = [(p, e) for p, e in zip(away, expected) if e is not None][:CHECK_POINTS]
            self._points = [p for p, _ in kept]
            self._expected = [e for _, e in kept]
        return self._points

    def check(self, line: Expr, rule: str) -> None:
        """Raise StepMismatch unless ``line`` (its derivatives taken) equals the derivative."""
        value = _explicit(line).doit()
        if value == self.target:
            return
        points = self.points
        if len(points) < MIN_POINTS:
            raise StepsError(f"cannot check the steps of the derivative {self.target}: it is a "
                             f"finite real number at only {len(points)} of the points tried; "
                             "symgrad shows no step it has not checked")
        tolerance = mpmath.mpf(CHECK_TOLERANCE.p) / CHECK_TOLERANCE.q
        for point, expected, found in zip(points, self._expected, self.values(value, points)):
            if found is None or abs(found - expected) > tolerance * max(1, abs(expected)):
                raise StepMismatch(f"the step by the {rule} rule gives {line}, which is not "
                                   f"{self.target} at {dict(zip(self.symbols, point))}")


# SymPy's names that mpmath lacks: away from its kink, a Dirac delta is 0.
_MPMATH_EXTRA = {"DiracDelta": lambda x, *order: 0 if x != 0 else mpmath.inf}
