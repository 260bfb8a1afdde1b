"""Tests of the lesson's words and numbers over many random problems: every sentence is true
of the numbers shown, and every rounded line of working works out as printed."""

import random
import re
from decimal import Decimal
from functools import lru_cache

import mpmath

from sympy import (Abs, Expr, Max, Min, Rational, diff, erf, exp, lambdify, log, pi, sign, sqrt,
                   tanh)

from symgrad import Neuron, Sample, worked_example
from symgrad.assess.checks import parse
from symgrad.maths.activations import ACTIVATIONS, custom
from symgrad.maths.derive import TINY, step_numbers
from symgrad.errors import SymgradError
from symgrad.maths.losses import LOSSES
from symgrad.maths.model import (MAX_DIGITS, Given, Layer, Network, decimal, latex_decimal,
                                 numeric, rounded)
from symgrad.maths.records import Z
from symgrad.views.render import LessonPrinter
from symgrad.maths.working import sign as working_sign

R = Rational
# How many random problems each property is checked on (a fixed seed: the same every run).
ROUNDING_PROBLEMS = 500


# --- Random problems ------------------------------------------------------------------------

def _grid(rng: random.Random, low=-2, high=2) -> Rational:
    """A small decimal such as -1.3 or 0.75 (steps of 0.1 or 0.25)."""
    step = rng.choice((R(1, 10), R(1, 4)))
    return step * rng.randint(int(low / step), int(high / step))


def _target(rng: random.Random, loss: str) -> Rational:
    return rng.choice((R(0), R(1), R(1, 4), R(1, 2), R(3, 4))) if loss == "bce" else _grid(rng)


def _neuron(rng: random.Random):
    """A random neuron and batch; some sit exactly at a kink (z = 0) or on target (ŷ = y)."""
    activation = rng.choice(sorted(ACTIVATIONS))
    loss = rng.choice(sorted(LOSSES))
    if loss == "bce":
        activation = "sigmoid"  # a prediction strictly between 0 and 1
    inputs = rng.choice((1, 1, 2))
    weights = [_grid(rng) for _ in range(inputs)]
    bias = None if rng.random() < 0.15 else _grid(rng)
    # Three samples only where the values stay short (sigmoids of sums are slow to work).
    most = 3 if activation in ("identity", "relu", "leaky_relu") else 2
    samples = [Sample(x=[_grid(rng) for _ in range(inputs)], y=_target(rng, loss))
               for _ in range(min(most, rng.choice((1, 1, 1, 2, 2, 3))))]
    if bias is not None and rng.random() < 0.25:  # z = 0 in the first sample
        bias = -sum(w * x for w, x in zip(weights, samples[0].x))
    neuron = Neuron(weights=weights, bias=bias, activation=activation, loss=loss)
    if rng.random() < 0.2 and loss != "bce":  # ŷ = y in the first sample, where it is exact
        prediction = step_numbers(neuron, samples, learning_rate=1).predictions[0]
        if prediction.is_Rational:
            samples[0] = Sample(x=samples[0].x, y=prediction)
    return neuron, samples


def _network(rng: random.Random):
    """A random 2-2-1 or 2-2-2 network and batch, sometimes with frozen parameters."""
    outputs = rng.choice((1, 2))
    hidden, last = (rng.choice(("sigmoid", "tanh", "relu", "identity", "leaky_relu", "gelu",
                                "silu", "elu", "softsign"))
                    for _ in range(2))
    loss = rng.choice(sorted(LOSSES))
    if loss == "bce":
        last = "sigmoid"
    biased = rng.random() < 0.8
    layers = [Layer([[_grid(rng, -1, 1) for _ in range(2)] for _ in range(2)],
                    [_grid(rng, -1, 1) for _ in range(2)] if biased else None, hidden),
              Layer([[_grid(rng, -1, 1) for _ in range(2)] for _ in range(outputs)],
                    [_grid(rng, -1, 1) for _ in range(outputs)] if biased else None, last)]
    frozen = rng.choice(((),) * 6 + (("layer1",), ("w",)) + ((("b",),) if biased else ()))
    network = Network(layers=layers, loss=loss, frozen=frozen)
    samples = [Sample(x=[_grid(rng) for _ in range(2)],
                      y=[_target(rng, loss) for _ in range(outputs)])
               for _ in range(rng.choice((1, 1, 2)))]
    return network, samples


@lru_cache(maxsize=None)
def _problems(count: int, seed: int) -> tuple:
    """``count`` rendered random problems: (derivation, digits, Markdown), a seeded draw;
    a problem symgrad refuses (log(0), a target out of range) is drawn again."""
    rng = random.Random(seed)
    found = []
    while len(found) < count:
        model, samples = (_network if rng.random() < 0.3 else _neuron)(rng)
        options = dict(learning_rate=rng.choice(("0.1", "0.05", "0.5", "1", "2")),
                       steps=rng.choice((1,) * 8 + (2, 3)), digits=rng.choice((3, 4, 4, 5)),
                       glossary=False)
        if options["steps"] > 1 and rng.random() < 0.5:
            options["tolerance"] = rng.choice(("0.01", "0.5", "2"))
        if rng.random() < 0.3:  # another optimizer, an L2 penalty
            options["optimizer"] = rng.choice(_OPTIMIZERS)
            if options["optimizer"] != "adamw" and rng.random() < 0.5:
                options |= dict(l2=rng.choice(("0.01", "0.5")), l2_biases=rng.random() < 0.3)
        try:
            example = worked_example(model, samples, **options)
            text = example.to_markdown()
        except SymgradError:
            continue
        found.append((example.derivation, options["digits"], text))
    for model, samples, options in _chosen() + _derive_steps_problems():
        example = worked_example(model, samples, glossary=False, **options)
        found.append((example.derivation, options.get("digits", 4), example.to_markdown()))
    return tuple(found)


_OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")


def _chosen():
    """Problems chosen for the sentences a random draw seldom reaches."""
    net = Network(layers=[Layer([["0.15", "0.2"], ["0.25", "0.3"]], ["0.35", "0.35"]),
                          Layer([["0.4", "0.45"], ["0.5", "0.55"]], ["0.6", "0.6"])],
                  loss="half_squared")
    sample = Sample(x=["0.05", "0.1"], y=["0.01", "0.99"])
    classifier = Network(layers=[
        Layer([["0.5", "-0.2"], ["0.1", "0.4"]], ["0.1", "-0.1"], "relu"),
        Layer([["0.3", "-0.5"], ["0.2", "0.6"], ["-0.4", "0.1"]], ["0", "0.1", "-0.1"],
              "softmax")], loss="cross_entropy")
    classes = [Sample(x=["1", "2"], y=3), Sample(x=["-1", "0.5"], y=["0.2", "0.5", "0.3"])]
    softmax_squared = Network(layers=[Layer([["1", "-1"], ["0.5", "0.5"], ["-1", "0.25"],
                                             ["0", "1"]], None, "softmax")], loss="squared")
    multi_label = Network(layers=[Layer([["0.5", "-1"], ["1", "0.25"]], ["0", "0.1"], "tanh"),
                                  Layer([["0.5", "-1"], ["1", "0.25"], ["-0.5", "0.5"]], None,
                                        "sigmoid")], loss="bce")
    return [
        # a softmax classifier with cross-entropy: the Jacobian and the cancellation
        (classifier, classes, dict(matrix=True, show="all")),
        (classifier, classes[:1], dict(learning_rate="0.5", digits=5)),
        # a softmax with squared error (the Jacobian only), sigmoid outputs with bce per output
        (softmax_squared, [Sample(x=["0.5", "-1"], y=[0, 1, 0, 0])], {}),
        (multi_label, [Sample(x=["1", "2"], y=[1, 0, 1])], {}),
        # exactly 0 for a zero input, not for the saturation beside it; a saturated softmax,
        # whose ∂L/∂a_j = 0 for the classes that are not the target says nothing
        (Neuron(weights="1", bias="10", activation="sigmoid"), [Sample(x=0, y=0)], {}),
        (Network(layers=[Layer([["20", "0"], ["0", "0"], ["-20", "0"]], ["0", "0", "0"],
                               "softmax")], loss="cross_entropy"), [Sample(x=["1", "0"], y=1)],
         {}),
        # a loss change past 50 digits (tanh at 50, its slope 10^-43), and a tiny input (a
        # saturated sigmoid's output), which is not 0
        (Neuron(weights=50, activation="tanh", loss="mae"), [Sample(x=1, y=-1)], {}),
        (Network(layers=[Layer([[-50, -10], [-1, -20]], [20, 0], "sigmoid"),
                         Layer([[10, 50], [-10, -1]], [0, "-0.5"], "tanh")], loss="squared"),
         [Sample(x=[1, -1], y=[0, 1])], {}),
        # ŷ = σ(-150) moves 10^-64 towards y = 1/2: closer, past 30 digits
        (Neuron(weights=-50, bias=-50, activation="sigmoid", loss="bce"),
         [Sample(x=2, y="0.5")], dict(learning_rate="1")),
        # a loss of exactly 1 that moves past 50 digits: not "from 1 to ≈ 1.000"
        (Neuron(weights="0.5", bias=None), [Sample(x="1e-11", y="1.000000000005")],
         dict(learning_rate="1e-30")),
        # the loss after the step is exactly 0 (seed lesson 001)
        (Neuron(weights="0.5", bias="0.1"), [Sample(x=2, y="1.5")], {}),
        # the step lands just as high on the other side
        (Neuron(weights=0, bias=0), [Sample(x=1, y=1)], dict(learning_rate="0.5")),
        # ... with tiny gradients
        (Neuron(weights="0.5", bias=0), [Sample(x=1, y="0.4999")], dict(learning_rate="0.5")),
        # a network worked in part, in matrices, over a loop
        (net, [sample], dict(learning_rate="0.5", show=("w2_1_1",), matrix=True, steps=2)),
        (net, [sample], dict(learning_rate="0.5", show=(), steps=2, digits=5)),
        # a batch in matrix form: a neuron (one sample and two), a network of two samples
        (Neuron(weights=("0.5", "-0.25"), bias="0.1", activation="sigmoid", loss="mse"),
         [Sample(x=("1", "2"), y=1), Sample(x=("2", "-1"), y="0.5")], dict(matrix=True)),
        (Neuron(weights="0.5", bias="0.1"), [Sample(x=2, y="1.5")], dict(matrix=True)),
        (Neuron(weights=("1", "-0.5"), activation="relu"),
         [Sample(x=("1", "2"), y=1), Sample(x=("2", "1"), y="0.5"), Sample(x=("-1", "1"), y=0)],
         dict(matrix=True)),
        (Network(layers=net.layers, loss="mse"),
         [sample, Sample(x=["1", "-1"], y=["0.5", "0.25"])], dict(matrix=True)),
        # ... and the same batch with an L2 penalty, which the matrices do not show
        (Network(layers=net.layers, loss="mse"),
         [sample, Sample(x=["1", "-1"], y=["0.5", "0.25"])], dict(matrix=True, l2="0.1")),
        # every optimizer over a loop, a penalty, a network with Adam
        *((Neuron(weights=["0.5", "-1"], bias="0.1"), [Sample(x=["2", "1"], y="1.5")],
           dict(optimizer=name, steps=3)) for name in _OPTIMIZERS),
        (Neuron(weights="0.5", bias="0.1"), [Sample(x=2, y="1.5")],
         dict(l2="0.1", steps=2, tolerance="0.001")),
        (Neuron(weights="0.5", bias="0.1"), [Sample(x=2, y="1.5")],
         dict(l2="0.1", l2_biases=True, optimizer="adam", steps=2)),
        (net, [sample], dict(learning_rate="0.5", optimizer="adam", l2="0.01", steps=2)),
        # GELU at its turning point (tiny gradients that are not saturation), SiLU and GELU
        # in a loop, ELU and softsign exactly at z = 0 (no kink)
        (Neuron(weights="0.5", bias="-1.25", activation="gelu"), [Sample(x=1, y=0)], {}),
        (Neuron(weights=["0.5", "1"], bias="-1.25", activation="gelu"),
         [Sample(x=[1, 0], y=0), Sample(x=[-1, "0.5"], y=0)], {}),
        (Neuron(weights="0.5", bias="0.1", activation="silu"), [Sample(x=2, y="1.5")],
         dict(steps=3)),
        (Neuron(weights="0.5", bias="-1", activation="elu"), [Sample(x=2, y="1.5")], {}),
        (Neuron(weights="0.5", bias="-1", activation="softsign", loss="huber"),
         [Sample(x=2, y="1.5")], {}),
        (Network(layers=[Layer([["0.5", "-1"], ["1", "0.25"]], ["-0.5", "0"], "gelu"),
                         Layer([["0.3", "0.2"]], ["0.1"], "silu")], loss="mse"),
         [Sample(x=["0.5", "1"], y="0.25")], {}),
        # losses that differ past the usual digits (100000.0 to 99999.99 and further), and
        # a penalised loss that goes down by a share of 10^-9
        *((Neuron(weights="1", bias="99999", activation="softplus", loss="mae"),
           [Sample(x=1, y=0)], dict(learning_rate=rate)) for rate in ("0.005", "1e-7")),
        (Neuron(weights="1", bias="99999", activation="softplus", loss="mae"),
         [Sample(x=1, y=0)], dict(learning_rate="1e-9", l2="0.1")),
    ]


def _derive_steps_problems():
    """Problems with --derive-steps: activations and losses of each kind of rule, a custom
    formula, and softmax classifiers (its Jacobian; with cross-entropy the cancellation)."""
    classifier = [Layer([["0.5", "-0.2"], ["0.1", "0.4"]], ["0.1", "-0.1"], "tanh"),
                  Layer([["0.3", "-0.5"], ["0.2", "0.6"], ["-0.4", "0.1"]], ["0", "0.1", "-0.1"],
                        "softmax")]
    steps = dict(derive_steps=True)
    return [
        *((Neuron(weights="0.5", bias="0.1", activation=activation, loss=loss),
           [Sample(x=2, y=1)], steps)
          for activation, loss in (("sigmoid", "bce"), ("identity", "squared"),
                                   ("relu", "mse"), ("leaky_relu", "mae"), ("softplus", "huber"),
                                   ("gelu", "half_squared"), ("silu", "squared"),
                                   ("elu", "huber"), ("softsign", "mae"), ("tanh", "mse"))),
        (Neuron(weights="0.5", bias="0.1", activation=custom(parse("z/(1+abs(z))",
                                                                   symbols=("z",)))),
         [Sample(x=2, y="1.5")], steps),
        (Network(layers=classifier, loss="cross_entropy"), [Sample(x=["1", "2"], y=3)], steps),
        (Network(layers=classifier, loss="squared"), [Sample(x=["1", "2"], y=[0, 0, 1])], steps),
    ]


def _pool() -> tuple:
    """The problems both properties are checked on, drawn once per session."""
    return _problems(ROUNDING_PROBLEMS, 12)


# --- Reading the printed maths back ------------------------------------------------------------

_TOKEN = re.compile(r"\s*(\\left\(|\\right\)|\\left\|\{?|\}?\\right\||\\frac|\\sqrt|\\cdot|\\log|\\tanh"
                    r"|\\max|\\min|\\sigma|\\operatorname\{sign\}|e\^|[0-9]+(?:\.[0-9]+)?"
                    r"|[-+(){}^,])")
_TOKEN = re.compile(r"\s*(\\left\(|\\right\)|\\left\|\{?|\}?\\right\||\\frac|\\cdot|\\log|\\tanh"
                    r"|\\max|\\min|\\sigma|\\operatorname\{sign\}|\\operatorname\{erf\}|\\Phi"
                    r"|\\varphi|\\sqrt|\\pi|e\^|[0-9]+(?:\.[0-9]+)?|[-+(){}^,])")
# The printed functions, written out by hand: σ, GELU's erf, Φ (the normal distribution
# function) and φ (its density).
_FUNCTIONS = {r"\log": log, r"\tanh": tanh, r"\operatorname{sign}": sign,
              r"\sigma": lambda v: 1 / (1 + exp(-v)), r"\operatorname{erf}": erf,
              r"\Phi": lambda v: (1 + erf(v / sqrt(2))) / 2,
              r"\varphi": lambda v: exp(-v ** 2 / 2) / sqrt(2 * pi)}


class _Unreadable(ValueError):
    """Printed maths that is not numbers alone (a symbol, a matrix, a case split)."""


def _tokens(text: str) -> list[str]:
    found, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _Unreadable(text[position:position + 20])
        found.append(match.group(1))
        position = match.end()
    return found


class _Reader:
    """A recursive-descent reader of the LaTeX of numbers-in lines, to exact SymPy: decimals
    are read as the Rationals they print, so the line is worked from the printed numbers."""

    STARTS = {r"\left(", r"\left|", r"\left|{", r"\frac", r"\log", r"\tanh", r"\max", r"\min",
              r"\operatorname{erf}", r"\Phi", r"\varphi", r"\sqrt", r"\pi",
              r"\sigma", r"\operatorname{sign}", "e^", "(", "{"}

    def __init__(self, text: str):
        self.tokens = _tokens(text)
        self.position = 0

    def peek(self):
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, *expected):
        token = self.peek()
        if token is None or (expected and token not in expected):
            raise _Unreadable(f"expected {expected}, found {token!r}")
        self.position += 1
        return token

    def read(self) -> Expr:
        value = self.sum()
        if self.peek() is not None:
            raise _Unreadable(f"left over: {self.tokens[self.position:]}")
        return value

    def sum(self) -> Expr:
        value = self.product()
        while self.peek() in ("+", "-"):
            value = value + self.product() if self.take() == "+" else value - self.product()
        return value

    def product(self) -> Expr:
        value = self.unary()
        while True:
            if self.peek() == r"\cdot":
                self.take()
                value = value * self.unary()
            elif self.peek() in self.STARTS or _is_number(self.peek()):
                value = value * self.unary()  # juxtaposed: 2\left(1.1 - 1.5\right)
            else:
                return value

    def unary(self) -> Expr:
        if self.peek() == "-":
            self.take()
            return -self.unary()
        return self.power()

    def power(self) -> Expr:
        value = self.atom()
        if self.peek() == "^":
            self.take()
            value = value ** self.group()
        return value

    def group(self) -> Expr:
        self.take("{")
        value = self.sum()
        self.take("}")
        return value

    def atom(self) -> Expr:
        token = self.take()
        if _is_number(token):
            return Rational(token)
        if token == r"\left(":
            value = self.sum()
            self.take(r"\right)")
            return value
        if token == "(":
            value = self.sum()
            self.take(")")
            return value
        if token == "{":
            value = self.sum()
            self.take("}")
            return value
        if token in (r"\left|", r"\left|{"):
            value = self.sum()
            self.take(r"\right|", r"}\right|")
            return Abs(value)
        if token == r"\frac":
            top = self.group()
            return top / self.group()
        if token == r"\sqrt":
            return sqrt(self.group())
        if token == "e^":
            return exp(self.group())
        if token == r"\sqrt":
            return sqrt(self.group())
        if token == r"\pi":
            return pi
        if token in (r"\max", r"\min"):
            self.take(r"\left(")
            first = self.sum()
            self.take(",")
            second = self.sum()
            self.take(r"\right)")
            return (Max if token == r"\max" else Min)(first, second)
        if token in _FUNCTIONS:
            power = None
            if self.peek() == "^":  # \tanh^{2}{\left(0.5 \right)}
                self.take()
                power = self.group()
            braced = self.peek() == "{"
            if braced:
                self.take()
            self.take(r"\left(")
            value = _FUNCTIONS[token](self.sum())
            self.take(r"\right)")
            if braced:
                self.take("}")
            return value if power is None else value ** power
        raise _Unreadable(f"unexpected {token!r}")


def _is_number(token) -> bool:
    return token is not None and token[0].isdigit()


def test_reader_reads_the_printed_forms():
    """The reader works the LaTeX forms that lines of working print, exactly."""
    assert _Reader(r"\left(-1.3329\right) \cdot 0.18737 \cdot 2").read() == R("-1.3329") * R("0.18737") * 2
    assert _Reader(r"0.5 - 0.1 \cdot \left(-0.4995\right)").read() == R("0.54995")
    assert _Reader(r"2\left(1.1 - 1.5\right)").read() == R("-0.8")
    assert _Reader(r"\frac{1.5 + \left(-0.5\right)}{2}").read() == R("0.5")
    assert _Reader(r"4.386 \cdot 10^{-4} + 1").read() == R("1.0004386")
    assert _Reader(r"\frac{1}{1 + e^{- \left(-1.3\right)}}").read() == 1 / (1 + exp(R(13, 10)))
    assert _Reader(r"1 - \tanh^{2}{\left(0.5 \right)}").read() == 1 - tanh(R(1, 2)) ** 2
    assert _Reader(r"- (1 \cdot \log{\left(0.2142 \right)} + \left(1 - 1\right) \cdot "
                   r"\log{\left(1 - 0.2142 \right)})").read() == -log(R("0.2142"))
    assert _Reader(r"\left|{0.3 - 1}\right| + \max\left(0, -1.1\right)").read() == R("0.7")
    assert _Reader(r"0.5\operatorname{sign}{\left(0.3 - 1 \right)}").read() == R("-0.5")
    assert _Reader(r"\frac{1.1}{2} \cdot \left(1 + \operatorname{erf}{\left(\frac{1.1}"
                   r"{\sqrt{2}} \right)}\right)").read() == R("0.55") * (1 + erf(R("1.1") / sqrt(2)))
    assert _Reader(r"\Phi\left(\left(-0.75\right)\right) + \left(-0.75\right) \cdot "
                   r"\varphi\left(\left(-0.75\right)\right)").read() == (
        (1 + erf(R("-0.75") / sqrt(2))) / 2
        - R("0.75") * exp(-R("0.75") ** 2 / 2) / sqrt(2 * pi))


# A relation between the parts of a line of working, at the top level.
_RELATION = re.compile(r" (=|\\approx) ")
# A number as the lessons print it, a power of ten written out.
_PRINTED = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?: \\cdot 10\^\{-?[0-9]+\})?")


def _split(line: str) -> tuple[list[str], list[str]]:
    """The parts of a line of working and the relations between them (top level only)."""
    parts, relations, depth, start = [], [], 0, 0
    position = 0
    while position < len(line):
        char = line[position]
        depth += char == "{"
        depth -= char == "}"
        match = _RELATION.match(line, position) if depth == 0 else None
        if match:
            parts.append(line[start:position])
            relations.append(match.group(1))
            start = position = match.end()
            continue
        position += 1
    parts.append(line[start:])
    return parts, relations


def _math_lines(text: str):
    """Every displayed maths line of a Markdown document, without any 'since' condition."""
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip()
        if paragraph.startswith("$$") and paragraph.endswith("$$"):
            yield paragraph[2:-2].split(r" \quad ")[0]


def _significant(text: str) -> tuple[int, int]:
    """The fewest and most significant digits a printed number may carry: a decimal point
    makes trailing zeros count; a whole number's trailing zeros may or may not."""
    mantissa = text.split(r" \cdot ")[0].lstrip("-")
    figures = mantissa.replace(".", "").lstrip("0")
    if "." in mantissa:
        return len(figures), len(figures)
    return len(figures.rstrip("0")) or 1, len(figures) or 1


def _without_subscripts(text: str) -> str:
    return re.sub(r"[_^]\{[^{}]*\}|\^\{\([0-9]+\)\}", "", text)


def test_printed_numbers_give_the_printed_results():
    """Over 500 random problems, each line of working worked from its printed numbers gives
    its printed result: rounded to the digits shown when marked ≈, exactly when marked =;
    and each ≈ result carries exactly --digits significant digits, trailing zeros kept."""
    candidates = read = rounded_lines = exact_lines = 0
    failures = []
    for d, digits, text in _pool():
        for line in _math_lines(text):
            parts, relations = _split(line)
            result = parts[-1].strip()
            if len(parts) < 2 or not _PRINTED.fullmatch(result):
                continue
            if relations[-1] == r"\approx":
                low, high = _significant(result)
                if not low <= digits <= high:
                    failures.append(f"{result} has not {digits} significant digits: {line}")
            if len(parts) < 3 or r"\begin" in line:
                continue
            numbers_in = parts[-2]
            if not re.search(r"[0-9]", _without_subscripts(numbers_in)):
                continue  # a symbolic line, such as x_{1} = 2
            candidates += 1
            try:
                value = _Reader(numbers_in).read()
            except _Unreadable:
                continue
            read += 1
            if relations[-1] == r"\approx":
                rounded_lines += 1
                worked = latex_decimal(rounded(value, digits))
                if worked != result:
                    failures.append(f"worked from the printed numbers {worked}, printed "
                                    f"{result}: {line}")
            elif relations[-2] == "=":
                exact_lines += 1
                printed = Rational(result.split(r" \cdot ")[0])  # exact results are plain
                if value != printed and numeric(value - printed, 40) != 0:
                    failures.append(f"exactly {value}, printed = {result}: {line}")
    assert not failures, "\n".join(failures[:20])
    assert read >= 0.9 * candidates, (read, candidates)
    assert rounded_lines > 2000 and exact_lines > 2000, (rounded_lines, exact_lines)


# --- Sentences and what they claim -------------------------------------------------------------

def _prose(text: str):
    """The prose of a Markdown lesson, sentence by sentence: not headings, maths lines, tables
    or lists (given numbers); a note (``> ...``) is one sentence."""
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip().removeprefix("---\n")
        step = re.fullmatch(r"[0-9]+\. (.+:)", paragraph)
        if step:  # a line of a derivation rule by rule: its rule is one sentence
            yield step.group(1)
            continue
        if not paragraph or paragraph.startswith(("#", "$$", "|", "- ", "1. ")):
            continue
        if paragraph.startswith("> "):
            yield paragraph[2:]
            continue
        hidden = []  # inline maths and code keep their full stops
        masked = re.sub(r"\$[^$]*\$|`[^`]*`", lambda m: hidden.append(m.group()) or
                        f"\0{len(hidden) - 1}\0", paragraph)
        for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z*\0])", masked):
            yield re.sub("\0([0-9]+)\0", lambda m: hidden[int(m.group(1))], sentence)


# Placeholders that may hold maths of their own (lists, reasons); others sit inside one $...$.
_LONG = {"list", "reason", "rest", "text", "formula"}
_EMPTY = {"plural", "rest"}  # placeholders that may be empty


# Braces that are LaTeX, not a placeholder: a sub- or superscript or a command's argument
# (v_{0}, \\hat{m}).
_LATEX_GROUP = re.compile(r"(?:[_^]|\\[A-Za-z]+)$")


def _pattern(text: str) -> re.Pattern:
    """A sentence of the templates as a regular expression: ``{name}`` is any text, named
    (but ``_{0}`` or ``\\hat{m}`` is LaTeX)."""
    parts, seen = [], set()
    start = 0
    for match in re.finditer(r"\{(\w+)\}", text):
        if _LATEX_GROUP.search(text, 0, match.start()) or match.group(1)[0].isdigit():
            continue
        parts += [text[start:match.start()], match.group(1)]
        start = match.end()
    parts.append(text[start:])
    regex = ""
    for i, part in enumerate(parts):
        if i % 2 == 0:
            regex += re.escape(part)
        elif part in seen:
            regex += f"(?P={part})"
        else:
            seen.add(part)
            regex += f"(?P<{part}>{'.' if part in _LONG else '[^$]'}{'*' if part in _EMPTY else '+'}?)"
    return re.compile(regex)


class _Claims:
    """The numbers of one rendered problem, as its sentences speak of them."""

    def __init__(self, d, digits: int):
        self.d, self.digits = d, digits
        printer = LessonPrinter(digits)
        self.gradients = {printer.doprint(g.symbol): g for g in d.gradients}
        self.latex = printer.doprint

    def shown(self, value) -> str:
        """As the ``shown`` filter prints it: ``0.66`` or ``\\approx 0.2689``."""
        text, is_exact = decimal(value, self.digits)
        return ("" if is_exact else r"\approx ") + latex_decimal(text)

    def told(self, before, after) -> tuple[str, str]:
        """The numbers of a "went from … to …" sentence: as ``shown`` prints them, with
        more digits (up to 50) until the printed numbers differ the way the values do."""
        rise = numeric(after - before, 60)
        texts = [decimal(value, self.digits) for value in (before, after)]
        for digits in range(self.digits, 51):
            wider = [decimal(value, digits) for value in (before, after)]
            first, second = (Decimal(text) for text, _ in wider)
            if first != second and (second > first) == (rise > 0):
                texts = wider
                break
        return tuple(("" if is_exact else r"\approx ") + latex_decimal(text)
                     for text, is_exact in texts)

    def equals(self, value) -> str:
        text = self.shown(value)
        return text if text.startswith("\\") else "= " + text

    def gradient(self, parameter: str, value: str | None = None):
        g = self.gradients[parameter]
        assert value is None or value == self.equals(g.value), (value, g.value)
        return g

    def units(self, g):
        """The unit a gradient's parameter belongs to, in every sample."""
        return [next(u for u in f.units if (u.layer, u.neuron) == (g.layer, g.neuron))
                for f in self.d.forward]

    def inputs(self, g):
        """The input a weight multiplies, in every sample."""
        if g.layer == 1:
            return [f.sample_data.x[g.source - 1] for f in self.d.forward]
        return [next(u.a.value for u in f.units if (u.layer, u.neuron) == (g.layer - 1, g.source))
                for f in self.d.forward]

    def reason(self, g, reason: str, exactly: bool):
        """A reason a zero or tiny gradient gives is true of every sample; a gradient that
        is ``exactly`` 0 is so for a factor that is exactly 0 in every sample."""
        act = self.d.activations[g.layer - 1]
        units = self.units(g)
        output = g.layer == len(self.d.network.layers)
        if reason.startswith("the prediction already equals the target"):
            targets = [f.sample_data.targets[g.neuron - 1] for f in self.d.forward]
            assert output and all(u.upstream.value == 0 and u.a.value == y
                                  for u, y in zip(units, targets)), reason
        elif reason == ("the prediction is almost on target ($\\frac{\\partial L}{\\partial "
                        "\\hat{y}}$ is almost $0$)"):
            assert output and not exactly and act.name != "softmax"
            assert all(abs(numeric(u.upstream.value)) < TINY for u in units)
            assert any(u.upstream.value != 0 for u in units)
        elif reason.startswith("no error signal reaches this neuron"):
            assert not output and all(abs(numeric(u.upstream.value)) < TINY for u in units)
            assert not exactly or all(u.upstream.value == 0 for u in units)
        elif reason.startswith("the ReLU is dead ($z < 0$"):
            assert act.name == "relu" and all(u.z.value < 0 for u in units), \
                [u.z.value for u in units]
        elif " sits exactly at its kink $z = 0$" in reason:
            assert reason.startswith(f"the {act.title} sits") and act.kink == 0
            assert all(u.z.value == 0 and u.slope.value == 0 for u in units)
        elif reason.startswith(f"the {act.title} passes no gradient back in any sample: "
                               f"$z < 0$ in some, and in the others $z = 0$, its kink"):
            assert act.kink == 0 and all(u.z.value <= 0 and u.slope.value == 0 for u in units)
            assert any(u.z.value == 0 for u in units) and any(u.z.value < 0 for u in units)
        elif reason == ("this output of the softmax is almost $0$ or $1$, so its slope "
                        "$a_j (1 - a_j)$ is almost $0$"):
            assert act.jacobian is not None and not exactly
            assert all(abs(numeric(u.delta.value)) < TINY for u in units)
            assert all(min(abs(numeric(u.a.value)), abs(numeric(1 - u.a.value))) < TINY
                       for u in units)
        elif reason.startswith(f"the {act.title} is saturated"):
            assert all(abs(numeric(u.slope.value)) < TINY for u in units)
            assert not exactly or all(u.slope.value == 0 for u in units)
            if act.jacobian is not None:  # a softmax's δ_j is no product with its slope
                assert all(abs(numeric(u.delta.value)) < TINY for u in units)
            else:
                assert not any(_turns(act, u.z.value) for u in units), "a turning point"
        elif reason == (f"the {act.title} is at a turning point, where its slope $f'(z)$ "
                        "changes sign and is almost $0$"):
            assert all(abs(numeric(u.slope.value)) < TINY for u in units)
            assert not exactly or all(u.slope.value == 0 for u in units)
            assert all(_turns(act, u.z.value) for u in units)
        elif m := re.fullmatch(r"the input multiplying \$(.+)\$ is \$0\$, so \$z\$ does not "
                               r"depend on it", reason):
            assert self.gradients[m.group(1)] is g and all(x == 0 for x in self.inputs(g))
        elif m := re.fullmatch(r"the input multiplying \$(.+)\$ is almost \$0\$, so \$z\$ "
                               r"hardly depends on it", reason):
            inputs = self.inputs(g)
            assert self.gradients[m.group(1)] is g and not exactly
            assert all(abs(numeric(x)) < TINY for x in inputs) and any(x != 0 for x in inputs)
        else:
            raise AssertionError(f"an unknown reason: {reason}")


def _turns(act, z) -> bool:
    """Whether the activation's slope, sympy.diff of f worked with mpmath, changes sign
    between z - 0.01 and z + 0.01."""
    f = act.function(Z, R(1, 100))
    slope = lambdify(Z, diff(f.xreplace({g: g.value for g in f.atoms(Given)}), Z), "mpmath")
    with mpmath.workdps(30):
        at = mpmath.mpf(str(numeric(z, 30)))
        return slope(at - mpmath.mpf("0.01")) * slope(at + mpmath.mpf("0.01")) < 0


def _sign_of_first_factor(c) -> int:
    """The sign of the first sample's ∂L/∂ŷ, the factor the lesson explains."""
    return working_sign(c.d.forward[0].units[-1].upstream.value)


def _number(value, digits) -> str:
    return latex_decimal(decimal(value, digits)[0])


def _symbols(c, gradients) -> list[str]:
    return [f"${c.latex(g.symbol)}$" for g in gradients]


def _moving(d):
    return [g for g in d.gradients if not g.frozen and g.value != 0]


def _size(value):
    return abs(numeric(value, 30))


def _check_loss_symbol(c, m):
    """``J`` (the loss with its L2 penalty) when there is a penalty, else ``L``."""
    assert m["L"] == ("J" if c.d.objective else "L"), m


def _check_optimizer(c, m, name, **settings):
    """The optimizer named, with its settings as printed."""
    o = c.d.optimizer
    assert o.name in ((name,) if isinstance(name, str) else name), (o.name, name)
    for setting, printed in settings.items():
        assert m[printed] == _number(getattr(o, setting), c.digits), (setting, m)


def _check_torch_page(c, m):
    name = {"sgd": "SGD", "momentum": "SGD", "nesterov": "SGD", "rmsprop": "RMSprop",
            "adam": "Adam", "adamw": "AdamW"}[c.d.optimizer.name]
    assert c.d.optimizer.name != "sgd" and m["name"] == m["page"] == name, m


def _check_near_rate(c, m):
    """Adam's first step moves each parameter whose gradient is not zero by α to 0.1%."""
    d = c.d
    assert d.optimizer.name == "adam" and m["rate"] == _number(d.learning_rate, c.digits)
    moving = [g for g in d.gradients if not g.frozen and g.value != 0]
    assert moving
    for g, p in zip(d.gradients, d.parameters):
        if g in moving:
            step = abs(numeric(g.update.value - p, 30))
            assert abs(step - d.learning_rate) <= d.learning_rate / 1000, (g.parameter, step)
            assert abs(numeric(g.value, 30)) >= 1000 * d.optimizer.eps


def _check_objective(c, m, down: bool):
    d = c.d
    assert d.objective is not None
    assert (m["before"], m["after"]) == c.told(d.objective.value, d.objective_after.value)
    change = numeric(d.objective_after.value - d.objective.value, 30)
    assert (change < 0) == down, change
    # the same number twice only for the same value (J's sentence for no change)
    assert m["before"] != m["after"] or change == 0, "went from a number to the same number"


def _check_penalty(c, m):
    d = c.d
    assert d.objective is not None and m["l"] == _number(d.l2, c.digits)


def _check_state_columns(c, m):
    assert c.d.iterations and c.d.iterations[0].state and c.d.optimizer.name != "sgd"


def _check_moment_columns(c, m):
    """Adam's second table: m̂ = m/(1 - β₁ᵗ) and v̂ = v/(1 - β₂ᵗ) of each step."""
    assert c.d.optimizer.name in ("adam", "adamw") and c.d.iterations[0].corrected
    o = dict(c.d.optimizer.settings)
    for t, it in enumerate(c.d.iterations, 1):
        state, corrected = dict(it.state), dict(it.corrected)
        for moment, hat, beta in (("m", "m_hat", o["beta1"]), ("v", "v_hat", o["beta2"])):
            for value, shown in zip(state[moment], corrected[hat]):
                assert abs(numeric(shown - value / (1 - beta**t), 40)) < 1e-30


def _check_steps_heading(c, m, subject):
    """A derivation of that subject is shown, with this title and function."""
    assert any(ds.subject == subject and ds.title == m["name"]
               and c.latex(ds.function) == m["function"] for ds in c.d.derivative_steps), m


# The bold name of each rule, as derive_steps.j2 words it, and the rules it may name.
_RULE_NAMES = {
    "Constant rule": ("constant",), "Identity": ("identity",), "Sum rule": ("sum",),
    "Constant factor rule": ("constant factor",), "Product rule": ("product",),
    "Quotient rule": ("quotient", "reciprocal"), "Power rule": ("power",),
    "Exponential rule": ("exponential", "exp"), "Logarithm rule": ("log",),
    "tanh rule": ("tanh",), "Sigmoid rule": ("sigmoid",), "Error function rule": ("erf",),
    "Absolute value, by cases": ("abs",), "By cases": ("cases",),
    "A step is flat": ("step",), "Differentiated by SymPy": ("sympy",),
    "Simplify": ("simplify",), "The lesson's form": ("lesson form",),
    "Only $z_j$ is in $e^{z_j}$": ("own exponential",),
    "Only the term $m = k$ of the sum holds $z_k$": ("sum of exponentials",),
    "Chain rule over the outputs": ("outputs",),
    "Only the term $i = j$ of the sum holds $a_j$": ("loss term",),
    "The softmax's Jacobian": ("jacobian",), "$a_j$ cancels": ("cancel",),
    "$\\delta_{jk}$ keeps only the term $j = k$": ("pick",),
    "A sample's targets sum to $1$": ("targets",),
}


def _check_rule_line(c, m):
    """A step of the derivation takes that rule, in the variable the line writes its
    derivative in; a chain rule's inner function and each fact used are that step's."""
    rules = _RULE_NAMES[m["text"]]
    rest = m["rest"]
    chain = re.search(r", with the \*\*chain rule\*\* for \$u = (.+?)\$", rest)
    using = rest.split(", using ", 1)
    facts = re.findall(r"\$([^$]+)\$", using[1]) if len(using) > 1 else []
    for ds in c.d.derivative_steps:
        v = c.latex(ds.variable)
        by = ("\\frac{\\partial }{\\partial %s}" if ds.partial else "\\frac{d}{d %s}") % v
        if "\\frac{d" in rest.split("$, with")[0].split("$, using")[0] and by not in rest:
            continue  # the rule is stated in another variable
        for step in ds.steps:
            if (step.rule in rules and (chain is None or (
                    step.chain and c.latex(step.inner) == chain.group(1)))
                    and all(fact in [c.latex(use) for use in step.uses] for fact in facts)):
                return
    _fail(m)


def _check_largest(c, m):
    _check_loss_symbol(c, m)
    assert c.d.optimizer.name in ("sgd", "momentum", "nesterov")  # steps follow gradients
    g = c.gradient(m["p"])
    moving = m.get("moving") is not None
    nonzero = [h for h in c.d.gradients if h.value != 0 and not (moving and h.frozen)]
    assert not g.frozen, "a frozen parameter does not move"
    assert moving == any(h.frozen for h in c.d.gradients)
    assert _size(g.value) == max(_size(h.value) for h in nonzero), "another one is larger"
    smallest = min(nonzero, key=lambda h: _size(h.value))
    assert m["ratio"] == c.shown(abs(g.value / smallest.value)), m["ratio"]


def _check_chain_shortcut(c, m):
    d = c.d
    assert not d.is_network and len(d.samples) == 1 and d.neuron.bias is not None
    bias = d.gradients[-1]
    for g, x in zip(d.gradients, d.samples[0].x):
        assert g.value == x * bias.value or numeric(g.value - x * bias.value, 30) == 0


def _check_vanishing(c, m):
    d = c.d
    peaks = [max(_size(g.value) for g in d.gradients if g.layer == l and g.source is not None)
             for l in range(1, len(d.network.layers) + 1)]
    assert int(m["last"]) == len(peaks) and peaks[-1] > 10 * peaks[0] > 0
    assert m["ratio"] == c.shown(c.d.reading.vanishing)
    ratio = numeric(peaks[-1] / peaks[0], 30)  # relatively: a ratio may be 10^12 or more
    assert abs(numeric(c.d.reading.vanishing, 30) - ratio) < ratio * 1e-20


def _check_samples_changed(c, m, rose: bool):
    d = c.d
    listed = re.findall(r"([0-9]+) \((\$[^$]*\$) → (\$[^$]*\$)\)", m["list"])
    assert ", ".join(f"{k} ({a} → {b})" for k, a, b in listed) == m["list"], m["list"]
    changed = []
    for before, after in zip(d.forward, d.forward_after):
        change = numeric(after.loss.value - before.loss.value, 30)
        if (change > 0) if rose else (change < 0):
            changed.append((str(before.sample), f"${c.shown(before.loss.value)}$",
                            f"${c.shown(after.loss.value)}$"))
    assert listed == changed, (listed, changed)
    loss_change = numeric(d.loss_after.value - d.loss.value, 30)
    assert (loss_change < 0) if rose else (loss_change > 0)


def _check_same(c, m):
    d = c.d
    listed = re.findall(r"([0-9]+) \((\$[^$]*\$)\)", m["list"])
    assert ", ".join(f"{k} ({a})" for k, a in listed) == m["list"], m["list"]
    same = [(str(before.sample), f"${c.shown(before.loss.value)}$")
            for before, after in zip(d.forward, d.forward_after)
            if working_sign(after.loss.value - before.loss.value) == 0]
    assert listed == same, (listed, same)
    assert working_sign(d.loss_after.value - d.loss.value) < 0
    for before, after in zip(d.forward, d.forward_after):
        assert working_sign(after.loss.value - before.loss.value) <= 0, "a loss rose"


def _check_every_sample_down(c, m):
    d = c.d
    assert len(d.samples) > 1
    for before, after in zip(d.forward, d.forward_after):
        assert numeric(after.loss.value - before.loss.value, 30) < 0, \
            f"sample {before.sample}'s loss did not go down"


def _check_closer(c, m):
    d = c.d
    assert len(d.samples) == 1 and d.network.layers[-1].width == 1
    y = d.samples[0].targets[0]
    before, after = (abs(f.prediction.value - y) for f in (d.forward[0], d.forward_after[0]))
    # worked past the cancellation: ŷ = σ(-150) moves by 10^-64 from 1/2 away
    closer = numeric(after - before, 10)
    assert closer < 0, f"|ŷ - y| went from {numeric(before, 30)} to {numeric(after, 30)}"


def _check_loss_down(c, m, batch: bool, outputs: int | None):
    d = c.d
    assert (len(d.samples) > 1) == batch
    assert outputs is None or (d.network.layers[-1].width > 1) == (outputs > 1)
    assert (m["before"], m["after"]) == c.told(d.loss.value, d.loss_after.value)
    assert m["before"] != m["after"], "went down from a number to the same number"
    assert numeric(d.loss_after.value - d.loss.value, 30) < 0


def _check_unseen_change(c, m, objective: bool, down: bool):
    """A change the loss's first MAX_DIGITS significant digits do not show, told with its
    direction: worked to more digits, the values differ that way."""
    d = c.d
    before, after = ((d.objective, d.objective_after) if objective else
                     (d.loss, d.loss_after))
    assert (d.objective is not None) == objective
    assert int(m["n"]) == MAX_DIGITS and m["before"] == c.shown(before.value)
    assert m["after"] == c.shown(after.value)
    # the same number to MAX_DIGITS digits (an exact 1 beside ≈ 1.000 too)
    assert Decimal(decimal(before.value, MAX_DIGITS)[0]) == Decimal(
        decimal(after.value, MAX_DIGITS)[0])
    rise = numeric(after.value - before.value, 10)  # worked past its cancellation
    assert (rise < 0) if down else (rise > 0), rise


def _check_stayed(c, m, tiny: bool | None):
    d = c.d
    assert m["before"] == c.shown(d.loss.value)
    # Equal, or the same value worked twice (named values carry PRECISION = 60 digits).
    assert abs(numeric(d.loss_after.value - d.loss.value, 40)) < 1e-50
    moving = _moving(d)
    if tiny is None:
        assert not moving, "a gradient is not zero"
    else:
        assert moving and all(_size(g.value) < TINY for g in moving) == tiny


def _check_gradient(c, m, kind: str):
    g = c.gradient(m["p"], m.get("value"))
    if "L" in m:  # the loss the gradient is of: J with an L2 penalty on p
        assert m["L"] == ("J" if g.penalty is not None else "L"), (m, g.penalty)
    if kind == "tiny":  # a tiny gradient barely moves p only where steps follow gradients
        assert c.d.optimizer.name in ("sgd", "momentum", "nesterov")
    if kind == "frozen":
        assert g.frozen
        return
    assert not g.frozen
    if kind in ("negative", "positive"):
        value = numeric(g.value, 30)
        assert (value < 0) if kind == "negative" else (value > 0), (kind, g.value)
        return
    if kind == "tiny":
        assert 0 < _size(g.value) < TINY
    else:
        assert g.value == 0 or numeric(g.value, 40) == 0, g.value
    if "reason" in m:
        c.reason(g, m["reason"], exactly=kind != "tiny")
    if kind == "kink":
        assert "sits exactly at its kink" in m["reason"]


def _check_sample_row(c, m):
    f = c.d.forward[int(m["k"]) - 1]
    assert m["x"] == ", ".join(_number(x, c.digits) for x in f.sample_data.x)
    assert m["y"] == ", ".join(_number(y, c.digits) for y in f.sample_data.targets)


def _check_sample_symbols(c, m):
    """A neuron's sample row: each input and the target in that sample's own symbols."""
    f = c.d.forward[int(m["k"]) - 1]
    pairs = [*zip(f.input_symbols, f.sample_data.x), (f.target_symbols[0], f.sample_data.y)]
    assert not c.d.is_network and m["list"] == ", ".join(
        f"${c.latex(symbol)} = {_number(value, c.digits)}$" for symbol, value in pairs), m


def _check_chain_symbols(c, m):
    """The chain's symbols are the lesson's (``L^{(i)}`` in a batch) and its list is right."""
    d = c.d
    assert (m["loss"], m["yhat"], m["z"]) == (c.latex(d.loss_symbol), c.latex(
        d.prediction_symbol), c.latex(d.z_symbol)), m
    _check_parameter_list(c, m)


def _check_other_convention(c, m):
    """At a kink, the gradient f'(0) = 1 would give: the chain with that slope."""
    d = c.d
    g = c.gradient(m["p"])
    assert g.cause == "at_kink" and not d.is_network
    units = c.units(g)
    local = [1] * len(units) if g.source is None else c.inputs(g)
    scale = Rational(1, len(d.samples)) if d.loss_function.reduction == "mean" else 1
    expected = scale * sum(u.upstream.value * (1 if u.z.value == 0 else u.slope.value) * x
                           for u, x in zip(units, local))
    assert m["value"] == c.equals(expected), (m["value"], expected)


def _check_given_list(c, m, pairs):
    assert m["list"] == ", ".join(f"${left} = {_number(value, c.digits)}$"
                                  for left, value in pairs), m["list"]


def _check_network_loss(c, m, batch: bool):
    d = c.d
    outputs = d.network.layers[-1].width
    assert m["reduction"] == d.network.outputs and m["loss"] == d.loss_function.title
    assert int(m["n"]) == outputs and (m["plural"] == "s") == (outputs > 1)
    assert (len(d.samples) > 1) == batch
    if batch:
        assert m["batch_reduction"] == d.loss_function.reduction
        assert int(m["m"]) == len(d.samples)


def _check_parameter_list(c, m):
    d = c.d
    names = _symbols(c, d.gradients)
    expected = (", ".join(names[:-1]) + " and " + names[-1]) if len(names) > 1 else names[0]
    assert m["list"] == expected


def _check_new_parameters(c, m):
    assert m["list"] == ", ".join(f"${c.latex(g.symbol)} {c.equals(g.update.value)}$"
                                  for g in c.d.gradients)


def _check_steps(c, m, converged: bool):
    d = c.d
    n = int(m["n"])
    assert n == len(d.iterations) and (m["plural"] == "s") == (n != 1)
    if converged:
        assert d.converged and m["tol"] == _number(d.tolerance, c.digits)
        assert numeric(d.final_loss, 30) < d.tolerance
    else:
        assert m["loss"] == c.shown(d.final_loss)


def _check_no_batch_matrices(c, m, penalty: bool):
    """A network's batch asked for in matrix form (its samples' matrices are there) is left
    out for the reason given: the step follows an L2 penalty, or a softmax layer's δ."""
    d = c.d
    assert d.is_network and len(d.samples) > 1 and d.matrices and not d.batch_matrices, m
    assert bool(d.l2) == penalty, m
    assert penalty or any(act.name == "softmax" for act in d.activations), m
    return True


def _check_batch(c, m, samples, network):
    """The batch section names the samples the problem has, for its kind of model."""
    n = len(c.d.samples)
    assert c.d.batch_matrices and c.d.is_network == network, m
    assert (samples is None or n == samples) and ("n" not in m or int(m["n"]) == n) and (
        samples is not None or "n" in m or n > 1 or network), m
    return True


def _check_batch_rows(c, m):
    """Each row of G and Δ is one sample's: the batch's values, row by row, are the
    per-sample units' ∂L/∂a and δ."""
    for b in c.d.batch_matrices:
        for s, f in enumerate(c.d.forward):
            units = [u for u in f.units if u.layer == b.layer]
            assert [g.value for g in b.upstream.row(s)] == [u.upstream.value for u in units]
            assert [g.value for g in b.delta.row(s)] == [u.delta.value for u in units]
            assert [g.value for g in b.z.row(s)] == [u.z.value for u in units]
    return True


def _check_batch_gradients(c):
    """The matrix products give the gradients of the worked step, entry by entry."""
    d = c.d
    for b in d.batch_matrices:
        rows = [g for g in d.gradients if g.layer == b.layer]
        weights = [g for g in rows if g.source is not None]
        shown = b.weight_gradient if d.is_network else b.weight_gradient.T
        flat = [shown[j, k].value for j in range(shown.rows) for k in range(shown.cols)]
        assert _same(flat, [g.value for g in weights]), (flat, [g.value for g in weights])
        if b.bias_gradient is not None:
            assert _same([g.value for g in b.bias_gradient],
                         [g.value for g in rows if g.source is None])
    return True


def _same(values, others) -> bool:
    """Equal, exactly (named values are compared by their numbers, to 40 digits)."""
    return len(values) == len(others) and all(
        a == b or abs(numeric(a - b, 40)) < R(1, 10**35) for a, b in zip(values, others))


def _static(c, m):
    """A sentence that claims nothing of the numbers."""


def _softmax(c, m):
    """A sentence about a softmax output layer: there is one, and its Jacobian is symmetric."""
    assert c.d.activation.name == "softmax", c.d.activation.name
    for f in c.d.forward:
        units = f.outputs()
        for k, u in enumerate(units):
            for j, entry in enumerate(u.jacobian):
                assert abs(numeric(entry.value - units[j].jacobian[k].value, 40)) < 1e-35


def _check_softmax_shape(c, m):
    _softmax(c, m)
    assert int(m["n"]) == c.d.network.layers[-1].width


def _check_short_form(c, m, softmax: bool):
    """Each output's δ worked from the short form a − y equals its δ, to every digit."""
    d = c.d
    assert (d.activation.name == "softmax") == softmax
    if softmax:
        assert d.loss_function.name == "cross_entropy"
        assert all(sum(s.targets) == 1 for s in d.samples)
    for f in d.forward:
        for u, y in zip(f.outputs(), f.sample_data.targets):
            assert u.cancelled is not None
            assert abs(numeric(u.cancelled.value - u.delta.value, 40)) < 1e-35
            scale = 1 if d.network.outputs == "sum" else Rational(1, len(f.outputs()))
            assert abs(numeric(u.cancelled.value - scale * (u.a.value - y), 40)) < 1e-35


def _check_elementwise_layers(c, m):
    """The layers named are exactly those whose activation works neuron by neuron, and
    another layer's does not (else the one sentence of all layers says a = f(z))."""
    named = [int(layer) for layer in m["layers"].split(", ")]
    elementwise = [l for l, act in enumerate(c.d.activations, 1) if act.rule is None]
    assert named == elementwise and len(elementwise) < len(c.d.activations), (named, m)


def _check_layer_rule(c, m):
    """Layer l is that layer-wide activation, its formula is the one printed, and every
    output of every sample is e^{z_k} over the sum of e^{z_j} of its layer."""
    l = int(m["l"])
    act = c.d.activations[l - 1]
    width = c.d.network.layers[l - 1].width
    assert act.rule is not None and act.title == m["act"], m
    assert m["formula"] == c.latex(act.rule(l, width)) == (
        f"a^{{({l})}}_{{k}} = \\frac{{e^{{z^{{({l})}}_{{k}}}}}}{{\\sum_{{j=1}}^{{{width}}} "
        f"e^{{z^{{({l})}}_{{j}}}}}}"), m
    for f in c.d.forward:
        units = sorted((u for u in f.units if u.layer == l), key=lambda u: u.neuron)
        total = sum(exp(u.z.value) for u in units)
        for u in units:
            assert abs(numeric(u.a.value - exp(u.z.value) / total, 40)) < 1e-35


# Every sentence the lesson templates (templates/lesson) can write, with what it claims.
SENTENCES = [
    # the neuron and the network as given (neuron.j2, network_given.j2)
    ("A neuron with {n} input{plural} and a batch of {m} samples:",
     lambda c, m: (len(c.d.input_symbols) == int(m["n"]) and (m["plural"] == "s") == (
         int(m["n"]) != 1) and len(c.d.samples) == int(m["m"]) > 1) or _fail(m)),
    ("A single neuron with weight, bias and input:",
     lambda c, m: _neuron_has(c, inputs=1, bias=True)),
    ("A single neuron with weights, bias and inputs:",
     lambda c, m: _neuron_has(c, inputs=2, bias=True)),
    ("A single neuron with weight and input:", lambda c, m: _neuron_has(c, inputs=1, bias=False)),
    ("A single neuron with weights and inputs:",
     lambda c, m: _neuron_has(c, inputs=2, bias=False)),
    ("It computes, step by step:", _static),
    ("**Convention:** {text}; here $\\delta = {value}$.",
     lambda c, m: (m["text"] == c.d.loss_function.convention and [
         (c.latex(symbol), _number(value, c.digits)) for symbol, value in c.d.constants] == [
         ("\\delta", m["value"])]) or _fail(m)),
    ("**Convention:** {text}.",
     lambda c, m: m["text"] in [x.convention for x in (*c.d.activations, c.d.loss_function)]
     or _fail(m)),
    ("The Huber threshold is $\\delta_{\\text{H}} = {value}$.",
     lambda c, m: [_number(value, c.digits) for _, value in c.d.constants] == [m["value"]]
     or _fail(m)),
    ("Each neuron $j$ of layer $l$ computes {formula}, where $a^{(0)}_k = x_k$ are the "
     "inputs.", lambda c, m: (("f(z^{(l)}_j)" in m["formula"]) == all(
         act.rule is None for act in c.d.activations)) or _fail(m)),
    ("Layer {layers} applies its activation neuron by neuron, $a^{(l)}_j = f(z^{(l)}_j)$.",
     _check_elementwise_layers),
    ("Layers {layers} apply their activations neuron by neuron, $a^{(l)}_j = f(z^{(l)}_j)$.",
     _check_elementwise_layers),
    ("Layer {l} is a {act}: each of its outputs depends on every $z$ of the layer, "
     "${formula}$.", _check_layer_rule),
    ("The loss of a sample is the {reduction} of the {loss} ${formula}$ over the {n} "
     "output{plural}.", lambda c, m: _check_network_loss(c, m, False)),
    ("The loss of a sample is the {reduction} of the {loss} ${formula}$ over the {n} "
     "output{plural}, and $L$ is the {batch_reduction} over the {m} samples.",
     lambda c, m: _check_network_loss(c, m, True)),
    ("The learning rate is $\\alpha = {rate}$.",
     lambda c, m: m["rate"] == _number(c.d.learning_rate, c.digits) or _fail(m)),
    ("**Parameters:** {list}.", lambda c, m: _check_given_list(c, m, [
        (c.latex(s), v) for s, v in zip(c.d.parameter_symbols, c.d.parameters)])),
    ("**Sample:** {list}.", lambda c, m: _check_given_list(c, m, [
        *((f"x_{{{k}}}", x) for k, x in enumerate(c.d.samples[0].x, 1)),
        *((f"y_{{{k}}}", y) for k, y in enumerate(c.d.samples[0].targets, 1))])),
    # forward pass
    ("**Sample {k}** ($x = {x}$, $y = {y}$):", _check_sample_row),
    ("**Sample {k}** ({list}):", _check_sample_symbols),
    ("**Sample {k}:**", lambda c, m: int(m["k"]) <= len(c.d.samples) or _fail(m)),
    ("*Layer {l} ({act}):*",
     lambda c, m: c.d.activations[int(m["l"]) - 1].title == m["act"] or _fail(m)),
    ("*Loss, one term per output ({loss}):*",
     lambda c, m: (c.d.loss_function.title == m["loss"] and c.d.network.layers[-1].width > 1)
     or _fail(m)),
    ("The loss is $0$: the prediction is exactly right.",
     lambda c, m: c.d.loss.value == 0 or _fail(m)),
    ("The loss is ${loss}$.",
     lambda c, m: (m["loss"] == c.shown(c.d.loss.value) and c.d.loss.value != 0) or _fail(m)),
    ("A lower loss means a better prediction; to lower it we need to know which way to turn "
     "each parameter, and by how much.", _static),
    ("That is what the derivatives tell us.", _static),
    # the chain and its factors (worked.j2, words.factor_meaning)
    ("The loss does not depend on the parameters directly: ${loss}$ depends on ${yhat}$, "
     "${yhat}$ depends on ${z}$, and ${z}$ depends on {list}.", _check_chain_symbols),
    ("The chain rule multiplies the derivatives along the chain:",
     lambda c, m: len(c.d.samples) == 1 or _fail(m)),
    ("The chain rule multiplies the derivatives along the chain, for each sample's loss "
     "$L^{(i)}$:", lambda c, m: len(c.d.samples) > 1 or _fail(m)),
    ("This factor is positive: increasing the prediction by a tiny amount increases the loss, "
     "so the prediction should go **down**.",
     lambda c, m: _sign_of_first_factor(c) > 0 or _fail(m)),
    ("This factor is negative: increasing the prediction by a tiny amount decreases the loss, "
     "so the prediction should go **up**.",
     lambda c, m: _sign_of_first_factor(c) < 0 or _fail(m)),
    ("This factor is zero: the prediction already sits where the loss is lowest.",
     lambda c, m: _sign_of_first_factor(c) == 0 or _fail(m)),
    ("With no activation the prediction is $z$ itself, so this factor is $1$.",
     lambda c, m: c.d.activation.name == "identity" or _fail(m)),
    ("This is the slope of the {act} at $z$: how strongly the activation passes a change in "
     "$z$ on to the prediction.",
     lambda c, m: (m["act"] == c.d.activation.title != "identity") or _fail(m)),
    # the functions a lesson form names (activations.py, ``notation``): said once a lesson
    # shows that activation's slope
    *((act.notation + ".", lambda c, m, name=act.name: (
        name in [a.name for a in c.d.activations]) or _fail(m))
      for act in ACTIVATIONS.values() if act.notation),
    ("The bias is added to $z$ as it is, so this factor is always $1$.",
     lambda c, m: c.d.neuron.bias is not None or _fail(m)),
    ("Nudging the weight changes $z$ by the input it multiplies, so this factor is that "
     "input.", _static),
    ("With the {act} and the {loss}, two factors cancel: ${formula}$.",
     lambda c, m: ((c.d.activation.name, c.d.loss_function.name) == ("sigmoid", "bce") and
                   (m["act"], m["loss"]) == (c.d.activation.title, c.d.loss_function.title))
     or _fail(m)),
    ("The slope of the activation, which is tiny when it saturates, drops out, and the error "
     "signal $\\frac{\\partial L}{\\partial z}$ is simply the prediction's error, so learning "
     "does not stall when the prediction is confidently wrong.", _static),
    # backward pass of a network (network_worked.j2)
    ("Backpropagation starts at the outputs, where {formula}.",
     lambda c, m: c.d.activation.name != "softmax" or _fail(m)),
    ("Backpropagation starts at the outputs.", _softmax),
    ("A softmax output depends on every $z$ of its layer, so its error signal collects a term "
     "from every output, {formula}, through the softmax's Jacobian {text} rather than one "
     "slope $f'(z_k)$.", _softmax),
    ("The Jacobian of the softmax holds {formula}, so it is symmetric, and the entries on and "
     "above the diagonal, worked below, give all of it.", _softmax),
    ("As matrices, with {formula} of shape ${n} \\times {n}$ and $\\nabla_{a} L$ and $\\delta$ "
     "columns of shape ${n} \\times 1$:", _check_softmax_shape),
    ("Entry by entry, each $\\delta_k$ sums a term from every output:", _softmax),
    ("With the softmax and the categorical cross-entropy, the Jacobian cancels against "
     "{formula}, because a sample's targets sum to 1.",
     lambda c, m: _check_short_form(c, m, True)),
    ("Each output's error signal is simply its probability minus its target, however "
     "confident the softmax is.", lambda c, m: _check_short_form(c, m, True)),
    ("Worked from this short form, each output's error signal comes out as above:",
     lambda c, m: _check_short_form(c, m, c.d.activation.name == "softmax")),
    ("Each hidden neuron collects the error signals of the neurons it feeds, weighted by the "
     "weights that join them, {formula}.", _static),
    ("Each $\\delta$ is computed once and reused for every weight of its neuron.", _static),
    ("With column vectors per layer, {formula}.", _static),
    # a batch in matrix form (batch.j2)
    ("The sample is the row of $X$, one column per input, so the neuron's work is a few "
     "matrix products, as NumPy and PyTorch compute it; the shape (rows × columns) is written "
     "under each matrix.", lambda c, m: _check_batch(c, m, 1, False)),
    ("The {n} samples are the rows of $X$, one column per input, so the neuron's work for the "
     "whole batch is a few matrix products, as NumPy and PyTorch compute it; the shape (rows "
     "× columns) is written under each matrix.", lambda c, m: _check_batch(c, m, None, False)),
    ("The sample is the row of $A^{(0)} = X$, one column per input; each layer's outputs are "
     "the rows of $A^{(l)}$, one column per neuron.", lambda c, m: _check_batch(c, m, 1, True)),
    ("The {n} samples are the rows of $A^{(0)} = X$, one column per input; each layer's "
     "outputs are the rows of $A^{(l)}$, one column per neuron.",
     lambda c, m: _check_batch(c, m, None, True)),
    ("A layer is then a few matrix products, as NumPy and PyTorch compute it; the shape (rows "
     "× columns) is written under each matrix.", lambda c, m: _check_batch(c, m, None, True)),
    ("The loss is the mean over the batch, so each gradient carries the factor ${c}$.",
     lambda c, m: (c.d.loss_function.reduction == "mean" and m["c"] == c.latex(
         c.d.batch_matrices[0].scale) == c.latex(R(1, len(c.d.samples)))) or _fail(m)),
    ("**Layer {n}**", lambda c, m: 1 <= int(m["n"]) <= len(c.d.network.layers) or _fail(m)),
    ("The batch is not worked in matrix form here: its products give the gradients of the "
     "loss $L$, while this step follows those of the loss with its penalty, $J$.",
     lambda c, m: _check_no_batch_matrices(c, m, penalty=True)),
    ("The batch is not worked in matrix form here: a softmax layer's $\\delta$ is its "
     "Jacobian times $\\nabla_{a} L$, not the entry-by-entry product $G \\odot f'(Z)$ the "
     "batch's matrices use.", lambda c, m: _check_no_batch_matrices(c, m, penalty=False)),
    ("Backwards, each row of $G$ holds one sample's derivatives of its own loss with respect "
     "to the layer's outputs, and each row of $\\Delta$ that sample's error signals "
     "$\\delta = \\frac{\\partial L^{(i)}}{\\partial z}$; $\\odot$ multiplies entry by "
     "entry.", _check_batch_rows),
    ("These are the gradients worked above for the sample, entry by entry.",
     lambda c, m: (len(c.d.samples) == 1 and _check_batch_gradients(c)) or _fail(m)),
    ("These are the gradients worked above sample by sample: each product with "
     "$\\Delta^{\\top}$ adds up the samples.",
     lambda c, m: (len(c.d.samples) > 1 and _check_batch_gradients(c)) or _fail(m)),
    ("This network has {n} parameters; these are worked in full here ({list}), and the other "
     "{rest} are in the table below.",
     lambda c, m: int(m["n"]) == len(c.d.gradients) or _fail(m)),
    ("This network has {n} parameters; none are worked in full here, and all of them are in "
     "the table below.", lambda c, m: int(m["n"]) == len(c.d.gradients) or _fail(m)),
    ("To work others in full, name them with `--show` (such as `--show {name}`), or give "
     "`--show all`.", _static),
    # the gradients (words.gradient_meaning, words.magnitudes)
    ("Over the batch, $\\frac{\\partial L}{\\partial {p}}$ is the {reduction} of the samples' "
     "gradients:", lambda c, m: (len(c.d.samples) > 1 and m["reduction"] ==
                                 c.d.loss_function.reduction and c.gradient(m["p"])) or _fail(m)),
    ("$\\frac{\\partial {L}}{\\partial {p}} {value}$, but ${p}$ is frozen: it keeps its value, "
     "whatever its gradient says.", lambda c, m: _check_gradient(c, m, "frozen")),
    ("$\\frac{\\partial {L}}{\\partial {p}} {value}$ is negative: increasing ${p}$ decreases the "
     "loss, so the update increases ${p}$.", lambda c, m: _check_gradient(c, m, "negative")),
    ("$\\frac{\\partial {L}}{\\partial {p}} {value}$ is positive: increasing ${p}$ increases the "
     "loss, so the update decreases ${p}$.", lambda c, m: _check_gradient(c, m, "positive")),
    ("$\\frac{\\partial L}{\\partial {p}} = 0$ by convention, not because the loss is flat: "
     "{reason}.", lambda c, m: _check_gradient(c, m, "kink")),
    ("With $f'(0) = 1$ it would be $\\frac{\\partial L}{\\partial {p}} {value}$ instead.",
     _check_other_convention),
    ("$\\frac{\\partial L}{\\partial {p}} = 0$: changing ${p}$ a little does not change the "
     "loss, so ${p}$ stops learning here, because {reason}.",
     lambda c, m: _check_gradient(c, m, "zero")),
    ("$\\frac{\\partial {L}}{\\partial {p}} = 0$: changing ${p}$ a little does not change the "
     "loss, so ${p}$ stops learning here.", lambda c, m: _check_gradient(c, m, "zero")),
    ("The gradient is tiny, so ${p}$ barely moves, because {reason}.",
     lambda c, m: _check_gradient(c, m, "tiny")),
    ("The gradient is tiny, so ${p}$ barely moves.", lambda c, m: _check_gradient(c, m, "tiny")),
    ("In size, $\\frac{\\partial {L}}{\\partial {p}}$ is the largest gradient, ${ratio}$ times "
     "the smallest that is not zero, so ${p}$ moves most in this step.", _check_largest),
    ("In size, $\\frac{\\partial {L}}{\\partial {p}}$ is the largest gradient of the parameters "
     "that move, ${ratio}$ times the smallest of them that is not zero, so ${p}$ moves most in "
     "this step.", lambda c, m: _check_largest(c, m | {"moving": True})),
    ("With one sample, each weight's gradient is the bias's times its input, "
     "$\\frac{\\partial L}{\\partial w} = x \\cdot \\frac{\\partial L}{\\partial b}$: a large "
     "input makes a large gradient, an input near zero a small one.", _check_chain_shortcut),
    ("The largest weight gradient of layer 1 is ${ratio}$ times smaller than that of layer "
     "{last}: on its way back the error signal is multiplied, layer by layer, by weights and "
     "by slopes $f'(z)$, and here those products shrink it: the vanishing gradient, which "
     "makes early layers learn slowly.", _check_vanishing),
    # the update and the loss after it (words.progress)
    ("Gradient descent moves each parameter against its gradient, $p_{\\text{new}} = p - "
     "\\alpha \\cdot \\frac{\\partial {L}}{\\partial p}$:", _check_loss_symbol),
    ("Frozen, so left as they are: {list}.",
     lambda c, m: m["list"] == ", ".join(_symbols(c, [g for g in c.d.gradients if g.frozen]))
     or _fail(m)),
    ("With the new parameters {list}:", _check_new_parameters),
    ("The loss stayed at ${before}$: no parameter moved, because every gradient is zero.",
     lambda c, m: _check_stayed(c, m, None)),
    ("The loss went from ${before}$ to exactly $0$: every prediction now equals its target.",
     lambda c, m: (m["before"] == c.shown(c.d.loss.value) and c.d.loss_after.value == 0 and all(
         u.a.value == y for f in c.d.forward_after for u, y in zip(f.outputs(),
                                                                   f.sample_data.targets)))
     or _fail(m)),
    ("One step is rarely this lucky; real networks need many iterations of forward pass, loss, "
     "backward pass and update, the **training loop**.", _static),
    ("The loss went down from ${before}$ to ${after}$: one step of gradient descent lowered "
     "the loss over the batch.", lambda c, m: _check_loss_down(c, m, True, None)),
    ("The loss went down from ${before}$ to ${after}$: one step of gradient descent moved the "
     "outputs, taken together, towards their targets.",
     lambda c, m: _check_loss_down(c, m, False, 2)),
    ("The loss went down from ${before}$ to ${after}$: one step of gradient descent moved the "
     "prediction towards the target.",
     lambda c, m: (_check_loss_down(c, m, False, 1), _check_closer(c, m))),
    ("Repeating forward pass, loss, gradients and update is the **training loop**.", _static),
    ("The loss went down, by too little for {n} significant digits to show: ${before}$ before "
     "the step, ${after}$ after it.", lambda c, m: _check_unseen_change(c, m, False, True)),
    ("The loss went up, by too little for {n} significant digits to show: ${before}$ before "
     "the step, ${after}$ after it.", lambda c, m: _check_unseen_change(c, m, False, False)),
    ("The loss with its penalty, $J$, went down, by too little for {n} significant digits to "
     "show: ${before}$ before the step, ${after}$ after it.",
     lambda c, m: _check_unseen_change(c, m, True, True)),
    ("The loss with its penalty, $J$, went up, by too little for {n} significant digits to "
     "show: ${before}$ before the step, ${after}$ after it.",
     lambda c, m: _check_unseen_change(c, m, True, False)),
    ("The loss is ${before}$ before and after to every digit carried: the gradients are so "
     "small that the step barely moved the parameters.", lambda c, m: _check_stayed(c, m, True)),
    ("The loss is ${before}$ both before and after the step: the step went past the lowest "
     "point along its direction and landed just as high.",
     lambda c, m: _check_stayed(c, m, False)),
    ("A smaller learning rate $\\alpha$ takes a smaller, safer step.", _static),
    ("The loss went from ${before}$ to ${after}$: it did not go down.",
     lambda c, m: ((m["before"], m["after"]) == c.told(c.d.loss.value, c.d.loss_after.value)
                   and m["before"] != m["after"]
                   and numeric(c.d.loss_after.value - c.d.loss.value, 30) > 0)
     or _fail(m)),
    ("The step overshot; a smaller learning rate $\\alpha$ takes a smaller, safer step.",
     _static),
    ("Not every sample gained: the loss of sample {list} rose, because one step serves the "
     "batch as a whole, not each sample.", lambda c, m: _check_samples_changed(c, m, True)),
    ("Not every sample gained: the losses of samples {list} rose, because one step serves the "
     "batch as a whole, not each sample.", lambda c, m: _check_samples_changed(c, m, True)),
    ("Sample {list} still gained.", lambda c, m: _check_samples_changed(c, m, False)),
    ("Samples {list} still gained.", lambda c, m: _check_samples_changed(c, m, False)),
    ("Not every sample gained: the loss of sample {list} stayed the same.", _check_same),
    ("Not every sample gained: the losses of samples {list} stayed the same.", _check_same),
    ("Every sample's loss went down.", _check_every_sample_down),
    ("The loss is ${before}$ before and after the step, to every digit carried.",
     lambda c, m: (m["before"] == c.shown(c.d.loss.value) and abs(numeric(
         c.d.loss_after.value - c.d.loss.value, 40)) < 1e-50) or _fail(m)),
    # optimizers (words.optimizer_rule, words.near_rate)
    ("Here $g_{t}$ is the gradient $\\frac{\\partial {L}}{\\partial p}$ at step $t$, and the step "
     "worked here is $t = 1$.",
     lambda c, m: (_check_loss_symbol(c, m), _check_optimizer(c, m, _OPTIMIZERS[1:]))),
    ("With momentum, each parameter keeps a velocity $v$, its gradients added up with the older "
     "ones fading by the factor $\\mu = {mu}$ each step, and the step follows the velocity: "
     "$v_{t} = \\mu v_{t-1} + g_{t}$ and $p_{\\text{new}} = p - \\alpha v_{t}$, with $v_{0} = 0$ "
     "and no dampening.", lambda c, m: _check_optimizer(c, m, "momentum", momentum="mu")),
    ("Nesterov momentum keeps the same velocity as momentum, $v_{t} = \\mu v_{t-1} + g_{t}$ with "
     "$\\mu = {mu}$ and $v_{0} = 0$, but steps as if it had already looked ahead along it: "
     "$p_{\\text{new}} = p - \\alpha \\left(g_{t} + \\mu v_{t}\\right)$.",
     lambda c, m: _check_optimizer(c, m, "nesterov", momentum="mu")),
    ("RMSprop keeps for each parameter $v$, a running mean of its squared gradient with the "
     "smoothing constant $\\beta_{2} = {b2}$ (PyTorch calls it alpha; here $\\alpha$ is the "
     "learning rate), and divides the gradient by its square root: $v_{t} = \\beta_{2} v_{t-1} "
     "+ (1 - \\beta_{2}) g_{t}^{2}$ and $p_{\\text{new}} = p - \\alpha \\frac{g_{t}}{\\sqrt{v_{t}} "
     "+ \\epsilon}$, with $v_{0} = 0$ and $\\epsilon = {eps}$.",
     lambda c, m: _check_optimizer(c, m, "rmsprop", beta2="b2", eps="eps")),
    ("Adam keeps two running means for each parameter, both starting at $0$: $m$ of its "
     "gradient ($\\beta_{1} = {b1}$) and $v$ of its squared gradient ($\\beta_{2} = {b2}$), "
     "$m_{t} = \\beta_{1} m_{t-1} + (1 - \\beta_{1}) g_{t}$ and $v_{t} = \\beta_{2} v_{t-1} + "
     "(1 - \\beta_{2}) g_{t}^{2}$.",
     lambda c, m: _check_optimizer(c, m, ("adam", "adamw"), beta1="b1", beta2="b2")),
    ("Starting at $0$, both are too small in the first steps; dividing by $1 - \\beta^{t}$ "
     "corrects this bias: $\\hat{m}_{t} = \\frac{m_{t}}{1 - \\beta_{1}^{t}}$ and $\\hat{v}_{t} = "
     "\\frac{v_{t}}{1 - \\beta_{2}^{t}}$.", lambda c, m: _check_optimizer(c, m, ("adam", "adamw"))),
    ("The step is $\\alpha \\frac{\\hat{m}_{t}}{\\sqrt{\\hat{v}_{t}} + \\epsilon}$, with $\\epsilon = "
     "{eps}$.", lambda c, m: _check_optimizer(c, m, ("adam", "adamw"), eps="eps")),
    ("AdamW first shrinks each parameter by $\\alpha \\lambda p$, with the weight decay "
     "$\\lambda = {decay}$, and then takes Adam's step; the decay is decoupled from the "
     "gradient: it never enters $m$ or $v$.",
     lambda c, m: _check_optimizer(c, m, "adamw", weight_decay="decay")),
    ("The rule is that of `torch.optim.{name}`, documented at "
     "https://docs.pytorch.org/docs/stable/generated/torch.optim.{page}.html.", _check_torch_page),
    ("On the first step $\\hat{m}_{1} = g_{1}$ and $\\sqrt{\\hat{v}_{1}} = |g_{1}|$, so Adam moves "
     "each parameter by $\\alpha \\frac{|g_{1}|}{|g_{1}| + \\epsilon}$: here every gradient that "
     "is not zero is at least $1000 \\epsilon$ in size, so each of those parameters moves by "
     "$\\alpha = {rate}$ to within 0.1%, whatever the size of its gradient.", _check_near_rate),
    # an L2 penalty (words.penalty, words.l2_and_decay)
    ("An L2 penalty adds $\\frac{\\lambda}{2}$ times the sum of the squared weights to the loss, "
     "with $\\lambda = {l}$: $J = L + \\frac{\\lambda}{2} \\sum w^{2}$.", _check_penalty),
    ("Here the biases are penalised too.", lambda c, m: c.d.l2_biases or _fail(m)),
    ("The biases are not penalised, as is usual: a bias does not make the model more sensitive "
     "to its inputs.", lambda c, m: (c.d.objective and not c.d.l2_biases) or _fail(m)),
    ("Large weights now cost loss, so each penalised parameter's gradient gains a second term, "
     "$\\frac{\\partial J}{\\partial w} = \\frac{\\partial L}{\\partial w} + \\lambda w$, which "
     "pulls the weight towards $0$.", lambda c, m: c.d.objective or _fail(m)),
    ("An L2 penalty in the loss and decoupled weight decay (AdamW) are not the same.",
     lambda c, m: c.d.objective or _fail(m)),
    ("With plain gradient descent they coincide: $p - \\alpha \\left(\\frac{\\partial L}{\\partial "
     "p} + \\lambda p\\right) = p - \\alpha \\lambda p - \\alpha \\frac{\\partial L}{\\partial p}$, "
     "a shrinking by $\\alpha \\lambda p$ either way.", lambda c, m: c.d.objective or _fail(m)),
    ("With momentum, RMSprop or Adam they differ: the penalty's $\\lambda p$ enters the running "
     "means and is rescaled with the rest of the gradient, while decoupled decay shrinks $p$ by "
     "$\\alpha \\lambda p$ outside them.", lambda c, m: c.d.objective or _fail(m)),
    ("The loss with its penalty, $J$, went down from ${before}$ to ${after}$.",
     lambda c, m: _check_objective(c, m, True)),
    ("The loss with its penalty, $J$, went from ${before}$ to ${after}$: it did not go down.",
     lambda c, m: _check_objective(c, m, False)),
    ("The last columns hold the optimizer's state after each step's update.",
     _check_state_columns),
    ("The bias-corrected moments $\\hat{m}$ and $\\hat{v}$ that each step's update used:",
     _check_moment_columns),
    ("Forward pass, loss, gradients, update, repeated: The last columns hold the optimizer's "
     "state after each step's update.",
     lambda c, m: (c.d.tolerance is None and _check_state_columns(c, m) is None) or _fail(m)),
    ("Forward pass, loss, gradients, update, repeated until the loss is below ${tol}$: The last "
     "columns hold the optimizer's state after each step's update.",
     lambda c, m: (m["tol"] == _number(c.d.tolerance, c.digits) and _check_state_columns(
         c, m) is None) or _fail(m)),
    # the training loop (words.training_table, words.loop_summary)
    ("Forward pass, loss, gradients, update, repeated until the loss is below ${tol}$:",
     lambda c, m: m["tol"] == _number(c.d.tolerance, c.digits) or _fail(m)),
    ("Forward pass, loss, gradients, update, repeated:",
     lambda c, m: c.d.tolerance is None or _fail(m)),
    ("Forward pass, loss, gradients, update, repeated until the loss is below ${tol}$: The "
     "table follows the parameters worked in full above.",
     lambda c, m: (c.d.is_network and m["tol"] == _number(c.d.tolerance, c.digits)) or _fail(m)),
    ("Forward pass, loss, gradients, update, repeated: The table follows the parameters worked "
     "in full above.", lambda c, m: (c.d.is_network and c.d.tolerance is None) or _fail(m)),
    ("The loss is already below ${tol}$, so the loop did not run.",
     lambda c, m: (c.d.converged and not c.d.iterations and numeric(c.d.loss.value, 30) <
                   c.d.tolerance) or _fail(m)),
    ("The loss fell below ${tol}$ after {n} step{plural}, so the loop stopped.",
     lambda c, m: _check_steps(c, m, True)),
    ("After {n} step{plural} the loss is ${loss}$.", lambda c, m: _check_steps(c, m, False)),
    # the derivatives rule by rule (derive_steps.j2)
    ("Each line applies one rule to one derivative still to be taken, until none is left; "
     "symgrad checks every line against SymPy's derivative before it shows it.",
     lambda c, m: c.d.derivative_steps or _fail(m)),
    ("Now each factor of the chain, with this example's numbers:",
     lambda c, m: c.d.derivative_steps or _fail(m)),
    ("**{name}** (the activation), $f(z) = {function}$:",
     lambda c, m: _check_steps_heading(c, m, "activation")),
    ("**{name}** (the loss), $L = {function}$, differentiated with $y$ held fixed:",
     lambda c, m: _check_steps_heading(c, m, "loss")),
    ("**{name}** (the output layer's activation), $a_j = {function}$: each output $a_j$ depends "
     "on every $z_k$ of the layer, so its derivative is a matrix, the Jacobian, with one entry "
     "per $j$ and $k$:", lambda c, m: _check_steps_heading(c, m, "softmax")),
    ("**{name}** through the softmax, $L = {function}$ for one sample, by each $z_k$ of the "
     "output layer:", lambda c, m: _check_steps_heading(c, m, "cancellation")),
    ("So the error signal of output $k$ is its probability minus its target, $a_k - y_k$: the "
     "softmax's $a_j$ cancels the loss's $\\frac{1}{a_j}$, and $\\delta_{jk}$ keeps one term.",
     lambda c, m: (any(ds.subject == "cancellation" for ds in c.d.derivative_steps)
                   and _check_short_form(c, m, True) is None) or _fail(m)),
    # the footer
    ("*Generated by symgrad {version}: every number is computed exactly with SymPy{rest}; "
     "values marked $\\approx$ are rounded to {n} significant digits for display only.*",
     lambda c, m: int(m["n"]) == c.digits or _fail(m)),
]
# A line of a derivation rule by rule names its rule in bold, then may state it, with the
# chain rule's inner function and the facts it uses; checked last, after every other sentence.
SENTENCES.append(("**{text}**{rest}:", lambda c, m: _check_rule_line(c, m)))
# A notation sentence is LaTeX with braces of its own: matched as it is, not as a pattern.
_NOTATIONS = {act.notation + "." for act in ACTIVATIONS.values() if act.notation}
_SENTENCES = [(re.compile(re.escape(text)) if text in _NOTATIONS else _pattern(text), check)
              for text, check in SENTENCES]


def _fail(m):
    raise AssertionError(f"false for these numbers: {m}")


def _neuron_has(c, *, inputs: int, bias: bool):
    d = c.d
    assert not d.is_network and len(d.samples) == 1
    assert (len(d.input_symbols) > 1) == (inputs > 1) and (d.neuron.bias is not None) == bias


def test_every_sentence_is_true_of_its_numbers():
    """Over 500 random neurons and small networks (every activation and loss, batches, exact
    kinks and targets, frozen parameters, loops), every sentence of the Markdown lesson is
    one the templates are known to write, and what it claims holds for the exact numbers."""
    unknown, false, seen = [], [], {}
    sentences = 0
    for d, digits, text in _pool():
        claims = _Claims(d, digits)
        for sentence in _prose(text):
            sentences += 1
            for pattern, check in _SENTENCES:
                match = pattern.fullmatch(sentence)
                if match:
                    seen[pattern.pattern] = seen.get(pattern.pattern, 0) + 1
                    try:
                        check(claims, match.groupdict())
                    except (AssertionError, KeyError, StopIteration) as error:
                        why = str(error).splitlines()[0] if str(error) else ""
                        false.append(f"{sentence}\n    {type(error).__name__}: {why}")
                    break
            else:
                unknown.append(sentence)
    assert not unknown, "sentences no check knows:\n" + "\n".join(sorted(set(unknown))[:20])
    assert not false, f"{len(false)} false sentences:\n" + "\n".join(false[:15])
    assert sentences > 10_000, sentences
