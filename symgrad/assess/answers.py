"""What each asked number of a problem accepts, chosen so that marking cannot be gamed.

An :class:`Answer` asks for a value to a stated number of decimal places and accepts
anything within half a unit of the last place: every correctly rounded answer, and
nothing else. The places are chosen so that the accepted interval holds the correct
value and keeps out the starting value (``w`` for ``w_new``: the update not done) and
the value of every mistake :func:`symgrad.diagnose` knows, with room for each mistake's
own interval; a problem where no few places do that is redrawn. :func:`self_test` checks
each written answer the way a marker would, before a sheet is written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from sympy import Expr, Rational

from ..maths.model import DIGITS_ERROR, closer_by_digits, digits_of, numeric
from ..maths.quantities import Mistake, Quantity, mistakes
from ..maths.records import Derivation

__all__ = ["Answer", "SelfTest", "answer", "answers", "self_test", "fixed", "MORE_PLACES"]

# At most this many decimal places beyond the sheet's significant digits, to keep the
# starting value and the mistakes out of the accepted interval; past it, a redraw.
MORE_PLACES = 2


@dataclass(frozen=True, slots=True)
class Answer:
    """An asked number: ``quantity``, asked to ``places`` decimal places and accepted within
    ``tolerance`` (half a unit of the last place). ``start`` is the value a learner who
    skipped the work would give (the parameter before its update, the loss before the
    step, ``0`` for a gradient), ``mistakes`` the values predictable mistakes give; none of
    them is accepted."""

    quantity: Quantity
    places: int
    tolerance: Rational
    start: Expr | None
    mistakes: tuple[Mistake, ...]
    # The model answer as a learner writes it: the value to ``places`` places.
    rounded: str = field(init=False)
    # Whether ``rounded`` is the exact value (nothing was rounded away).
    is_exact: bool = field(init=False)

    def __post_init__(self):
        # Worked out once: keys, LMS exports and the self-test read them many times.
        rounded = fixed(self.quantity.value, self.places)
        object.__setattr__(self, "rounded", rounded)
        object.__setattr__(self, "is_exact", Fraction(rounded) == _exact(self.quantity.value))

    def accepts(self, value) -> bool:
        """Whether ``value`` (a number or its text) lies within the tolerance."""
        return self.near(value, self.quantity.value)

    def near(self, value, other, room: int = 1) -> bool:
        """Whether ``value`` lies within the tolerance (``room`` times it) of ``other`` (a
        value recomputed from a learner's own earlier answers, say)."""
        return _within(value, other, room * self.tolerance)

    def gives(self, value) -> tuple[Mistake, ...]:
        """The mistakes whose own interval (the same tolerance) holds ``value``."""
        return tuple(m for m in self.mistakes if self.near(value, m.value))


@dataclass(frozen=True, slots=True)
class SelfTest:
    """The result of marking a problem's own answers: ``checks`` made, ``failures`` (one
    line each; empty when it passed)."""

    checks: int
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


def answers(derivation: Derivation, asked: tuple[Quantity, ...],
            digits: int) -> tuple[Answer, ...] | None:
    """The :class:`Answer` of each asked quantity, or None when some quantity cannot keep
    its starting value and mistakes out of its interval within ``MORE_PLACES`` more
    places than ``digits`` significant digits give (the problem is then redrawn).

    >>> from symgrad.maths.derive import derive
    >>> from symgrad.maths.quantities import quantities
    >>> d = derive()
    >>> [(a.quantity.key, a.rounded, str(a.tolerance)) for a in answers(d, quantities(d)[2:4], 4)]
    [('dL/dw', '-1.600', '1/2000'), ('dL/db', '-0.8000', '1/20000')]
    """
    found = []
    for quantity in asked:
        start = _start(derivation, quantity)
        known = mistakes(derivation, quantity.key, distinct=False)
        # Room 2: neither the start nor a mistake, rounded as asked, may fall in our interval
        # (a mistake's own interval must not touch ours either).
        excluded = [(start, 2)] if start is not None else []
        excluded += [(m.value, 2) for m in known]
        first = _places(quantity.value, digits)
        for places in range(first, first + MORE_PLACES + 1):
            tolerance = Rational(1, 2 * 10 ** places)
            if not any(_within(value, quantity.value, room * tolerance)
                       for value, room in excluded) and _rounds_clearly(quantity.value, places):
                found.append(Answer(quantity, places, tolerance, start, known))
                break
        else:
            return None
    return tuple(found)


def answer(derivation: Derivation, quantity: Quantity, places: int) -> Answer:
    """The :class:`Answer` of ``quantity`` asked to ``places`` decimal places, as a sheet
    that chose those places asked it (to mark answers to a sheet read back from JSON).

    >>> from symgrad.maths.derive import derive
    >>> from symgrad.maths.quantities import quantities
    >>> a = answer(derive(), quantities(derive())[2], 3)
    >>> a.rounded, a.accepts("-1.6004"), [m.name for m in a.gives("-0.8")]
    ('-1.600', True, ['missing_input', 'missing_factor_two'])
    """
    return Answer(quantity, places, Rational(1, 2 * 10 ** places), _start(derivation, quantity),
                  mistakes(derivation, quantity.key, distinct=False))


def self_test(problem_answers: tuple[Answer, ...]) -> SelfTest:
    """Mark a problem's answers as a marker would: the model answer (rounded as asked) is
    accepted, the starting value is not, and each mistake's value is refused and traced
    to that mistake."""
    failures, checks = [], 0
    for a in problem_answers:
        key = a.quantity.key
        checks += 1
        if not a.accepts(a.rounded):
            failures.append(f"{key}: the model answer {a.rounded} is refused")
        if a.start is not None:
            checks += 1
            if a.accepts(a.start) or a.accepts(fixed(a.start, a.places)):
                failures.append(f"{key}: the starting value is accepted")
        for m in a.mistakes:
            checks += 1
            if a.accepts(m.value) or m not in a.gives(fixed(m.value, a.places)):
                failures.append(f"{key}: the mistake {m.name} is not told apart")
    return SelfTest(checks, tuple(failures))


def _start(d: Derivation, quantity: Quantity) -> Expr | None:
    """What a learner who did not compute ``quantity`` could write and hope to pass."""
    if quantity.kind == "update":
        return d.parameters[d.parameter_symbols.index(quantity.symbol)]
    if quantity.kind == "loss_after":
        return d.loss.value
    if quantity.kind in ("gradient", "delta", "objective_gradient",
                         "state") and quantity.value != 0:
        return Rational(0)  # an optimizer's state starts at 0
    return None


def _rounds_clearly(value: Expr, places: int) -> bool:
    """Whether a value that is no short decimal stays at least ``10^-(places + 3)`` from
    the midpoint between two roundings to ``places`` places: an LMS reads it rounded to
    three more places (``Sheet.answer_text``), which must not land on that midpoint and
    accept the wrong rounding. (Adam's step lands a parameter on such a midpoint but
    for a few ε.)

    >>> _rounds_clearly(Rational(1, 3), 2), _rounds_clearly(Rational(1, 8) + Rational(1, 3 * 10**9), 2)
    (True, False)
    """
    if value.is_Rational and _terminates(value):
        return True  # read exactly: the LMS interval is the sheet's
    found = digits_of(value)
    if found is not None:  # 40 digits decide unless the gap is within their error of 1/1000
        scaled = abs(found) * 10 ** places  # |value|: midpoints are symmetric
        gap = abs(scaled - math.floor(scaled) - _HALF)
        if abs(gap - _CLEAR) > (scaled + 1) * DIGITS_ERROR:
            return gap >= _CLEAR
    scaled = _distance(value * 10 ** places, Rational(0))
    midpoint = math.floor(scaled) + Rational(1, 2)
    return abs(scaled - midpoint) >= Rational(1, 1000)


_HALF, _CLEAR = Fraction(1, 2), Fraction(1, 1000)


def _terminates(value: Rational) -> bool:
    q = value.q
    for prime in (2, 5):
        while q % prime == 0:
            q //= prime
    return q == 1


def _places(value: Expr, digits: int) -> int:
    """Decimal places that show ``digits`` significant digits of ``value`` (at least 0)."""
    found = digits_of(value)
    size = abs(float(numeric(value, 20) if found is None else found))
    if size == 0:
        return digits - 1
    return max(0, digits - 1 - math.floor(math.log10(size)))


def fixed(value, places: int) -> str:
    """``value`` rounded to ``places`` decimal places, trailing zeros kept, as a learner
    writes it.

    >>> fixed(Rational(2, 3), 4), fixed(Rational(-1, 8), 2), fixed(Rational(5), 0)
    ('0.6667', '-0.12', '5')
    """
    if isinstance(value, str):
        exact = Fraction(value)
    elif getattr(value, "is_Rational", False):
        exact = Fraction(int(value.p), int(value.q))
    else:
        exact = _rounding_digits(value, places)
    scaled = exact * 10 ** places
    whole = math.floor(scaled + Fraction(1, 2))
    sign = "-" if whole < 0 else ""
    digits = str(abs(whole)).rjust(places + 1, "0")
    return sign + (digits[:-places] + "." + digits[-places:] if places else digits)


def _rounding_digits(value: Expr, places: int) -> Fraction:
    """Enough digits of an irrational value to round it to ``places`` places: its 40
    cached digits, unless they lie within their error of a rounding midpoint, then
    ``places + 20`` significant digits."""
    found = digits_of(value)
    if found is not None:
        scaled = found * 10 ** places
        if abs(scaled - math.floor(scaled) - _HALF) > (abs(scaled) + 1) * DIGITS_ERROR:
            return found
    return Fraction(str(numeric(value, places + 20)))


def _within(value, other, bound: Rational) -> bool:
    """Whether |value − other| ≤ bound: in fractions when both are rational (a learner's
    text is), else from 40 digits of each when the distance is clearly on one side of the
    bound (it almost always is), else from :func:`_distance`. SymPy's exact difference of
    two values that are not rationals costs a millisecond, and a problem's self-test
    compares dozens."""
    first, second = _exact(value), _exact(other)
    limit = Fraction(int(bound.p), int(bound.q))
    if first is not None and second is not None:
        return abs(first - second) <= limit
    value, other = (v if isinstance(v, Expr) else Rational(v) for v in (value, other))
    first = digits_of(value) if first is None else first
    second = digits_of(other) if second is None else second
    if first is not None and second is not None:
        closer = closer_by_digits(first, second, limit)
        if closer is not None:
            return closer
    return bool(_distance(value, other) <= bound)


def _exact(value) -> Fraction | None:
    """A rational value (or a number's text) as a fraction; None for any other value."""
    if isinstance(value, Expr):
        return Fraction(int(value.p), int(value.q)) if value.is_Rational else None
    try:
        return Fraction(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _distance(value, other: Expr):
    """|value − other| exactly enough to compare with a tolerance (text is a decimal)."""
    if isinstance(value, str):
        value = Rational(value)
    difference = value - other
    return abs(difference) if difference.is_Rational else abs(
        Rational(str(numeric(difference, 30))))
