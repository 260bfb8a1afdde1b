"""Symbolic checks: a safe expression parser, answer checking, mistake diagnosis and a
gradient check.

Text from users is never evaluated: :func:`parse` reads it with Python's ``ast``
module, accepts only a whitelist of node types, names and functions, and builds the
SymPy objects itself.
"""

from __future__ import annotations

import ast
import math
import random
import threading
from dataclasses import dataclass

from sympy import (Abs, E, Expr, Heaviside, Max, Min, Rational, Symbol, diff, exp, log, nan,
                   oo, pi, simplify, sqrt, tanh, zoo)

from .derive import composed_loss, derive
from .quantities import Mistake, mistakes, quantities
from .records import Derivation
from .errors import ParseError, SymgradError
from .model import (PRECISION, Defined, Given, Network, Neuron, absolute_tolerance, decimal,
                    exact, numeric, seed_samples)

__all__ = ["parse", "check", "CheckResult", "diagnose", "Diagnosis", "gradcheck", "GradCheck",
           "GradientMismatch", "FUNCTIONS", "NEURON_SYMBOLS", "MAX_LENGTH", "ParseError"]

# Longest text parse() reads, and the most AST nodes it builds from.
MAX_LENGTH = 500
MAX_NODES = 200
# Largest literal exponent, and how deep exponentials may nest (exp(exp(z)) is 2).
MAX_EXPONENT = 100
MAX_TOWER = 2
# Longest integer literal, in digits.
MAX_DIGITS = 30
# Seconds simplify() may spend proving two expressions equal.
SIMPLIFY_SECONDS = 2.0

# The functions an answer may call, and how many arguments each takes (None: two or more).
FUNCTIONS = {
    "exp": (exp, 1),
    "log": (log, 1),
    "sqrt": (sqrt, 1),
    "sigmoid": (lambda z: 1 / (1 + exp(-z)), 1),
    "tanh": (tanh, 1),
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
    and the functions exp, log, sqrt, sigmoid, tanh, relu, Heaviside, abs, max, min
    (SymPy's spellings Abs, Max and Min too), and the constants E and pi.

    >>> parse("2*(a - y)*sigmoid(z)*(1 - sigmoid(z))*x")
    x*(1 - 1/(1 + exp(-z)))*(2*a - 2*y)/(1 + exp(-z))
    >>> parse("q + 1")
    Traceback (most recent call last):
    ...
    symgrad.errors.ParseError: unknown name 'q'; allowed: a, y, z, x, w, b
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
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ParseError(f"cannot read {text.strip()!r}: {error.msg} at position "
                      f"{error.offset}; write multiplication with *") from None
    nodes = sum(1 for _ in ast.walk(tree))
    if nodes > MAX_NODES:
        raise ParseError(f"the formula has {nodes} parts; at most {MAX_NODES}")
    table = _symbol_table(symbols)
    _Validator(table).visit(tree)
    result = _Builder(table).visit(tree.body)
    if result.has(zoo, oo, -oo, nan):
        raise ParseError(f"{text.strip()!r} divides by zero or is infinite")
    return result


class _Validator(ast.NodeVisitor):
    """Walk the whole tree before anything is built: only whitelisted nodes pass."""

    def __init__(self, table: dict[str, Symbol]):
        self.table = table
        self.tower = 0

    def generic_visit(self, node):
        raise ParseError(f"{_describe(node)} is not allowed in a formula; use numbers, "
                      f"{', '.join(self.table)}, + - * / ** and {', '.join(FUNCTIONS)}")

    def visit_Expression(self, node):
        self.visit(node.body)

    def visit_Constant(self, node):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParseError(f"{value!r} is not a number; only numbers and names are allowed")
        if isinstance(value, int) and len(str(abs(value))) > MAX_DIGITS:
            raise ParseError(f"a number with more than {MAX_DIGITS} digits is not allowed")
        if isinstance(value, float) and not math.isfinite(value):
            raise ParseError("numbers must be finite")

    def visit_Name(self, node):
        if node.id in CONSTANTS and node.id not in self.table:
            return
        if node.id not in self.table and not self.table:
            raise ParseError(f"unknown name {node.id!r}: a number is expected here")
        if node.id not in self.table:
            kind = "a function, call it with brackets" if node.id in FUNCTIONS else None
            raise ParseError(f"{node.id!r} is {kind}" if kind else
                          f"unknown name {node.id!r}; allowed: {', '.join(self.table)}")

    def visit_UnaryOp(self, node):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise ParseError(f"{_describe(node.op)} is not allowed; use + - * / **")
        self.visit(node.operand)

    def visit_BinOp(self, node):
        if not isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)):
            raise ParseError(f"{_describe(node.op)} is not allowed; use + - * / **")
        self.visit(node.left)
        if isinstance(node.op, ast.Pow):
            exponent = _literal(node.right)
            if exponent is not None and abs(exponent) > MAX_EXPONENT:
                raise ParseError(f"exponents above {MAX_EXPONENT} are not allowed")
            self._nested(node.right)
        else:
            self.visit(node.right)

    def visit_Call(self, node):
        if isinstance(node.func, ast.Name) and node.func.id in ALIASES:
            node.func.id = ALIASES[node.func.id]
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else _describe(node.func)
            raise ParseError(f"{name!r} is not a function you can call; functions: "
                          f"{', '.join(FUNCTIONS)}")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise ParseError(f"{node.func.id}() takes plain arguments, no keywords or *")
        arity = FUNCTIONS[node.func.id][1]
        if arity is None and len(node.args) < 2 or arity is not None and len(
                node.args) != arity:
            wanted = "two or more arguments" if arity is None else f"{arity} argument"
            raise ParseError(f"{node.func.id}() takes {wanted}, not {len(node.args)}")
        for argument in node.args:
            if node.func.id in _EXPONENTIALS:
                self._nested(argument)
            else:
                self.visit(argument)

    def _nested(self, node):
        """Visit an exponent: exponentials inside exponentials count towards a tower."""
        self.tower += 1
        if self.tower > MAX_TOWER:
            raise ParseError(f"exponentials nested more than {MAX_TOWER} deep (a power tower) "
                          "are not allowed")
        self.visit(node)
        self.tower -= 1


def _literal(node) -> float | None:
    """The value of a (signed) number literal, else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _literal(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
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
    """Build SymPy objects from a validated tree."""

    def __init__(self, table: dict[str, Symbol]):
        self.table = table

    def visit_Constant(self, node):
        return exact(node.value if isinstance(node.value, int) else repr(node.value))

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
        if right.is_number and abs(complex(right.evalf(15))) > MAX_EXPONENT:
            raise ParseError(f"exponents above {MAX_EXPONENT} are not allowed")
        return left ** right

    def visit_Call(self, node):
        return FUNCTIONS[node.func.id][0](*(self.visit(a) for a in node.args))


# --- checking answers ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CheckResult:
    """Whether an answer is right: ``kind`` is ``exact`` (the same), ``equivalent``
    (proved equal by simplify), ``numeric`` (equal within tolerance, or at random points
    when a proof took too long) or ``wrong``."""

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

    Numbers compare within ``tolerance`` (``"1%"`` relative, or an absolute number).
    Formulas compare by ``simplify(answer - expected) == 0`` within a time bound,
    falling back to evaluation at random points, so a hard formula never hangs.

    >>> check("-1.6", "-8/5").kind, check("-1.601", -1.6).kind, check("1.6", -1.6).kind
    ('exact', 'numeric', 'wrong')
    >>> check("sigmoid(z)*(1 - sigmoid(z))", "exp(-z)/(1 + exp(-z))^2").kind
    'equivalent'
    >>> check("sigmoid(z)", "exp(-z)/(1 + exp(-z))^2").feedback[:30]
    'Not equivalent: the two differ'
    """
    answer = _as_expression(answer, symbols, "answer")
    expected = _as_expression(expected, symbols, "expected")
    expected = expected.xreplace({g: g.value for g in expected.atoms(Given)})
    if answer == expected:
        return CheckResult(True, "exact", "Correct.")
    free = answer.free_symbols | expected.free_symbols
    if not free:
        difference = abs(float((answer - expected).evalf(30)))
        if difference <= float(absolute_tolerance(tolerance, expected).evalf(30)):
            return CheckResult(True, "numeric", "Correct (within the tolerance).")
        return CheckResult(False, "wrong", f"Not equal to the expected value: {decimal(answer)[0]}"
                                           f" is off by {difference:.3g}.")
    point = _counterexample(answer, expected, sorted(free, key=str))
    if point is not None:
        where = ", ".join(f"{name} = {value}" for name, value in point)
        return CheckResult(False, "wrong", f"Not equivalent: the two differ at {where}.")
    if _proved_equal(answer, expected):
        return CheckResult(True, "equivalent", "Correct: equivalent to the expected formula.")
    return CheckResult(True, "numeric", "Correct: equal to the expected formula at every "
                                        "point tried.")


def _counterexample(answer: Expr, expected: Expr, free, tries: int = 12):
    """A point where the formulas differ, else None (as Numbas checks formulas)."""
    rng = random.Random(f"{answer}|{expected}")
    checked = 0
    for _ in range(tries * 5):
        point = [(symbol, Rational(rng.randint(-2000, 2000), 1000)) for symbol in free]
        at = dict(point)
        try:
            want = complex(expected.evalf(30, subs=at))
            got = complex(answer.evalf(30, subs=at))
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            continue
        if not all(math.isfinite(v.real) and math.isfinite(v.imag) for v in (want, got)):
            continue
        if abs(want.imag) > 1e-12:
            continue  # outside the expected formula's real domain
        if abs(got - want) > 1e-9 * (1 + abs(want)):
            return [(str(symbol), decimal(value)[0]) for symbol, value in point]
        checked += 1
        if checked == tries:
            break
    return None


def _proved_equal(answer: Expr, expected: Expr) -> bool:
    """``simplify(answer - expected) == 0``, given up after SIMPLIFY_SECONDS."""
    outcome: list[bool] = []

    def work():
        try:
            outcome.append(simplify(answer - expected) == 0)
        except Exception:  # noqa: BLE001 - a failed proof is no proof
            outcome.append(False)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(SIMPLIFY_SECONDS)
    return bool(outcome and outcome[0])


# --- diagnosis ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The verdict on a learner's number for one quantity, and which mistakes it matches."""

    quantity: str
    correct: bool
    mistakes: tuple[Mistake, ...]
    message: str

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
        return f" (z = {shown(d.forward[0].z.value)}, ŷ = {shown(d.forward[0].prediction.value)})"
    if name == "missing_mean":
        return f" (n = {len(d.samples)})"
    if name == "missing_learning_rate":
        return f" (α = {shown(d.learning_rate)})"
    return ""


def _comparable(value: Expr) -> Expr:
    """A value to compare with: exact, or PRECISION digits where it refers to named exact
    values (a network's), whose definitions are a chain of earlier names."""
    return numeric(value, PRECISION) if value.atoms(Defined) else value


def diagnose(neuron: Neuron | Network, quantity: str, answer, *, samples=None,
             learning_rate="0.1", tolerance="1%") -> Diagnosis:
    """Say whether ``answer`` is the right value of ``quantity`` (``dL/dw``, ``w_new``,
    ``loss``, ...; for a network also ``a2_1``, ``delta1_2``, ``dL/dw1_2_1``) and, if not,
    which known mistake gives that value.

    >>> diagnose(Neuron(weights="0.5", bias="0.1"), "dL/dw", "1.6").message
    'your value equals (y - ŷ) used instead of (ŷ - y), which flips the sign'
    """
    d = derive(neuron, seed_samples() if samples is None else samples,
               learning_rate=learning_rate)
    wanted = {q.key: q for q in quantities(d)}
    if quantity not in wanted:
        raise SymgradError(f"unknown quantity {quantity!r}; choose one of: {', '.join(wanted)}")
    value = _as_expression(answer, (), "answer")
    if value.free_symbols:
        raise SymgradError(f"the answer to {quantity} must be a number, not a formula in "
                           f"{', '.join(sorted(map(str, value.free_symbols)))}")
    correct = _comparable(wanted[quantity].value)
    verdict = check(value, correct, tolerance=tolerance)
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
