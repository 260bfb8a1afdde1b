"""How a line of working is written: ``symbolic = substituted = value``.

These helpers turn a formula and the numbers that go into it into a
:class:`Formula`, keeping every number visible in its place (``2(1.1 - 1.5)``),
picking the case of a piecewise formula that applies, and evaluating exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sympy import (Abs, Add, Expr, GreaterThan, Integer, LessThan, Max, Min, Mul, Not, Piecewise,
                   Rational, S, StrictGreaterThan, StrictLessThan, Symbol)
from sympy import sign as sign_function

from .model import DIGITS_ERROR, PRECISION, Defined, Given, digits_of, numeric, sign_by_bits

__all__ = ["Formula", "evaluate", "combined", "holds", "show", "change", "unevaluated",
           "working", "reduce", "product", "descent", "numbers_in", "approx", "sign"]


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


def approx(value: Expr, digits: int = 30) -> Expr:
    """A number to compare with: a rational as it is, anything else to ``digits`` digits."""
    return value if value.is_Rational else numeric(value, digits)


def sign(value: Expr) -> int:
    """-1, 0 or 1: exact for rationals, else from enough digits (numeric works out the
    digits of a tiny value, and gives 0 for a zero).

    >>> from sympy import Rational, exp
    >>> sign(Rational(-1, 3)), sign(exp(-300)), sign(exp(1) - exp(1))
    (-1, 1, 0)
    """
    found = _real_sign(value)
    if found is None:
        raise TypeError(f"{value} is not a real number: it has no sign")
    return found


def change(before: Expr, after: Expr) -> int:
    """The sign of ``after - before``: from 40 digits of each when they are clearly apart
    (SymPy's exact difference of two long values costs milliseconds), else exactly.

    >>> from sympy import exp
    >>> change(Rational(1, 2), 1 / (1 + exp(-1))), change(exp(1), exp(1))
    (1, 0)
    """
    if before.is_Rational and after.is_Rational:
        return sign(after - before)
    first, second = digits_of(before), digits_of(after)
    if first is not None and second is not None:
        gap = second - first
        if abs(gap) > (abs(first) + abs(second)) * DIGITS_ERROR:
            return (gap > 0) - (gap < 0)
    # Each side as it is: SymPy's difference of 1 - tanh(20000) and 1 - tanh(19999) cancels
    # the 1s and leaves tanh(20000) - tanh(19999), which no bits tell apart; and SymPy's
    # evaluation of a GELU far in its tail asks evalf for erf at thousands of digits.
    found = sign_by_bits(Add(after, Mul(S.NegativeOne, before, evaluate=False),
                             evaluate=False))
    if found is not None:
        return found
    # A part the evaluator does not know: written alike (a loss after a step that left it
    # as it was, in its shallow form), SymPy's difference is exactly 0.
    return sign(_written_evaluated(after) - _written_evaluated(before))


def _written_evaluated(value: Expr) -> Expr:
    """``value`` rebuilt with SymPy's evaluation at every node, as ``evaluate`` without
    ``shallow`` would have written it."""
    if not value.args or isinstance(value, Defined):
        return value
    return value.func(*(_written_evaluated(arg) for arg in value.args))


def evaluate(formula: Expr, values: dict, *, shallow: bool = False) -> Expr:
    """The exact value of a display formula, with the given numbers put in; a piecewise
    formula takes the case that holds. With ``shallow``, an irrational number is put in
    as it is, into the formula SymPy evaluated once per sign of that number (as a named
    value is): the same value, without SymPy's evaluation of the function at it, which
    decides signs by evalf and costs milliseconds a number."""
    if shallow:
        odd = {symbol: value for symbol, value in values.items()
               if not value.is_Rational and not isinstance(value, Defined)
               and _is_number(value)}
        if odd:
            return _shallow(formula, values, odd)
    if len(values) == 1 and not isinstance(formula, Piecewise):
        (symbol, value), = values.items()
        if isinstance(value, Defined):
            # SymPy's evaluation of f(z) at a named value depends only on its sign, so it
            # is done once per formula and sign; the name is then put in unevaluated.
            sign = (value.is_positive, value.is_negative)
            at, placeholder = _evaluated(formula, symbol, sign)
            return unevaluated(at, {placeholder: value})
    return _evaluate(formula, values)


@lru_cache(maxsize=256)
def _evaluated(formula: Expr, symbol: Symbol, sign: tuple) -> tuple[Expr, Defined]:
    """``formula`` evaluated at a stand-in named value of the given sign, and the stand-in."""
    placeholder = Defined.stand_in(positive=sign[0], negative=sign[1])
    return _evaluate(formula, {symbol: placeholder}), placeholder


def _shallow(formula: Expr, values: dict, odd: dict) -> Expr:
    """:func:`evaluate` with the irrational numbers ``odd`` (of ``values``) put in as they
    are, into the formula evaluated at stand-ins of their signs."""
    if isinstance(formula, Piecewise):
        formula = next(piece for piece, test in formula.args if holds(test, values))
    signs = tuple((symbol, _real_sign(value)) for symbol, value in odd.items())
    if any(not found for _, found in signs):
        # A zero written long, or a number that is not real (a custom √z at z < 0):
        # SymPy's own evaluation.
        return _evaluate(formula, values)
    rest = tuple((symbol, value) for symbol, value in values.items() if symbol not in odd)
    at, stand_ins = _evaluated_at(formula, rest, signs)
    # Sums evaluated, which collects their numbers: (-1 + e^(-31999)) + 1 is e^(-31999),
    # not a sum whose digits cancel away.
    value = unevaluated(at, {stand_ins[symbol]: number for symbol, number in odd.items()},
                        sums=True)
    if value.has(Abs):  # |ŷ − y|, left by SymPy at the stand-in: ±(ŷ − y) by its digits
        value = value.replace(lambda e: isinstance(e, Abs) and _decided(e.args[0]),
                              lambda e: e.args[0] if sign(e.args[0]) > 0 else -e.args[0])
    return _signs_decided(value)


def _real_sign(value: Expr) -> int | None:
    """-1, 0 or 1 by 30 digits; None for a number that is not real."""
    number = approx(value, 30)
    return (int(bool(number > 0)) - int(bool(number < 0))) if number.is_Number else None


@lru_cache(maxsize=1024)
def _evaluated_at(formula: Expr, rest: tuple, signs: tuple) -> tuple[Expr, dict]:
    """``formula`` evaluated at the numbers ``rest`` and at stand-in named values of the
    given signs, and those stand-ins by symbol."""
    stand_ins = {symbol: Defined.stand_in(positive=found > 0, negative=found < 0)
                 for symbol, found in signs}
    return _evaluate(formula, dict(rest) | stand_ins), stand_ins


# A sign of a named value's expression, decided by its digits when it is at least this far
# from 0 (SymPy cannot tell the sign of a named value minus a target, a − y).
SIGN_DECIDED = Rational(1, 10**20)


def _evaluate(formula: Expr, values: dict) -> Expr:
    if isinstance(formula, Piecewise) and all(_is_number(v) for v in values.values()):
        formula = next(piece for piece, test in formula.args if holds(test, values))
    if isinstance(formula, (Max, Min)) and all(v.is_Rational for v in values.values()):
        # max(0, z) of a rational z: Python's comparison of two rationals picks the same
        # number as SymPy's Max, which first searches its arguments for relations.
        args = [_evaluate(arg, values) for arg in formula.args]
        if all(arg.is_Rational for arg in args):
            return (max if isinstance(formula, Max) else min)(args)
    values = dict(values)
    values.update((g, g.value) for g in formula.atoms(Given))
    return _signs_decided(formula.xreplace(values))


def _signs_decided(value: Expr) -> Expr:
    """MAE's and Huber's ``sign(ŷ − y)`` at a named ŷ as ±1, exactly."""
    if value.has(sign_function):
        value = value.replace(lambda e: isinstance(e, sign_function) and _decided(e.args[0]),
                              lambda e: Integer(sign(e.args[0])))
    return value


def _decided(value: Expr) -> bool:
    """Whether ``value`` is a number (named values with their digits) clearly not 0."""
    return (_is_number(value) and all(d.approx is not None for d in value.atoms(Defined))
            and bool(abs(numeric(value, 30)) > SIGN_DECIDED))


def _is_number(value: Expr) -> bool:
    """A number, possibly written with named exact values (not a formula of symbols)."""
    return not (value.free_symbols - value.atoms(Defined))


def holds(condition, values: dict) -> bool:
    """Whether a piecewise condition holds at ``values``; decided numerically when SymPy
    cannot tell (a named exact value inside |ŷ - y| ≤ δ, say)."""
    if condition == True:  # noqa: E712 - SymPy's true
        return True
    if len(values) == 1 and type(condition) in _ORDER and condition.rhs == 0 and (
            condition.lhs in values and values[condition.lhs].is_Rational):
        # z > 0 at a rational z, the common case: its sign decides, without building
        # SymPy's relational.
        return _ORDER[type(condition)](values[condition.lhs].p)
    if type(condition) in _ORDER and not all(v.is_Rational for v in values.values()):
        decided = _by_digits(condition, values)
        if decided is not None:
            return decided
    filled = condition.xreplace(dict(values) | {g: g.value for g in condition.atoms(Given)})
    if filled in (True, False):
        return bool(filled)
    return bool(type(filled)(numeric(filled.lhs, PRECISION), numeric(filled.rhs, PRECISION)))


# A relation ``x ? 0`` -> whether it holds for a number of this sign (numerator).
_ORDER = {StrictGreaterThan: lambda p: p > 0, GreaterThan: lambda p: p >= 0,
          StrictLessThan: lambda p: p < 0, LessThan: lambda p: p <= 0}


def _by_digits(condition, values: dict) -> bool | None:
    """Whether ``lhs ? rhs`` holds at exact numbers (no named values), from the digits of
    lhs − rhs with the numbers put in unevaluated: exact for a nonzero difference, whose
    digits are all correct, and far cheaper than SymPy's evaluated relation (|ŷ − y| ≤ δ at
    σ(z) builds and simplifies the Abs). None when the difference is 0 or not a number."""
    values = dict(values) | {g: g.value for g in condition.atoms(Given)}
    difference = unevaluated(Add(condition.lhs, -condition.rhs, evaluate=False), values)
    if not difference.is_number or difference.has(Defined):
        return None
    number = numeric(difference, 30)
    if not number.is_Number or number == 0:
        return None
    return _ORDER[type(condition)](1 if number > 0 else -1)


def combined(scale: Expr, terms, shallow: bool = False) -> Expr:
    """``scale · (t_1 + … + t_n)``; with ``shallow`` and a term that is not rational, kept
    as written (SymPy's sum of long irrational terms collects them, deciding signs by
    evalf, which costs milliseconds; the value is the same)."""
    terms = tuple(terms)
    if not shallow or all(term.is_Rational for term in terms):
        return scale * Add(*terms)
    terms = tuple(term for term in terms if term != 0)
    total = terms[0] if len(terms) == 1 else Add(*terms, evaluate=False)
    return total if scale == 1 else Mul(scale, total, evaluate=False)


def show(formula: Expr, values: dict) -> Expr:
    """The formula with each number visible in its place (nothing folded)."""
    return unevaluated(formula, {symbol: Given(value) for symbol, value in values.items()})


def unevaluated(expr: Expr, replacements: dict, *, sums: bool = False) -> Expr:
    """``expr.xreplace(replacements)`` rebuilding each changed node unevaluated, so that
    ``2(a - y)`` stays ``2(a - y)`` when ``a`` becomes ``a^{(2)}_1``; with ``sums``, sums
    are rebuilt evaluated (functions, powers and products still not: SymPy's evaluation
    of them at long numbers decides signs by evalf).

    (SymPy's ``evaluate(False)`` context does the same but clears SymPy's cache
    each time it is entered, which costs more than the whole substitution.)
    """
    if expr in replacements:
        return replacements[expr]
    if not expr.args:
        return expr
    args = tuple(unevaluated(arg, replacements, sums=sums) for arg in expr.args)
    if args == expr.args:
        return expr
    if sums and isinstance(expr, Add):
        return Add(*args)
    try:
        return expr.func(*args, evaluate=False)
    except TypeError:  # a node without an evaluate option, such as a piecewise branch
        return expr.func(*args)


def working(formula: Expr, values: dict, value: Expr, lesson_form: Expr | None = None,
            shown: dict | None = None) -> Formula:
    """A :class:`Formula` for ``formula`` at ``values``; a piecewise formula shows
    the case that applies and the condition that picks it."""
    shown = values if shown is None else shown
    condition = None
    applied = formula
    if isinstance(formula, Piecewise):
        earlier = []
        for piece, test in formula.args:
            if holds(test, values):
                condition = test if test != True else Not(earlier[-1])  # noqa: E712
                applied = piece
                break
            earlier.append(test)
        condition = show(condition, shown)
    if lesson_form == applied:
        lesson_form = None  # the same formula twice says nothing: 1 - tanh²(z) = 1 - tanh²(z)
    target = lesson_form if lesson_form is not None else applied
    # A case that is one symbol (leaky ReLU's z for z > 0) would put in the number the line
    # ends with: "= 1.1 = 1.1".
    substituted = show(target, shown) if (target.free_symbols - set(target.atoms(Given))
                                          and not target.is_Symbol) else None
    return Formula(formula, substituted, value, lesson_form, condition)


def reduce(scale, names: tuple[Symbol, ...] | None, terms: tuple[Expr, ...],
           value: Expr) -> Formula:
    """``(1/m)(L^{(1)} + ... + L^{(m)})`` (or the plain sum) of the symbols ``names``, with
    each term's number put in; without ``names`` only the numbers are shown."""
    symbols = names or tuple(Symbol(f"term_{i}") for i in range(1, len(terms) + 1))
    total = Add(*symbols, evaluate=False)
    symbolic = Mul(scale, total, evaluate=False) if scale != 1 else total
    line = working(symbolic, dict(zip(symbols, terms)), value)
    return line if names else Formula(None, line.substituted, value)


def product(*factors: Expr) -> Expr:
    """``a · b · c``, kept as written."""
    return Mul(*factors, evaluate=False)


def descent(parameter: Expr, rate: Expr, gradient: Expr) -> Expr:
    """``p - α·g``, kept in that order."""
    return Add(parameter, Mul(-1, Mul(rate, gradient, evaluate=False), evaluate=False),
               evaluate=False)


def numbers_in(build, numbers: tuple[Expr, ...]) -> Expr:
    """``build(*numbers)`` with every number visible, e.g. ``-0.8 · 1 · 2``; ``build``
    makes an unevaluated expression."""
    return build(*(Given(n) for n in numbers))
