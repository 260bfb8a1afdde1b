"""Symbolic checks: a safe expression parser, answer checking, mistake diagnosis and a
gradient check.

Text from users is never evaluated: :func:`parse` reads it with Python's ``ast``
module, accepts only a whitelist of node types, names and functions, and builds the
SymPy objects itself.
"""

from __future__ import annotations

import ast
import math
import multiprocessing
import operator
import os
import random
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations, islice, pairwise, product

import mpmath
from sympy import (Abs, And, E, Expr, GreaterThan, Heaviside, I, LessThan, Max, Min, Not, Or,
                   Piecewise, Poly, Rational, StrictGreaterThan, StrictLessThan, Symbol, diff, erf,
                   exp, false, log, nan, oo, pi, preorder_traversal, simplify, sqrt, tanh,
                   true, zoo)
from sympy.core.relational import Relational
from sympy.polys.polyerrors import BasePolynomialError

from ..maths.derive import composed_loss, derive, step_inputs
from ..maths.quantities import Mistake, mistakes, quantities
from ..maths.records import Derivation
from ..errors import ParseError, SymgradError
from ..maths.model import (PRECISION, Defined, Given, Network, Neuron, Optimizer, Sample,
                           absolute_tolerance, decimal, exact, numeric, seed_samples)

__all__ = ["parse", "check", "CheckResult", "diagnose", "Diagnosis", "gradcheck", "GradCheck",
           "GradientMismatch", "FUNCTIONS", "NEURON_SYMBOLS", "MAX_LENGTH", "ParseError"]

# Longest text parse() reads, and the most AST nodes it builds from.
MAX_LENGTH = 500
MAX_NODES = 200
# Largest literal exponent, and how deep exponentials may nest (exp(exp(z)) is 2).
MAX_EXPONENT = 100
MAX_TOWER = 2
# exp and sigmoid nested at most this deep in all (sigmoid(sigmoid(...))): SymPy's evalf of
# such a nest, which its sign checks ask for, doubles in time with each level (6: 0.2 s;
# 12: 18 s).
MAX_EXPONENTIAL_NESTING = 6
# Longest integer literal, in digits.
MAX_DIGITS = 30
# Largest size a formula may reach, in decimal digits, estimated before anything is built:
# the digits of every exact number (numerator and denominator) and the magnitude of every
# power, product and exp, with each name counted as a number up to 10 (one digit).
MAX_SIZE = 1000
# Seconds and bytes of memory simplify() may spend, in a worker process, proving two
# formulas equal; the worker is killed when it runs over.
SIMPLIFY_SECONDS = 2.0
SIMPLIFY_MEMORY = 512 * 2**20
# Formulas are compared at random points, to this many significant digits; fewer valid
# points than MIN_POINTS is no comparison at all.
WORK_DIGITS = 30
POINTS = 12
MIN_POINTS = 8
# Kinks (where a Heaviside, abs, max, min or piecewise case switches) looked for in each
# name, at most; a kink's place is a root of a polynomial of at most this degree.
MAX_KINKS = 24
MAX_KINK_DEGREE = 6
# The most polynomials one check solves for kinks, and the largest coefficient (in bits)
# of one: each solve costs milliseconds, a hard one a tenth of a second.
MAX_KINK_SOLVES = 48
MAX_KINK_COEFFICIENT_BITS = 700
# Beyond this many digits in size, a value at a kink's point is too large to confirm a
# difference there (cancellation would need twice as many digits): the point is skipped.
MAX_KINK_MAGNITUDE = 5000

# The functions an answer may call, and how many arguments each takes (None: two or more).
FUNCTIONS = {
    "exp": (exp, 1),
    "log": (log, 1),
    "sqrt": (sqrt, 1),
    "sigmoid": (lambda z: 1 / (1 + exp(-z)), 1),
    "tanh": (tanh, 1),
    "erf": (erf, 1),  # GELU's z(1 + erf(z/sqrt(2)))/2
    "relu": (lambda z: Max(0, z), 1),
    "Heaviside": (lambda z: Heaviside(z, 0), 1),
    "abs": (Abs, 1),
    "max": (Max, None),
    "min": (Min, None),
}
# Constants a formula may name (SymPy prints e as E), unless a symbol takes the name.
CONSTANTS = {"E": E, "pi": pi}
# SymPy's own spellings, so that printed SymPy expressions read back.
ALIASES = {"Abs": "abs", "Max": "max", "Min": "min"}
# The names of a single neuron's lesson: ŷ is written a.
NEURON_SYMBOLS = ("a", "y", "z", "x", "w", "b")
# A number written with a decimal comma, as in German: 1,5 or -0,25e-3.
DECIMAL_COMMA = re.compile(r"[+-]?[0-9]+,[0-9]+([eE][+-]?[0-9]+)?")
# Unicode a learner may type, and its ASCII meaning.
_UNICODE = {"−": "-", "·": "*", "×": "*", "÷": "/", "²": "**2", "σ": "sigmoid", "ŷ": "a",
            "^": "**"}
_EXPONENTIALS = ("exp",)


def _symbol_table(symbols) -> dict[str, Symbol]:
    if symbols is None:
        symbols = NEURON_SYMBOLS
    if isinstance(symbols, dict):
        return dict(symbols)
    table = {}
    for item in symbols:
        symbol = item if isinstance(item, Symbol) else Symbol(str(item), real=True)
        table[symbol.name] = symbol
    return table


def parse(text: str, symbols=None) -> Expr:
    """Read a formula from untrusted text without ``eval``.

    ``symbols`` lists the allowed names (default: the lesson's a, y, z, x, w, b; ŷ is
    written ``a``). Allowed: numbers, those names, ``+ - * / **`` (``^`` means ``**``),
    and the functions exp, log, sqrt, sigmoid, tanh, erf, relu, Heaviside, abs, max, min
    (SymPy's spellings Abs, Max and Min too), and the constants E and pi. The size of
    every power, product and exp is estimated before SymPy builds anything (see
    MAX_SIZE), so a short text cannot make a huge number.

    >>> parse("2*(a - y)*sigmoid(z)*(1 - sigmoid(z))*x")
    x*(1 - 1/(1 + exp(-z)))*(2*a - 2*y)/(1 + exp(-z))
    >>> parse("q + 1")
    Traceback (most recent call last):
    ...
    symgrad.errors.ParseError: unknown name 'q'; allowed: a, y, z, x, w, b
    >>> parse("(9**99)**99")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    symgrad.errors.ParseError: (9**99)**99 is too large to work with: about 9353 digits; ...
    """
    if not isinstance(text, str):
        raise ParseError(f"a formula must be text, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"the formula is {len(text)} characters long; at most {MAX_LENGTH}")
    for old, new in _UNICODE.items():
        text = text.replace(old, new)
    for position, char in enumerate(text):
        if not (char.isascii() and (char.isprintable() or char in " \t")):
            raise ParseError(f"unexpected character {char!r} (U+{ord(char):04X}) at position "
                          f"{position + 1}; write the formula in plain ASCII")
    if not text.strip():
        raise ParseError("the formula is empty")
    if DECIMAL_COMMA.fullmatch(text.strip()):
        # Python would read 1,5 as the pair (1, 5): a decimal comma, or 1,000 for a thousand.
        number = text.strip()
        raise ParseError(f"{number} is not a number here: write decimals with a point "
                         f"({number.replace(',', '.')}) and no thousands separators")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ParseError(f"cannot read {text.strip()!r}: {error.msg} at position "
                      f"{error.offset}; write multiplication with *") from None
    except (RecursionError, MemoryError):
        raise ParseError("the formula is nested too deeply") from None
    nodes = sum(1 for _ in ast.walk(tree))
    if nodes > MAX_NODES:
        raise ParseError(f"the formula has {nodes} parts; at most {MAX_NODES}")
    table = _symbol_table(symbols)
    _Validator(table, text.strip()).visit(tree)
    try:
        result = _Builder(table, text.strip()).visit(tree.body)
    except SymgradError:
        raise
    except (TypeError, ValueError, ArithmeticError, RecursionError, MemoryError) as error:
        reason = (str(error).splitlines() or [type(error).__name__])[0][:120]
        raise ParseError(f"{text.strip()!r} cannot be worked out: {reason}") from None
    if result.has(zoo, oo, -oo, nan):
        raise ParseError(f"{text.strip()!r} divides by zero or is infinite")
    if result.has(I):
        raise _not_real(tree.body)
    return result


@dataclass(frozen=True, slots=True)
class _Size:
    """A conservative estimate of what a node builds, in decimal digits: ``magnitude``
    bounds log10 of ``|v|``, ``digits`` bounds the digits of an exact number (numerator
    plus denominator) and log10 of ``|v|`` and ``1/|v|`` otherwise."""

    magnitude: float
    digits: float


# Each name counts as a number up to 10 (and at least 1/10): one digit.
_NAME = _Size(1.0, 1.0)
_CONSTANT = _Size(0.5, 0.5)  # E and pi
_CARRY = math.log10(2)  # a/b + c/d = (ad + cb)/bd: one more digit at most


def _power10(size: float) -> float:
    """10**size as a float, inf when too large to matter."""
    return math.inf if size > 300 else 10.0 ** size


class _Validator(ast.NodeVisitor):
    """Walk the whole tree before anything is built: only whitelisted nodes pass, and
    each visit returns the :class:`_Size` of its node, refusing sizes over MAX_SIZE."""

    def __init__(self, table: dict[str, Symbol], source: str):
        self.table = table
        self.source = source
        self.tower = 0
        self.exponentials = 0  # exp and sigmoid calls around the node being visited

    def generic_visit(self, node):
        names = "".join(f"{name}, " for name in self.table)
        raise ParseError(f"{_describe(node)} is not allowed in a formula; use numbers, "
                         f"{names}+ - * / ** and {', '.join(FUNCTIONS)}")

    def visit_Expression(self, node):
        return self.visit(node.body)

    def visit_Constant(self, node):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParseError(f"{value!r} is not a number; only numbers and names are allowed")
        if isinstance(value, int) and len(str(abs(value))) > MAX_DIGITS:
            raise ParseError(f"a number with more than {MAX_DIGITS} digits is not allowed")
        if isinstance(value, float) and not math.isfinite(value):
            raise ParseError("numbers must be finite")
        # Sized as _Builder reads it: the decimal as written, every digit.
        number = Rational(value) if isinstance(value, int) else exact(
            ast.get_source_segment(self.source, node).replace("_", ""))
        return _Size(max(0.0, math.log10(abs(number))) if number else 0.0, _height(number))

    def visit_Name(self, node):
        if node.id in CONSTANTS and node.id not in self.table:
            return _CONSTANT
        if node.id not in self.table and not self.table:
            raise ParseError(f"unknown name {node.id!r}: a number is expected here")
        if node.id not in self.table:
            kind = "a function, call it with brackets" if node.id in FUNCTIONS else None
            raise ParseError(f"{node.id!r} is {kind}" if kind else
                          f"unknown name {node.id!r}; allowed: {', '.join(self.table)}")
        return _NAME

    def visit_UnaryOp(self, node):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise ParseError(f"{_describe(node.op)} is not allowed; use + - * / **")
        return self.visit(node.operand)

    def visit_BinOp(self, node):
        if not isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)):
            raise ParseError(f"{_describe(node.op)} is not allowed; use + - * / **")
        left = self.visit(node.left)
        if isinstance(node.op, (ast.Add, ast.Sub)):
            right = self.visit(node.right)
            return self._bounded(node, max(left.magnitude, right.magnitude) + _CARRY,
                                 left.digits + right.digits + _CARRY)
        if isinstance(node.op, (ast.Mult, ast.Div)):
            right = self.visit(node.right)
            # |1/b| is at most 10**digits(b).
            return self._bounded(node, left.magnitude + (right.magnitude if isinstance(
                node.op, ast.Mult) else right.digits), left.digits + right.digits)
        exponent = _literal(node.right)
        if exponent is not None and abs(exponent) > MAX_EXPONENT:
            raise ParseError(f"exponents above {MAX_EXPONENT} are not allowed")
        size = self._nested(node.right)
        largest = max(1.0, abs(exponent) if exponent is not None else _power10(size.magnitude))
        grown = 0.0 if left.digits == 0 else left.digits * largest
        return self._bounded(node, grown, grown)

    def visit_Call(self, node):
        if isinstance(node.func, ast.Name) and node.func.id in ALIASES:
            node.func.id = ALIASES[node.func.id]
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else _describe(node.func)
            raise ParseError(f"{name!r} is not a function you can call; functions: "
                          f"{', '.join(FUNCTIONS)}")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise ParseError(f"{node.func.id}() takes plain arguments, no keywords or *")
        name = node.func.id
        arity = FUNCTIONS[name][1]
        if arity is None and len(node.args) < 2 or arity is not None and len(
                node.args) != arity:
            wanted = "two or more arguments" if arity is None else f"{arity} argument"
            raise ParseError(f"{name}() takes {wanted}, not {len(node.args)}")
        if name in _EXPONENTIALS or name == "sigmoid":
            self.exponentials += 1
            if self.exponentials > MAX_EXPONENTIAL_NESTING:
                raise ParseError(f"exp and sigmoid nested more than {MAX_EXPONENTIAL_NESTING} "
                                 "deep are not allowed")
            size = self._nested(node.args[0]) if name in _EXPONENTIALS else self.visit(
                node.args[0])
            self.exponentials -= 1
            literal = _literal(node.args[0])
            largest = abs(literal) if literal is not None else _power10(size.magnitude)
            # |exp(u)| and 1/|exp(u)| are at most e**|u|; sigmoid adds 1 to one of them.
            grown = largest * math.log10(math.e) + _CARRY
            return self._bounded(node, 0.0 if name == "sigmoid" else grown, grown)
        sizes = [self.visit(argument) for argument in node.args]
        if name == "log":
            grown = math.log10(1 + sizes[0].digits * math.log(10)) + 1
            return self._bounded(node, grown, grown)
        if name in ("tanh", "erf", "Heaviside"):  # at most 1 in size
            return self._bounded(node, 0.0, sizes[0].digits)
        return self._bounded(node, max(s.magnitude for s in sizes),
                             max(s.digits for s in sizes))

    def _nested(self, node) -> _Size:
        """Visit an exponent: exponentials inside exponentials count towards a tower."""
        self.tower += 1
        if self.tower > MAX_TOWER:
            raise ParseError(f"exponentials nested more than {MAX_TOWER} deep (a power tower) "
                          "are not allowed")
        size = self.visit(node)
        self.tower -= 1
        return size

    def _bounded(self, node, magnitude: float, digits: float) -> _Size:
        """The size of a node, or a ParseError when it exceeds MAX_SIZE."""
        if not digits <= MAX_SIZE:
            shown = ast.get_source_segment(self.source, node) or ast.unparse(node)
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            about = f"about {digits:.0f}" if digits < 1e15 else f"far more than {MAX_SIZE}"
            raise ParseError(f"{shown} is too large to work with: {about} digits; at most "
                             f"{MAX_SIZE} (each name counts as a number up to 10)")
        return _Size(magnitude, digits)


def _height(number: Rational) -> float:
    """Decimal digits of a rational's numerator plus its denominator (0 for 0 and ±1)."""
    return sum(math.log10(part) for part in (abs(number.p), number.q) if part > 1)


def _literal(node) -> float | None:
    """The value of a (signed) number literal, else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _literal(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not (
            isinstance(node.value, bool)):
        return node.value
    return None


def _describe(node) -> str:
    names = {"Attribute": "attribute access (.)", "Subscript": "indexing ([ ])",
             "Lambda": "lambda", "ListComp": "a comprehension", "GeneratorExp":
             "a comprehension", "SetComp": "a comprehension", "DictComp": "a comprehension",
             "JoinedStr": "an f-string", "List": "a list", "Tuple": "a tuple", "Dict":
             "a dict", "Set": "a set", "Compare": "a comparison", "BoolOp": "and/or",
             "IfExp": "if/else", "NamedExpr": "assignment (:=)", "Await": "await",
             "Starred": "*", "Mod": "%", "FloorDiv": "//", "BitXor": "^", "BitAnd": "&",
             "BitOr": "|", "LShift": "<<", "RShift": ">>", "MatMult": "@", "Not": "not",
             "Invert": "~"}
    return names.get(type(node).__name__, type(node).__name__)


class _Builder(ast.NodeVisitor):
    """Build SymPy objects from a validated tree; ``source`` is the text it was parsed from."""

    def __init__(self, table: dict[str, Symbol], source: str):
        self.table = table
        self.source = source

    def visit_Constant(self, node):
        if isinstance(node.value, int):
            return exact(node.value)
        # The decimal as written, not Python's float of it, which keeps about 16 digits:
        # 0.63636363636363636 (7/11 to 17 places) would read as 0.6363636363636364.
        return exact(ast.get_source_segment(self.source, node).replace("_", ""))

    def visit_Name(self, node):
        return self.table[node.id] if node.id in self.table else CONSTANTS[node.id]

    def visit_UnaryOp(self, node):
        operand = self.visit(node.operand)
        return -operand if isinstance(node.op, ast.USub) else operand

    def visit_BinOp(self, node):
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, ast.Div):
            if right == 0:
                raise ParseError("the formula divides by zero")
            return left / right
        if right.is_number and bool(abs(right.evalf(15)) > MAX_EXPONENT):
            raise ParseError(f"exponents above {MAX_EXPONENT} are not allowed")
        return left ** right

    def visit_Call(self, node):
        arguments = [self.visit(a) for a in node.args]
        if any(argument.has(I) for argument in arguments):
            raise _not_real(node)
        return FUNCTIONS[node.func.id][0](*arguments)


def _not_real(node) -> ParseError:
    return ParseError(f"{ast.unparse(node)!r} is not a real number (the square root or log of "
                      "a negative number)")


# --- checking answers ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CheckResult:
    """Whether an answer is right: ``kind`` is ``exact`` (the same), ``equivalent``
    (proved equal by simplify), ``numeric`` (equal within tolerance, or at enough random
    points when no proof was found in time), ``wrong``, or ``incomparable`` (too few
    points where both have a real value and no proof: never correct)."""

    correct: bool
    kind: str
    feedback: str

    def __bool__(self) -> bool:
        return self.correct


def _as_expression(value, symbols, what: str) -> Expr:
    if isinstance(value, Expr):
        return value
    if isinstance(value, str):
        return parse(value, symbols)
    return exact(value, what)


def check(answer, expected, *, tolerance="1%", symbols=None) -> CheckResult:
    """Check an answer (text, number or SymPy expression) against the expected one.

    Numbers compare within ``tolerance`` (``"1%"`` relative, or an absolute number), on
    values worked to WORK_DIGITS digits. Formulas compare at random points first, then
    each side of every kink (a difference there is a counterexample); then
    ``simplify(answer - expected) == 0`` runs in a worker process killed after
    SIMPLIFY_SECONDS. Without a proof, agreement at MIN_POINTS points or more is
    ``numeric``; fewer is ``incomparable``, never correct.

    >>> check("-1.6", "-8/5").kind, check("-1.601", -1.6).kind, check("1.6", -1.6).kind
    ('exact', 'numeric', 'wrong')
    >>> check("sigmoid(z)*(1 - sigmoid(z))", "exp(-z)/(1 + exp(-z))^2").kind
    'equivalent'
    >>> check("sigmoid(z)", "exp(-z)/(1 + exp(-z))^2").feedback[:30]
    'Not equivalent: the two differ'
    >>> check("z*exp(1000)", "sigmoid(z)*(1 - sigmoid(z))").kind
    'wrong'
    """
    absolute_tolerance(tolerance, Rational(1))  # a bad tolerance is refused, even when unused
    answer = _as_expression(answer, symbols, "answer")
    expected = _as_expression(expected, symbols, "expected")
    expected = expected.xreplace({g: g.value for g in expected.atoms(Given)})
    if answer == expected:
        return CheckResult(True, "exact", "Correct.")
    free = answer.free_symbols | expected.free_symbols
    if not free:
        return _check_number(answer, expected, tolerance)
    points = _compare_at_points(answer, expected, sorted(free, key=str))
    if isinstance(points, list):
        where = ", ".join(f"{name} = {value}" for name, value in points)
        return CheckResult(False, "wrong", f"Not equivalent: the two differ at {where}.")
    proof = _proved_equal(answer, expected)
    if proof:
        return CheckResult(True, "equivalent", "Correct: equivalent to the expected formula.")
    why = ("simplify could not prove them equal" if proof is False else
           f"simplify could not finish a proof within {SIMPLIFY_SECONDS:g} s")
    if points >= MIN_POINTS:
        return CheckResult(True, "numeric", f"Correct: equal to the expected formula at all "
                                            f"{points} points tried ({why}).")
    return CheckResult(False, "incomparable", f"Could not compare: only {points} of the points "
                                              f"tried give both formulas a real value, and "
                                              f"{why}.")


def _value(expr: Expr, at=None, digits: int = WORK_DIGITS + 20):
    """``expr`` (at the point ``at``) worked with mpmath at a fixed ``digits`` digits, as an
    mpmath number (complex only when it is not real); None when it has no finite value
    there. Fixed precision keeps the cost linear in the formula (SymPy's adaptive evalf
    takes exponential time on nested logs), and mpmath numbers never overflow."""
    try:
        with mpmath.workdps(digits):
            number = mpmath.mpmathify(_evaluate(expr, at or {}))
    except (TypeError, ValueError, ArithmeticError, RecursionError, AttributeError,
            NotImplementedError):
        return None
    if isinstance(number, mpmath.mpc):
        if not (mpmath.isfinite(number.real) and mpmath.isfinite(number.imag)):
            return None
        return number.real if number.imag == 0 else number
    return number if mpmath.isfinite(number) else None


def _evaluate(expr: Expr, at: dict):
    """The mpmath value of a whitelisted formula, node by node, at the current precision."""
    if expr.is_Rational:
        return mpmath.mpf(expr.p) / expr.q
    if expr in at:
        return _evaluate(at[expr], {})
    if expr is E or expr is pi:
        return mpmath.e if expr is E else mpmath.pi
    if isinstance(expr, Piecewise):  # ReLU's, ELU's f'(z), Huber's ∂L/∂ŷ: the case that holds
        piece = next((piece for piece, condition in expr.args if _holds(condition, at)), None)
        if piece is None:
            raise ValueError("no case of the piecewise formula holds")
        return _evaluate(piece, at)
    values = [_evaluate(argument, at) for argument in expr.args]
    if expr.is_Add:
        return mpmath.fsum(values)
    if expr.is_Mul:
        return mpmath.fprod(values)
    if expr.is_Pow:
        return mpmath.power(*values)
    if expr.func in _MPMATH:
        return _MPMATH[expr.func](*values)
    if isinstance(expr, (Max, Min, Heaviside)):
        if any(isinstance(value, mpmath.mpc) for value in values):
            raise ValueError("no order among complex numbers")
        if isinstance(expr, Heaviside):
            return mpmath.mpf(1 if values[0] > 0 else 0) if values[0] else values[1]
        return (max if isinstance(expr, Max) else min)(values)
    # Anything else (a SymPy expression from derive, say): SymPy's own evalf.
    value = expr.xreplace(at).evalf(mpmath.mp.dps)
    real, imaginary = value.as_real_imag()
    if not (real.is_number and imaginary.is_number):
        raise ValueError(f"no value for {expr}")
    return mpmath.mpc(mpmath.mpmathify(real), mpmath.mpmathify(imaginary))


_MPMATH = {exp: mpmath.exp, log: mpmath.log, tanh: mpmath.tanh, erf: mpmath.erf, Abs: abs}
_RELATIONS = {StrictGreaterThan: operator.gt, GreaterThan: operator.ge,
              StrictLessThan: operator.lt, LessThan: operator.le}


def _holds(condition, at: dict) -> bool:
    """Whether a piecewise case's condition holds at ``at``, its sides worked by mpmath."""
    if condition in (true, false):
        return condition == true
    if isinstance(condition, (And, Or)):
        found = [_holds(part, at) for part in condition.args]
        return all(found) if isinstance(condition, And) else any(found)
    if isinstance(condition, Not):
        return not _holds(condition.args[0], at)
    if type(condition) in _RELATIONS:
        left, right = _evaluate(condition.lhs, at), _evaluate(condition.rhs, at)
        if isinstance(left, mpmath.mpc) or isinstance(right, mpmath.mpc):
            raise ValueError("no order among complex numbers")
        return _RELATIONS[type(condition)](left, right)
    raise ValueError(f"no truth value for {condition}")


def _differ(got, want) -> bool:
    """True when two values differ beyond WORK_DIGITS - 10 significant digits."""
    with mpmath.workdps(WORK_DIGITS + 20):
        return abs(got - want) > mpmath.mpf(10) ** (10 - WORK_DIGITS) * (1 + abs(want))


def _differ_surely(answer: Expr, expected: Expr, at: dict, got, want,
                   digits: int = MAX_SIZE + WORK_DIGITS + 20) -> bool:
    """Whether the values differ, confirmed at ``digits`` digits, enough to rule out
    cancellation between terms as large as MAX_SIZE digits."""
    if not _differ(got, want):
        return False
    got, want = _value(answer, at, digits), _value(expected, at, digits)
    return got is None or want is None or isinstance(got, mpmath.mpc) or _differ(got, want)


def _check_number(answer: Expr, expected: Expr, tolerance) -> CheckResult:
    """Compare two numbers within the tolerance, on values worked to WORK_DIGITS digits."""
    got, want = _value(answer), _value(expected)
    if want is None or isinstance(want, mpmath.mpc):
        return CheckResult(False, "incomparable", "Could not compare: the expected value is "
                                                  "not a finite real number.")
    if got is None:
        return CheckResult(False, "incomparable", "Could not compare: your value has no finite "
                                                  "value that can be worked out.")
    if isinstance(got, mpmath.mpc):
        return CheckResult(False, "wrong", "Not equal to the expected value: yours is not a "
                                           "real number.")
    allowed = _value(absolute_tolerance(tolerance, expected))
    if allowed is not None and _differ(got, want):  # confirm beyond cancellation
        digits = MAX_SIZE + WORK_DIGITS + 20
        got, want = _value(answer, None, digits) or got, _value(expected, None, digits) or want
    with mpmath.workdps(WORK_DIGITS + 20):
        difference = abs(got - want)
        if allowed is not None and difference <= allowed:
            return CheckResult(True, "numeric", "Correct (within the tolerance).")
        return CheckResult(False, "wrong", f"Not equal to the expected value: "
                                           f"{mpmath.nstr(got, 4)} is off by "
                                           f"{mpmath.nstr(difference, 3)}.")


def _compare_at_points(answer: Expr, expected: Expr, free):
    """A point where the formulas differ, as (name, value) pairs, else the number of
    points where both have a finite real value and agree (as Numbas checks formulas)."""
    rng = random.Random(f"{answer}|{expected}")
    near = tried_far = valid = 0
    for attempt in range(POINTS * 6):
        # POINTS points from -2 to 2, then POINTS tries from -10 to 10: a lesson's ŷ = 4.5,
        # y = 5.5 lie out there, and so does where 2(a - y) + max(0, a - 2) parts from
        # 2(a - y); a formula of a in (0, 1) still gets its points near 0.
        if near < POINTS and attempt < POINTS * 5:
            scale = 2000
        elif tried_far < POINTS:
            scale, tried_far = 10_000, tried_far + 1
        else:
            break
        point = [(symbol, Rational(rng.randint(-scale, scale), 1000)) for symbol in free]
        differs = _differs_at(answer, expected, dict(point))
        if differs is None:
            continue  # outside a formula's real domain
        if differs:
            return [(str(symbol), decimal(value)[0]) for symbol, value in point]
        valid += 1
        near += scale == 2000
    # Random points miss a case that switches far out (Heaviside(z - 50)) or within a
    # narrow gap: each side of every kink, and between each two, is tried too.
    for at in _kink_points(answer, expected, free, rng):
        differs = _differs_at(answer, expected, at, kink=True)
        if differs:
            return [(str(symbol), decimal(at[symbol])[0]) for symbol in free]
        valid += differs is not None
    return valid


def _differs_at(answer: Expr, expected: Expr, at: dict, kink: bool = False) -> bool | None:
    """Whether the formulas differ at ``at`` (confirmed beyond cancellation); None when
    the point is no comparison: outside either formula's real domain, or a kink's point
    with a part too large to confirm a difference at."""
    want = _value(expected, at)
    if want is None or isinstance(want, mpmath.mpc):
        return None
    got = _value(answer, at)
    if got is None:
        return None
    if not kink:
        return isinstance(got, mpmath.mpc) or _differ_surely(answer, expected, at, got, want)
    if not (isinstance(got, mpmath.mpc) or _differ(got, want)):
        return False
    # A kink may lie far out (z = 3000), where a part is far larger than MAX_SIZE
    # assumes: the difference is confirmed with digits for the largest part.
    digits = _confirming_digits((answer, expected), at)
    return None if digits is None else _differ_surely(answer, expected, at, got, want, digits)


def _confirming_digits(formulas, at: dict) -> int | None:
    """Digits that rule out cancellation at ``at``: the usual ones, plus twice the size in
    digits of the largest part of either formula there (a sum of parts of size 10^k
    loses up to k digits, and a product may scale that error up by 10^k again); None
    when a part is larger than MAX_KINK_MAGNITUDE digits."""
    largest = 0
    for formula in formulas:
        for node in preorder_traversal(formula):
            if not isinstance(node, Expr) or node.is_Atom:
                continue
            value = _value(node, at, 20)
            if value:
                largest = max(largest, int(mpmath.mag(value) * math.log10(2)) + 1)
    if largest > MAX_KINK_MAGNITUDE:
        return None
    return MAX_SIZE + WORK_DIGITS + 20 + 2 * largest


def _kink_points(answer: Expr, expected: Expr, free, rng: random.Random) -> list[dict]:
    """Points where one name lies 1 below the lowest kink of either formula, between
    each two kinks, or 1 above the highest (the other names at a random point near 0): a
    formula built of cases then has each of its cases tried."""
    boundaries = _boundaries(answer) | _boundaries(expected)
    points, solves = [], [MAX_KINK_SOLVES]
    for symbol in free:
        others = {s: Rational(rng.randint(-2000, 2000), 1000) for s in free if s != symbol}
        kinks = set()
        for boundary in sorted(boundaries, key=str):
            if symbol in boundary.free_symbols:
                kinks |= _roots(boundary.xreplace(others), symbol, solves)
        kinks = sorted(kinks)[:MAX_KINKS]
        if kinks:
            places = [kinks[0] - 1, *((low + high) / 2 for low, high in pairwise(kinks)),
                      kinks[-1] + 1]
            points += [others | {symbol: place} for place in places]
    return points


def _boundaries(expr: Expr) -> set[Expr]:
    """Expressions whose sign decides which case of ``expr`` holds: a Heaviside's or
    abs's argument, the difference of two arguments of max or min, the sides of a
    piecewise case's condition. Each kink of ``expr`` is a zero of one of them."""
    found = set()
    for node in preorder_traversal(expr):
        if isinstance(node, (Heaviside, Abs)):
            found.add(node.args[0])
        elif isinstance(node, (Max, Min)):
            found |= {first - second for first, second in combinations(node.args, 2)}
        elif isinstance(node, Piecewise):
            found |= {relation.lhs - relation.rhs for _, condition in node.args
                      for relation in condition.atoms(Relational)}
    return found


def _roots(boundary: Expr, symbol: Symbol, solves: list[int]) -> set[Rational]:
    """The real zeros of ``boundary`` in ``symbol`` (its only name) where it is a
    polynomial once each case inside it is chosen (|u| as u or -u, max(u, v) as u or v):
    exactly when rational, else to 15 digits. Empty for anything else, or once the
    ``solves`` left (one count, shared by a check's boundaries) are used up."""
    cases = [node for node in preorder_traversal(boundary)
             if isinstance(node, (Heaviside, Abs, Max, Min))]
    choices = [(0, 1) if isinstance(node, Heaviside) else
               (node.args[0], -node.args[0]) if isinstance(node, Abs) else node.args
               for node in cases]
    found = set()
    for chosen in islice(product(*choices), 16):
        polynomial = boundary.xreplace(dict(zip(cases, chosen)))
        if (polynomial.free_symbols != {symbol} or polynomial.has(zoo, nan, oo, -oo)
                or not polynomial.is_polynomial(symbol)):
            continue
        if solves[0] <= 0:
            break
        solves[0] -= 1
        try:
            poly = Poly(polynomial, symbol)
            if not 0 < poly.degree() <= MAX_KINK_DEGREE:
                continue
            # Irrational coefficients (√3, e) to 30 digits: a kink's points need only lie
            # on its sides, and real_roots is exact, repeated roots too.
            coefficients = [c if c.is_Rational else Rational(str(c.evalf(30)))
                            for c in poly.all_coeffs()]
            if any(max(c.p.bit_length(), c.q.bit_length()) > MAX_KINK_COEFFICIENT_BITS
                   for c in coefficients):
                continue
            found |= {root if root.is_Rational else Rational(str(root.evalf(15)))
                      for root in Poly(coefficients, symbol).real_roots()}
        except (ArithmeticError, ValueError, TypeError, BasePolynomialError):
            continue
    return found


def _proved_equal(answer: Expr, expected: Expr) -> bool | None:
    """Whether ``simplify(answer - expected) == 0``, worked in a child process limited to
    SIMPLIFY_SECONDS and SIMPLIFY_MEMORY and killed on overrun (a thread cannot be
    stopped). None when the proof did not finish or no process could be started."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(target=_simplify_worker, args=(answer - expected, sender),
                             daemon=True)
    try:
        worker.start()
    except (OSError, AssertionError, ValueError):  # e.g. inside a daemonic process
        sender.close()
        receiver.close()
        return None
    sender.close()
    outcome = None
    try:
        if receiver.poll(SIMPLIFY_SECONDS):
            outcome = receiver.recv()
    except (EOFError, OSError):
        outcome = None
    finally:
        if worker.is_alive():
            worker.kill()
        worker.join()
        worker.close()
        receiver.close()
    return outcome


def _simplify_worker(difference: Expr, sender) -> None:
    """In the child: cap its memory, simplify, send True, False or None (out of memory)."""
    try:
        import resource

        with open("/proc/self/statm") as statm:
            used = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        soft = used + SIMPLIFY_MEMORY
        resource.setrlimit(resource.RLIMIT_AS, (
            soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
    except (ImportError, OSError, ValueError):
        pass  # no /proc or no RLIMIT_AS (macOS, Windows): the time limit still holds
    try:
        outcome = bool(simplify(difference) == 0)
    except MemoryError:
        outcome = None
    except Exception:  # noqa: BLE001 - a failed proof is no proof
        outcome = False
    sender.send(outcome)
    sender.close()


# --- diagnosis ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The verdict on a learner's number for one quantity, and which mistakes it matches;
    ``comparable`` is False when the number could not be compared at all."""

    quantity: str
    correct: bool
    mistakes: tuple[Mistake, ...]
    message: str
    comparable: bool = True

    def __bool__(self) -> bool:
        return self.correct


def _detail(d: Derivation, name: str, key: str) -> str:
    """The number behind a mistake, to show the learner what went missing."""
    shown = lambda value: decimal(value)[0]  # noqa: E731
    if name == "missing_learning_rate":
        return f" (α = {shown(d.learning_rate)})"
    if d.is_network:
        return ""
    factor = {f.name: f.formula.value for f in d.factors if f.sample == 1}
    if name == "missing_activation_derivative" and "da/dz" in factor:
        return f" = {shown(factor['da/dz'])}"
    if name == "missing_input" and key.startswith("dL/dw"):
        local = "dz/d" + key[4:]
        return f" (dz/d{key[4:]} = {shown(factor[local])})" if local in factor else ""
    if name == "z_for_prediction":
        sample = key.removeprefix("prediction")  # prediction2: sample 2's numbers
        row = d.forward[int(sample) - 1 if sample.isdigit() else 0]
        return f" (z = {shown(row.z.value)}, ŷ = {shown(row.prediction.value)})"
    if name == "missing_mean":
        return f" (n = {len(d.samples)})"
    if name.startswith("l2_"):
        return f" (λ = {shown(d.l2)})"
    if name in ("decay_as_l2", "weight_decay_forgotten"):
        return f" (λ = {shown(d.optimizer.weight_decay)})"
    return ""


@lru_cache(maxsize=64)
def _derivation(model, samples: tuple[Sample, ...], learning_rate: Rational,
                optimizer: Optimizer, l2: Rational,
                l2_biases: bool) -> Derivation:
    """One derivation per problem: checking many answers to it (a class's, or each
    quantity of a sheet) derives it once."""
    return derive(model, samples, learning_rate=learning_rate, optimizer=optimizer, l2=l2,
                  l2_biases=l2_biases)


def _comparable(value: Expr) -> Expr:
    """A value to compare with: exact, or PRECISION digits where it refers to named exact
    values (a network's), whose definitions are a chain of earlier names."""
    return numeric(value, PRECISION) if value.atoms(Defined) else value


def diagnose(neuron: Neuron | Network, quantity: str, answer, *, samples=None,
             learning_rate="0.1", tolerance="1%", optimizer: Optimizer | str = "sgd", l2=0,
             l2_biases: bool = False) -> Diagnosis:
    """Say whether ``answer`` is the right value of ``quantity`` (``dL/dw``, ``w_new``,
    ``loss``, ...; for a network also ``a2_1``, ``delta1_2``, ``dL/dw1_2_1``; with an L2
    penalty ``J`` and ``dJ/dw``, with an optimizer its state ``v_w``, ``m_hat_w``, ...)
    and, if not, which known mistake gives that value. ``optimizer``, ``l2`` and
    ``l2_biases`` are :func:`~symgrad.maths.derive.derive`'s.

    >>> diagnose(Neuron(weights="0.5", bias="0.1"), "dL/dw", "1.6").message
    'your value equals (y - ŷ) used instead of (ŷ - y), which flips the sign'
    >>> diagnose(Neuron(weights="0.5", bias="0.1"), "dJ/dw", "-1.5", l2="0.1").message
    'your value equals λ added to the gradient instead of λw (λ = 0.1) or the penalty taken as λΣw², without its ½ (2λw in the gradient) (λ = 0.1)'
    """
    samples, rate = step_inputs(seed_samples() if samples is None else samples, learning_rate)
    d = _derivation(neuron, samples, rate, optimizer if isinstance(optimizer, Optimizer)
                    else Optimizer(optimizer), exact(l2, "l2"), bool(l2_biases))
    wanted = {q.key: q for q in quantities(d)}
    if quantity not in wanted:
        raise SymgradError(f"unknown quantity {quantity!r}; choose one of: {', '.join(wanted)}")
    value = _as_expression(answer, (), "answer")
    if value.free_symbols:
        raise SymgradError(f"the answer to {quantity} must be a number, not a formula in "
                           f"{', '.join(sorted(map(str, value.free_symbols)))}")
    correct = _comparable(wanted[quantity].value)
    verdict = check(value, correct, tolerance=tolerance)
    if verdict.kind == "incomparable":
        return Diagnosis(quantity, False, (), f"{quantity}: {verdict.feedback}",
                         comparable=False)
    if verdict.correct:
        text, is_exact = decimal(correct)
        return Diagnosis(quantity, True, (), f"correct: {quantity} {'=' if is_exact else '≈'} "
                                             f"{text}")
    matched = tuple(m for m in mistakes(d, quantity, distinct=False)
                    if check(value, _comparable(m.value), tolerance=tolerance).correct)
    if not matched:
        return Diagnosis(quantity, False, (), f"{quantity} is not {decimal(value)[0]}, and "
                                              "that matches none of the usual mistakes")
    reasons = " or ".join(m.description + _detail(d, m.name, quantity) for m in matched)
    return Diagnosis(quantity, False, matched, f"your value equals {reasons}")


# --- gradient check ----------------------------------------------------------------------

class GradientMismatch(SymgradError):
    """The chain rule's product disagrees with sympy.diff or finite differences."""


@dataclass(frozen=True, slots=True)
class GradCheck:
    """For each parameter: the chain-rule gradient, ``sympy.diff`` of the composed loss
    and a central finite difference, and whether they agree."""

    rows: tuple[tuple[str, float, float, float, bool], ...]

    @property
    def ok(self) -> bool:
        return all(row[-1] for row in self.rows)

    def __str__(self) -> str:
        lines = [f"{'parameter':<10} {'chain rule':>14} {'sympy.diff':>14} {'finite diff':>14}"]
        for name, chain, symbolic, numeric, agree in self.rows:
            lines.append(f"{name:<10} {chain:>14.8g} {symbolic:>14.8g} {numeric:>14.8g}  "
                         + ("ok" if agree else "MISMATCH"))
        return "\n".join(lines)


def gradcheck(neuron: Neuron | Network, samples=None, *, raise_on_mismatch: bool = False,
              step: str = "1e-6") -> GradCheck:
    """Compare each chain-rule gradient of a neuron or a (small) network with ``sympy.diff``
    of the composed loss and with a central finite difference.

    >>> gradcheck(Neuron(weights="0.5", bias="0.1", activation="sigmoid")).ok
    True
    """
    samples = seed_samples() if samples is None else samples
    d = derive(neuron, samples)
    total, symbols = composed_loss(neuron, d.samples)
    point = dict(zip(symbols, d.parameters))
    h = exact(step, "step")
    rows = []
    for g, symbol in zip(d.gradients, symbols):
        chain = float(numeric(g.value, 30))
        symbolic = float(diff(total, symbol).evalf(30, subs=point))
        up = total.evalf(30, subs=point | {symbol: point[symbol] + h})
        down = total.evalf(30, subs=point | {symbol: point[symbol] - h})
        central = float((up - down) / (2 * h))
        agree = (abs(chain - symbolic) <= 1e-9 * (1 + abs(symbolic))
                 and abs(chain - central) <= 1e-5 * (1 + abs(central)))
        rows.append((g.parameter, chain, symbolic, central, agree))
    report = GradCheck(tuple(rows))
    if raise_on_mismatch and not report.ok:
        bad = ", ".join(row[0] for row in rows if not row[-1])
        raise GradientMismatch(f"the chain rule disagrees with sympy.diff or finite "
                               f"differences for {bad}")
    return report
