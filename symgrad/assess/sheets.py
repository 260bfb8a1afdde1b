"""Exercise sheets: seeded problems (single neurons or small networks), answer keys and
LMS export.

Each problem is drawn from its own ``random.Random`` stream, seeded by the
sheet's seed and the problem's number, so problem 7 is the same whether the
sheet has 10 problems or 20.  Problems are redrawn until they meet the
difficulty's conditions (short decimals, no saturated sigmoid, no ReLU kink,
no duplicates).  The answer key renders the very Derivation objects that
``symgrad example`` renders: there is no second maths path.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import random
import re
import textwrap
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from pathlib import Path

from sympy import Expr, Rational

from .._version import __version__
from ..maths.activations import ACTIVATIONS, activation as find_activation
from ..maths.derive import StepNumbers, derive, step_numbers, training_settings
from ..maths.quantities import Mistake, Quantity, mistakes, quantities
from ..maths.records import Derivation
from ..errors import DomainError, SymgradError, choose
from ..maths.losses import CLASS_LOSSES, LOSSES
from ..maths.model import (MAX_DIGITS, Layer, Network, Neuron, Optimizer, Sample, decimal,
                           numeric, whole_number)
from ..files import write_into
from ..views.render import LANGUAGES, definitions, json_value, render_template
from .answers import Answer, SelfTest, answers, fixed, self_test
from ..maths.working import approx

__all__ = ["Difficulty", "DIFFICULTIES", "ASKABLE", "DEFAULT_ASK", "SHEET_FORMATS", "MAX_COUNT",
           "Problem", "Sheet", "sheet", "decimal_places", "class_sheets", "class_documents",
           "save_class", "class_files", "read_roster", "student_id"]

# What a sheet can ask for, and the quantities of a derivation each name stands for.
ASKABLE = {
    "prediction": ("prediction",),
    "loss": ("loss",),
    "w": ("gradient:w",),
    "b": ("gradient:b",),
    "update": ("update",),
    "loss_after": ("loss_after",),
    "delta": ("delta",),
    "J": ("objective",),
    "dJ": ("objective_gradient",),
    "state": ("state",),
}
# Optimizers whose step divides by √v: never a short decimal.
_ROOT_OPTIMIZERS = ("rmsprop", "adam", "adamw")
DEFAULT_ASK = ("loss", "w", "b", "update")
DEFAULT_NETWORK_ASK = ("loss", "delta", "w")
# Network sheets: at most this many layers and neurons a layer (a hand computation).
MAX_NETWORK_LAYERS = 3
MAX_NETWORK_WIDTH = 4
# format -> the files it writes: (template folder, template, file name) per document
SHEET_FORMATS = {
    "md": (("md", "sheet.md.j2", "sheet.md"), ("md", "key.md.j2", "key.md")),
    "tex": (("tex", "sheet.tex.j2", "sheet.tex"), ("tex", "key.tex.j2", "key.tex")),
    "json": ((None, None, "sheet.json"),),
    "moodle": (("moodle", "quiz.xml.j2", "quiz.xml"),),
    "moodle-numerical": (("moodle", "quiz-numerical.xml.j2", "quiz-numerical.xml"),),
    "qti": ((None, None, "quiz-qti.zip"),),
}
# The files of the QTI package: (template in templates/moodle, path in the zip).
QTI_FILES = (("qti-manifest.xml.j2", "imsmanifest.xml"),
             ("qti-assessment.xml.j2", "symgrad-quiz/symgrad-quiz.xml"))
# A fixed date for every file of the zip, so the same sheet gives the same bytes.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
MAX_COUNT = 500
MAX_INPUTS = 5
MAX_BATCH = 10
# Tries per problem before the conditions are declared impossible to meet.
MAX_TRIES = 3000
# sigmoid, tanh, softplus, GELU, SiLU, ELU and softsign stay out of their flat tails: |z|
# at most this.
MAX_ABS_Z = 3
_SMOOTH = ("sigmoid", "tanh", "softplus", "gelu", "silu", "elu", "softsign", "custom")


def _grid(low: str, high: str, step: str, *, zero: bool = True) -> tuple[Rational, ...]:
    low, high, step = Rational(low), Rational(high), Rational(step)
    count = int((high - low) / step)
    values = (low + k * step for k in range(count + 1))
    return tuple(v for v in values if zero or v != 0)


@dataclass(frozen=True, slots=True)
class Difficulty:
    """The numbers a difficulty draws from and the conditions its problems meet.

    ``decimals`` bounds the decimal places of every displayed value (``None``: no
    bound, values may be irrational and are shown rounded); ``max_error`` bounds
    each prediction's distance from its target, keeping losses small. ``features`` and
    ``samples`` are the inputs and samples a problem has by default: a harder problem is
    more work, not only longer decimals.
    """

    name: str
    activations: tuple[str, ...]
    losses: tuple[str, ...]
    weights: tuple[Rational, ...]
    biases: tuple[Rational, ...]
    inputs: tuple[Rational, ...]
    targets: tuple[Rational, ...]
    rates: tuple[Rational, ...]
    decimals: int | None
    max_error: Rational | None
    features: int = 1  # inputs a neuron has, unless --inputs says otherwise
    samples: int = 1   # samples a problem has, unless --batch says otherwise


DIFFICULTIES = {
    "easy": Difficulty(
        "easy", ("identity", "relu"), ("squared", "mse"),
        weights=_grid("-2", "2", "0.1", zero=False), biases=_grid("-1", "1", "0.1"),
        inputs=_grid("-3", "3", "0.5", zero=False), targets=_grid("-2", "3", "0.5"),
        rates=tuple(Rational(r) for r in ("0.1", "0.05", "0.2", "0.01")), decimals=3,
        max_error=Rational(2)),
    "medium": Difficulty(
        "medium", ("identity", "relu", "sigmoid", "tanh", "gelu", "silu", "elu", "softsign"),
        ("squared", "half_squared", "mse", "mae"),
        weights=_grid("-2", "2", "0.1", zero=False), biases=_grid("-1", "1", "0.1"),
        inputs=_grid("-3", "3", "0.5", zero=False), targets=_grid("-2", "3", "0.5"),
        rates=tuple(Rational(r) for r in ("0.1", "0.05", "0.5", "0.01")), decimals=None,
        max_error=Rational(3), features=2),
    "hard": Difficulty(
        "hard", tuple(ACTIVATIONS), tuple(LOSSES),
        weights=_grid("-3", "3", "0.05", zero=False), biases=_grid("-2", "2", "0.05"),
        inputs=_grid("-4", "4", "0.25", zero=False), targets=_grid("-3", "3", "0.25"),
        rates=tuple(Rational(r) for r in ("0.1", "0.05", "0.2", "0.5", "0.01")),
        decimals=None, max_error=None, features=2, samples=2),
}
# Errors ŷ - y that easy problems are built around.
_ERRORS = _grid("-2", "2", "0.1", zero=False)
# Targets that suit an activation's range of outputs.
_TARGETS = {
    "sigmoid": _grid("0", "1", "0.25"),
    "tanh": _grid("-1", "1", "0.5"),
    "softsign": _grid("-1", "1", "0.5"),
    # above their lowest values: GELU's -0.17, SiLU's -0.28, ELU's -1
    "gelu": _grid("0", "3", "0.5"),
    "silu": _grid("0", "3", "0.5"),
    "elu": _grid("-0.5", "3", "0.5"),
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One drawn problem: its number, its derivation, the quantities asked for, what each
    answer accepts (:class:`~symgrad.assess.answers.Answer`) and the self-test of those
    answers, which passed before the problem was kept."""

    number: int
    derivation: Derivation
    asked: tuple[Quantity, ...]
    answers: tuple[Answer, ...]
    self_test: SelfTest


@dataclass(frozen=True, slots=True)
class Sheet:
    """A seeded set of problems; render it with :meth:`documents` or :meth:`save`."""

    title: str
    seed: int
    difficulty: str
    ask: tuple[str, ...]
    problems: tuple[Problem, ...]
    digits: int = 4
    templates: str | None = None
    lang: str = "en"
    student: str | None = None

    def documents(self, fmt: str = "md") -> dict[str, str | bytes]:
        """File name -> text of every document of format ``fmt``: ``md`` and ``tex`` give
        the student sheet and the answer key; ``json``, ``moodle`` (one Cloze question a
        problem) and ``moodle-numerical`` (one numerical question an asked number) one file
        each; ``qti`` a zip package for Canvas (bytes)."""
        outputs = choose(SHEET_FORMATS, fmt, "sheet format")
        if fmt == "json":
            return {"sheet.json": self.to_json()}
        if fmt == "qti":
            return {"quiz-qti.zip": self.qti_package()}
        if fmt in ("md", "tex"):
            return dict(zip(("sheet." + fmt, "key." + fmt), self._pages(fmt)[:2]))
        return {filename: self._render(kind, name) for kind, name, filename in outputs}

    def _render(self, kind: str, name: str, **context) -> str:
        return render_template(kind, name, templates=self.templates, digits=self.digits,
                               lang=self.lang, sheet=self, **context)

    def _pages(self, fmt: str) -> tuple[str, str, str]:
        """The sheet, its key and the key's table of answers (which a class key lists
        for every student), in ``md`` or ``tex``."""
        table = self._render(fmt, f"key_table.{fmt}.j2", one=self)
        return (self._render(fmt, f"sheet.{fmt}.j2"),
                self._render(fmt, f"key.{fmt}.j2", tables=(table,), worked=True), table)

    def save(self, folder: str | os.PathLike, fmt: str = "md") -> list[Path]:
        """Write every document of ``fmt`` into ``folder`` (made if missing) as one unit,
        after all of them have rendered: a failure leaves the old set or none, never a sheet
        beside another run's key."""
        return write_into(folder, self.documents(fmt))

    def moodle_mistakes(self, answer: Answer) -> tuple[Mistake, ...]:
        """One mistake for each value the mistakes give (those that give the same number
        share one Moodle answer), so every Moodle answer's interval is its own."""
        kept = []
        for mistake in answer.mistakes:
            if not any(answer.near(mistake.value, other.value, room=2) for other in kept):
                kept.append(mistake)
        return tuple(kept)

    def qti_package(self) -> bytes:
        """A QTI 1.2 package that Canvas imports: imsmanifest.xml and one assessment, one
        question group per problem and a numerical question per asked number; the same
        sheet gives the same bytes."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
            for name, path in QTI_FILES:
                text = render_template("moodle", name, templates=self.templates,
                                       digits=self.digits, lang=self.lang, sheet=self,
                                       assessment=QTI_FILES[1][1])
                info = zipfile.ZipInfo(path, date_time=ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                package.writestr(info, text.encode())
        return buffer.getvalue()

    def answer_range(self, answer: Answer) -> tuple[str, str, str]:
        """The value Canvas should read and the ends of the range it accepts (value ∓ the
        tolerance), as plain decimals (no exponent).

        >>> drawn = sheet(count=1, seed=1, ask=("loss",))
        >>> drawn.answer_range(drawn.problems[0].answers[0])
        ('0.81', '0.80995', '0.81005')
        """
        exact = Rational(self.answer_text(answer.quantity.value, answer.places))
        _markable_by_lms(answer)
        return tuple(_plain_decimal(v) for v in (exact, exact - answer.tolerance,
                                                 exact + answer.tolerance))

    @staticmethod
    def tolerance_text(answer: Answer) -> str:
        """An answer's tolerance as Moodle reads it: a plain decimal, never ``5e-14``."""
        _markable_by_lms(answer)
        return _plain_decimal(answer.tolerance)

    def answer_text(self, value: Expr, places: int) -> str:
        """A value as Moodle and Canvas should read it: exact when short, else to three
        more decimal places than are asked for (so that an interval of half a unit of the
        last asked place is centred where it belongs, whatever ``--digits`` is).

        >>> sheet(count=1, seed=1).answer_text(Rational(2, 3), 4)
        '0.6666667'
        """
        if not value.is_Rational:  # never a short decimal: no exact text to try
            return fixed(value, places + 3)
        text, is_exact = decimal(value, MAX_DIGITS)
        return text if is_exact and "e" not in text else fixed(value, places + 3)

    def to_data(self) -> dict:
        """The whole sheet as plain data: problems, asked quantities and answers."""
        return {
            "title": self.title, "seed": self.seed, "student": self.student,
            "difficulty": self.difficulty, "lang": self.lang,
            "ask": list(self.ask), "symgrad": __version__,
            "problems": [{
                "number": p.number,
                "network": ([p.derivation.network.layers[0].inputs]
                            + [layer.width for layer in p.derivation.network.layers]
                            if p.derivation.is_network else None),
                "activation": ([act.name for act in p.derivation.activations]
                               if p.derivation.is_network else p.derivation.activation.name),
                "loss": p.derivation.loss_function.name,
                "parameters": {name: json_value(v, self.digits) for name, v in
                               zip(p.derivation.parameter_names, p.derivation.parameters)},
                "samples": [{"x": [json_value(x, self.digits) for x in s.x],
                             "y": ([json_value(y, self.digits) for y in s.targets]
                                   if p.derivation.is_network else json_value(s.y, self.digits))}
                            for s in p.derivation.samples],
                "learning_rate": json_value(p.derivation.learning_rate, self.digits),
                **_training_data(p.derivation, self.digits),
                "answers": [{"quantity": a.quantity.key, "kind": a.quantity.kind,
                             **json_value(a.quantity.value, self.digits),
                             "places": a.places, "rounded": a.rounded,
                             "tolerance": str(a.tolerance),
                             "start": None if a.start is None else json_value(a.start,
                                                                              self.digits),
                             "mistakes": [{"name": m.name, **json_value(m.value, self.digits)}
                                          for m in a.mistakes]}
                            for a in p.answers],
                "self_test": {"passed": p.self_test.passed, "checks": p.self_test.checks,
                              "failures": list(p.self_test.failures)},
                **_definitions_data(p),
            } for p in self.problems],
        }

    def to_json(self) -> str:
        """:meth:`to_data` as indented JSON."""
        return json.dumps(self.to_data(), indent=2, ensure_ascii=False) + "\n"


def _definitions_data(p: Problem) -> dict:
    """``definitions`` of the named values a network problem's answers, starting values
    and mistakes are written in (``d1_1__4``), when there are any."""
    found = definitions(value for a in p.answers
                        for value in (a.quantity.value, a.start, *(m.value for m in a.mistakes))
                        if value is not None)
    return {"definitions": found} if found else {}


def _training_data(d: Derivation, digits: int) -> dict:
    """A problem's optimizer (its name and settings) and L2 penalty, as data: only those
    used, so a sheet of plain gradient descent keeps its old form."""
    data = {}
    if d.optimizer.name != "sgd":
        data["optimizer"] = {"name": d.optimizer.name, **{
            setting: json_value(value, digits) for setting, value in d.optimizer.settings}}
    if d.l2:
        data["l2"] = {"lambda": json_value(d.l2, digits), "biases": d.l2_biases}
    return data


# Moodle and Canvas mark in doubles: Moodle widens each interval by 10^-14 of the answer
# (question/type/numerical/question.php get_tolerance_interval), Canvas keeps the value as
# a float (numeric_interaction.rb). A tolerance at least this share of the value stays clear.
_LMS_RESOLUTION = Rational(1, 10 ** 13)


def _markable_by_lms(answer: Answer) -> None:
    """Refuse an LMS export of an answer asked to more places than a double can mark: the
    LMS would accept neighbours of the model answer that the sheet says are wrong."""
    size = max(1, abs(numeric(answer.quantity.value, 20)))
    if answer.tolerance < _LMS_RESOLUTION * size:
        raise SymgradError(
            f"{answer.quantity.key} is asked to {answer.places} decimal places, more than "
            "Moodle and Canvas can mark (they compare numbers as doubles); ask for fewer "
            "significant digits (--digits) for an LMS export")


def _plain_decimal(value: Rational) -> str:
    """A terminating decimal written out in full: ``0.00005``, never ``5e-5``."""
    with localcontext() as context:
        context.prec = 100  # exact: a sheet's values have far fewer digits
        text = format(Decimal(value.p) / Decimal(value.q), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def decimal_places(value: Expr) -> int | None:
    """Decimal places of a terminating decimal; ``None`` when it never ends.

    >>> decimal_places(Rational("0.125")), decimal_places(Rational(1, 3))
    (3, None)
    """
    if isinstance(value, Fraction):
        q, places = value.denominator, 0
    elif not value.is_Rational:
        return None
    else:
        q, places = value.q, 0
    while q % 10 == 0:
        q, places = q // 10, places + 1
    twos = fives = 0
    while q % 2 == 0:
        q, twos = q // 2, twos + 1
    while q % 5 == 0:
        q, fives = q // 5, fives + 1
    return places + max(twos, fives) if q == 1 else None


def _parse_names(names, registry: dict, kind: str) -> tuple[str, ...]:
    names = tuple(names)
    for name in names:
        choose(registry, name, kind)
    if not names:
        raise SymgradError(f"give at least one {kind}; choose from: {', '.join(registry)}")
    return names


def network_shape(text) -> tuple[int, ...]:
    """``"2-2-1"`` -> (2, 2, 1): inputs, then the width of each layer.

    >>> network_shape("2-2-1")
    (2, 2, 1)
    """
    parts = str(text).split("-") if not isinstance(text, (tuple, list)) else list(text)
    try:
        widths = tuple(int(p) if isinstance(p, int) or str(p).isascii() and str(p).isdigit()
                       else int("x") for p in parts)
    except ValueError:
        widths = ()
    if (not 2 <= len(widths) <= MAX_NETWORK_LAYERS + 1
            or not all(1 <= w <= MAX_NETWORK_WIDTH for w in widths)):
        raise SymgradError(f"a sheet's network is inputs-width-...-outputs such as 2-2-1, with "
                           f"1 to {MAX_NETWORK_LAYERS} layers of 1 to {MAX_NETWORK_WIDTH} "
                           f"neurons, not {text!r}")
    return widths


def sheet(*, count: int = 10, seed: int = 1, activations=None, losses=None,
          inputs: int | None = None, batch: int | None = None, ask=None, difficulty: str = "easy", exact_step: bool = False,
          allow_kink: bool = False, title: str = "Gradient descent practice",
          digits: int = 4, templates=None, network=None, lang: str = "en",
          student: str | None = None, optimizer: Optimizer | str = "sgd", l2=0,
          l2_biases: bool = False) -> Sheet:
    """Draw a seeded exercise sheet of ``count`` problems: single neurons, or networks of
    the shape ``network`` (``"2-2-1"``: two inputs, a hidden layer of two, one output),
    its words in language ``lang`` (``en``, ``de``). Each asked number is asked to the
    decimal places that show ``digits`` significant digits (a few more when needed to tell
    it from its starting value and every known mistake), and a problem is kept only when
    its own answers pass their self-test. ``student`` (an ID) draws that student's own
    variant: the same for the same seed and ID, different from other students'.
    ``optimizer``, ``l2`` and ``l2_biases`` are :func:`~symgrad.maths.derive.derive`'s:
    the step asked is the optimizer's first, on the loss with its penalty (``J`` and
    ``dJ`` ask for the penalised loss and gradients, ``state`` for the optimizer's).

    >>> s = sheet(count=2, seed=1)
    >>> [p.number for p in s.problems], sorted(s.documents("md"))
    ([1, 2], ['key.md', 'sheet.md'])
    """
    level = choose(DIFFICULTIES, difficulty, "difficulty")
    # A difficulty's own inputs and samples, unless given (networks take theirs from the
    # shape; an exact step needs one sample).
    if inputs is None:
        inputs = 1 if network is not None or exact_step else level.features
    if batch is None:
        batch = 1 if exact_step else level.samples
    for name, value, high in (("count", count, MAX_COUNT), ("inputs", inputs, MAX_INPUTS),
                              ("batch", batch, MAX_BATCH)):
        whole_number(value, name, high)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise SymgradError(f"seed must be a whole number, not {seed!r}")
    # Registry names or custom Activation objects (from a formula), as registry entries.
    activations = tuple(find_activation(a) for a in (activations or level.activations))
    if not activations:
        raise SymgradError(f"give at least one activation; choose from: {', '.join(ACTIVATIONS)}")
    losses = _parse_names(losses or level.losses, LOSSES | CLASS_LOSSES, "loss")
    shape = None if network is None else network_shape(network)
    _check_classes(activations, losses, shape)
    ask = _parse_names(ask or (DEFAULT_ASK if shape is None else DEFAULT_NETWORK_ASK), ASKABLE,
                       "asked quantity")
    if shape is None and "delta" in ask:
        raise SymgradError("delta (each neuron's error signal) is asked of networks; give "
                           "--network such as 2-2-1")
    if shape is not None and (exact_step or inputs != 1):
        raise SymgradError("a network sheet draws its inputs from --network; --inputs and "
                           "--exact-step are for single neurons")
    training = _training(optimizer, l2, l2_biases, level, exact_step, ask)
    whole_number(digits, "digits", MAX_DIGITS)
    choose(LANGUAGES, lang, "language")
    if student is not None:
        student_id(student)
    pairs = _pairs(activations, losses, level, exact_step, batch)
    # Hidden layers draw from the output layer's choices (a softmax's from the others).
    hidden = [a for a, _ in pairs if a.layer is None] or [a for a in activations
                                                          if a.layer is None]
    drawn, seen = [], set()
    for number in range(1, count + 1):
        rng = random.Random(f"symgrad-sheet:{seed}:{number}" if student is None else
                            f"symgrad-sheet:{seed}:{student}:{number}")
        for _ in range(MAX_TRIES):
            problem = (_draw_network(rng, level, pairs, hidden, shape, batch)
                       if shape is not None
                       else _draw(rng, level, pairs, inputs, batch, exact_step))
            if problem is None:
                continue
            neuron, samples, rate = problem
            key = (neuron, samples, rate)
            if key in seen:
                continue
            derivation = _accept(neuron, samples, rate, level, exact_step, allow_kink,
                                 training)
            if derivation is None:
                continue
            asked = _asked(derivation, ask)
            accepted = answers(derivation, asked, digits)
            if accepted is None:
                continue  # a starting value or a mistake too close to the answer
            tested = self_test(accepted)
            if tested.passed:  # a variant that fails its own marking is never written
                seen.add(key)
                break
        else:
            raise SymgradError(
                f"could not draw problem {number} meeting the conditions of a {difficulty} "
                f"sheet ({', '.join(a.name for a in activations)}; {', '.join(losses)}) in "
                f"{MAX_TRIES} tries; "
                "allow other activations or losses, or a harder difficulty")
        drawn.append(Problem(number, derivation, asked, accepted, tested))
    return Sheet(title=title, seed=seed, difficulty=difficulty, ask=ask, problems=tuple(drawn),
                 digits=digits,
                 templates=None if templates is None else str(templates), lang=lang,
                 student=student)


# A student ID names files: letters, digits and . _ @ - only (an e-mail address is one),
# starting with a letter or digit, at most 64 characters. Rosters and answer sheets (symgrad
# mark) share this rule.
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MAX_STUDENTS = 2000
MAX_ROSTER_BYTES = 1_000_000


def student_id(text) -> str:
    """A student ID as given, if it can name a file; else a one-line error."""
    if not isinstance(text, str) or not STUDENT_ID.fullmatch(text):
        raise SymgradError(f"student ID {str(text)[:70]!r} must be 1 to 64 letters, digits, "
                           "'.', '_', '@' or '-', starting with a letter or digit")
    return text


def read_roster(path: str | os.PathLike) -> tuple[str, ...]:
    """The student IDs of a roster: the first column of a CSV file (a header whose first
    cell is ``student`` or ``id`` is skipped, blank lines too), each once."""
    try:
        if not Path(path).is_file():
            raise SymgradError(f"the roster {str(path)!r} is not a regular file")
        with open(path, "rb") as file:
            data = file.read(MAX_ROSTER_BYTES + 1)
        if len(data) > MAX_ROSTER_BYTES:
            raise SymgradError(f"the roster {str(path)!r} is larger than {MAX_ROSTER_BYTES} "
                               "bytes")
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""),
                               strict=True))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise SymgradError(f"cannot read the roster {str(path)!r}: "
                           f"{getattr(error, 'strerror', None) or error}") from None
    ids = [row[0].strip() for row in rows if row and row[0].strip()]
    if ids and ids[0].lower() in ("student", "id", "student_id"):
        ids = ids[1:]
    if not ids:
        raise SymgradError(f"the roster {str(path)!r} names no student")
    if len(ids) > MAX_STUDENTS:
        raise SymgradError(f"the roster names {len(ids)} students; at most {MAX_STUDENTS}")
    seen = set()
    for name in ids:
        student_id(name)
        if name.lower() in seen:  # Ada and ada would be one file on many systems
            raise SymgradError(f"student {name!r} is in the roster twice (IDs are compared "
                               "without case)")
        seen.add(name.lower())
    return tuple(ids)


def class_sheets(students, **options) -> tuple[Sheet, ...]:
    """One sheet per student (each its own variant, see :func:`sheet`), in one process.

    >>> [s.student for s in class_sheets(["ada", "alan"], count=1)]
    ['ada', 'alan']
    """
    return tuple(sheet(student=student_id(name), **options) for name in students)


def class_documents(sheets: tuple[Sheet, ...], fmt: str = "md") -> dict[str, str]:
    """File name -> text for a class: ``sheets/ID.md`` and ``keys/ID.md`` per student (or
    ``.tex``), ``key.md`` with every student's answers, and ``class.json`` with every
    student's sheet data (what ``symgrad mark`` reads)."""
    _class_format(fmt)
    return _class_files(sheets[0], [_student_files(one, fmt) for one in sheets], fmt)


def class_files(students, *, fmt: str = "md", jobs: int = 1, **options) -> dict[str, str]:
    """:func:`class_documents` of the students' sheets drawn with ``options`` (see
    :func:`sheet`), drawn and rendered by ``jobs`` processes; the files are the same
    whatever ``jobs`` is.

    >>> sorted(class_files(["ada", "alan"], count=1, jobs=2))[:3]
    ['class.json', 'key.md', 'keys/ada.md']
    """
    _class_format(fmt)
    whole_number(jobs, "jobs", MAX_JOBS)
    students = [student_id(name) for name in students]
    if not students:
        raise SymgradError("a class needs at least one student")
    # The first student's sheet in this process: it checks the options before any worker
    # starts, and gives the class key its title.
    first = sheet(student=students[0], **options)
    files = [_student_files(first, fmt)]
    rest = students[1:]
    if jobs == 1 or len(rest) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        files += [_student_files(sheet(student=name, **options), fmt) for name in rest]
    else:
        # Forked workers inherit the options (a custom activation is a Python function,
        # which cannot be sent to a fresh process); the students' files come back as text,
        # in roster order.
        with ProcessPoolExecutor(max_workers=min(jobs, len(rest)),
                                 mp_context=multiprocessing.get_context("fork"),
                                 initializer=_set_worker_options,
                                 initargs=(fmt, options)) as pool:
            files += pool.map(_worker_files, rest,
                              chunksize=max(1, len(rest) // (8 * jobs)))
    return _class_files(first, files, fmt)


# At most this many processes draw a class.
MAX_JOBS = 64
_WORKER = {}


def _set_worker_options(fmt: str, options: dict) -> None:
    _WORKER.update(fmt=fmt, options=options)


def _worker_files(student: str) -> tuple[str, str, str, str, str]:
    return _student_files(sheet(student=student, **_WORKER["options"]), _WORKER["fmt"])


def _class_format(fmt: str) -> None:
    if fmt not in ("md", "tex"):
        raise SymgradError(f"a class is written as md or tex (with class.json), not {fmt}")


def _student_files(one: Sheet, fmt: str) -> tuple[str, str, str, str, str]:
    """A student's sheet, key, table of answers, ID and sheet data as the JSON text of
    an entry of class.json's students: plain text, which a worker process makes and sends
    back (the main process only joins it)."""
    data = json.dumps(one.to_data(), indent=2, ensure_ascii=False)
    return (*one._pages(fmt), one.student, textwrap.indent(data, " " * _ENTRY_INDENT))


# class.json's student entries are indented this much: json.dumps(indent=2) of
# {"students": [entry, ...]} puts each entry two levels in.
_ENTRY_INDENT = 4


def _class_files(first: Sheet, students, fmt: str) -> dict[str, str]:
    files = {}
    for (page, key, _, student, _) in students:
        files[f"sheets/{student}.{fmt}"] = page
        files[f"keys/{student}.{fmt}"] = key
    files[f"key.{fmt}"] = first._render(fmt, f"key.{fmt}.j2",
                                        tables=tuple(table for _, _, table, *_ in students),
                                        worked=False)
    # json.dumps({"symgrad": …, "students": [...]}, indent=2), from the entries' own text.
    files["class.json"] = (f'{{\n  "symgrad": {json.dumps(__version__)},\n  "students": [\n'
                           + ",\n".join(entry for *_, entry in students) + "\n  ]\n}\n")
    return files


def save_class(sheets: tuple[Sheet, ...], folder: str | os.PathLike,
               fmt: str = "md") -> list[Path]:
    """Write :func:`class_documents` into ``folder`` as one unit (all files or none)."""
    return write_into(folder, class_documents(sheets, fmt))


# Networks keep short numbers: weights and inputs on a grid of halves; on a level that
# keeps decimals short, a network's values (two layers of products) may have this many
# more places than a neuron's.
_NETWORK_EXTRA_PLACES = 3
# Networks keep short numbers: weights and inputs on a grid of halves.
_NETWORK_WEIGHTS = _grid("-1.5", "1.5", "0.5", zero=False)
_NETWORK_BIASES = _grid("-1", "1", "0.5")
_NETWORK_INPUTS = _grid("-2", "2", "0.5", zero=False)


def _draw_network(rng: random.Random, level: Difficulty, pairs, hidden, shape, batch: int):
    """A network of ``shape`` with its samples and learning rate (one-hot targets for a
    softmax output: a class each)."""
    activation, loss = rng.choice(pairs)
    layers = []
    for l, (inputs, width) in enumerate(zip(shape, shape[1:]), 1):
        chosen = activation if l == len(shape) - 1 else rng.choice(hidden)
        layers.append(Layer(
            weights=[[rng.choice(_NETWORK_WEIGHTS) for _ in range(inputs)] for _ in range(width)],
            biases=[rng.choice(_NETWORK_BIASES) for _ in range(width)],
            activation=chosen if chosen.name == "custom" else chosen.name))
    targets = (0, 1) if loss == "bce" else _TARGETS.get(activation.name, level.targets)

    def draw_y():
        if activation.layer is not None:
            label = rng.randrange(shape[-1])
            return [int(k == label) for k in range(shape[-1])]
        return [rng.choice(targets) for _ in range(shape[-1])]

    samples = tuple(Sample(x=[rng.choice(_NETWORK_INPUTS) for _ in range(shape[0])],
                           y=draw_y()) for _ in range(batch))
    return Network(layers=tuple(layers), loss=loss), samples, rng.choice(level.rates)


def _check_classes(activations, losses, shape) -> None:
    """A softmax is drawn on a network's output layer of 2 or more classes, with
    cross-entropy and hidden layers of another activation; cross-entropy only after it."""
    softmax = [a.name for a in activations if a.layer is not None]
    classes = [loss for loss in losses if loss in CLASS_LOSSES]
    if softmax and (shape is None or shape[-1] < 2):
        raise SymgradError(f"{softmax[0]} needs an output layer of at least 2 neurons, one per "
                           "class: give --network such as 2-2-3")
    if softmax and not classes:
        raise SymgradError(f"a sheet draws {softmax[0]} with cross_entropy: add it to --loss")
    if classes and not softmax:
        raise SymgradError(f"{classes[0]} needs a softmax output layer: add softmax to "
                           "--activation (relu,softmax)")
    if softmax and len(shape) > 2 and all(a.layer is not None for a in activations):
        raise SymgradError(f"{softmax[0]} goes on the output layer only: add an activation for "
                           "the hidden layers (relu,softmax)")


def _pairs(activations, losses, level: Difficulty, exact_step: bool, batch: int):
    """The (activation, loss) pairs that can meet the sheet's conditions at all."""
    if batch == 1 and "squared" in losses:
        # With one sample the mean squared error is the squared error: one name for one
        # formula on a sheet.
        losses = tuple(loss for loss in losses if loss != "mse")
    pairs = [(a, loss) for a in activations for loss in losses
             if (loss != "bce" or a.name == "sigmoid")
             and (a.layer is not None) == (loss in CLASS_LOSSES)]
    if not pairs:
        raise SymgradError("bce (binary cross-entropy) needs predictions strictly between 0 "
                           "and 1: add sigmoid to the activations")
    if level.decimals is not None:
        cannot = sorted({a.name for a, _ in pairs if a.name in _SMOOTH} |
                        {loss for _, loss in pairs if loss == "bce"})
        if cannot:
            raise SymgradError(f"{level.name} problems keep every value a short decimal, which "
                               f"{', '.join(cannot)} cannot; use --difficulty medium or hard")
    if exact_step:
        if batch != 1:
            raise SymgradError("--exact-step needs one sample a problem (--batch 1)")
        pairs = [(a, loss) for a, loss in pairs
                 if a.name in ("identity", "relu", "leaky_relu") and loss in _EXACT_STEP]
        if not pairs:
            raise SymgradError("--exact-step needs an identity or ReLU activation and a "
                               "squared, half_squared or mse loss")
    return tuple(pairs)


# Learning rate that lands on the target in one step: α = 1 / (c · (Σ x² + 1)).
_EXACT_STEP = {"squared": 2, "mse": 2, "half_squared": 1}


def _draw(rng: random.Random, level: Difficulty, pairs, inputs: int, batch: int,
          exact_step: bool):
    activation, loss = rng.choice(pairs)
    weights = tuple(rng.choice(level.weights) for _ in range(inputs))
    bias = rng.choice(level.biases)
    xs = [tuple(rng.choice(level.inputs) for _ in range(inputs)) for _ in range(batch)]
    if level.decimals is not None:
        # Short decimals everywhere start with a short error ŷ - y: draw the error, and
        # the target from it (easy levels use only piecewise-linear activations).
        def prediction(x):
            z = sum((w * xi for w, xi in zip(weights, x)), bias)
            return z if activation.name == "identity" or z > 0 else (
                0 if activation.name == "relu" else Rational(1, 100) * z)
        ys = [prediction(x) - rng.choice(_ERRORS) for x in xs]
    else:
        targets = (0, 1) if loss == "bce" else _TARGETS.get(activation.name, level.targets)
        ys = [rng.choice(targets) for _ in xs]
    samples = tuple(Sample(x=x, y=y) for x, y in zip(xs, ys))
    # Registry activations go by name (as a teacher would write them); custom ones as objects.
    neuron = Neuron(weights=weights, bias=bias, loss=loss,
                    activation=activation if activation.name == "custom" else activation.name)
    if exact_step:
        squares = sum(x * x for x in samples[0].x) + 1
        rate = Rational(1, _EXACT_STEP[loss] * squares)
        if decimal_places(rate) is None or decimal_places(rate) > 3:
            return None
    else:
        rate = rng.choice(level.rates)
    return neuron, samples, rate


def _training(optimizer, l2, l2_biases: bool, level: Difficulty, exact_step: bool,
              ask: tuple[str, ...]) -> dict:
    """derive's optimizer and penalty for every problem, or a one-line refusal of what
    makes no sense on a sheet."""
    optimizer, strength = training_settings(optimizer, l2)
    if l2_biases and not strength:
        raise SymgradError("--l2-biases penalises the biases too: give the penalty --l2 λ")
    if level.decimals is not None and optimizer.name in _ROOT_OPTIMIZERS:
        raise SymgradError(f"{level.name} problems keep every value a short decimal, which "
                           f"{optimizer.name}'s step (divided by a square root) cannot; use "
                           "--difficulty medium or hard")
    if exact_step and (optimizer.name != "sgd" or strength):
        raise SymgradError("--exact-step picks α so that plain gradient descent reaches zero "
                           "loss in one step; leave out --optimizer and --l2")
    if not strength and {"J", "dJ"} & set(ask):
        raise SymgradError("J and dJ (the loss with its penalty and its gradients) are asked "
                           "with an L2 penalty: give --l2 λ")
    if optimizer.name == "sgd" and "state" in ask:
        raise SymgradError("state (the optimizer's v, m, ...) is asked with an optimizer that "
                           "keeps one: give --optimizer momentum, nesterov, rmsprop, adam or "
                           "adamw")
    return dict(optimizer=optimizer, l2=strength, l2_biases=bool(l2_biases))


# The numbers of an optimizer's step: J, ∂J/∂p, the state, the new values, the loss after.
_STEP_KINDS = ("objective", "objective_gradient", "state", "update", "loss_after")
# On a level of short decimals, the step's numbers (which multiply α by μ, λ and the
# gradient) may have this many more places than the rest.
_STEP_EXTRA_PLACES = 1
# A number of the step this close to 0 (Adam's step landing a parameter on 0 but for ε)
# would be asked to a dozen places, more than an LMS can mark: the problem is redrawn.
_TINIEST = Rational(1, 10 ** 6)


def _stepped(d: Derivation, places: int | None, training: dict) -> bool:
    """Whether the optimizer's step and the penalty keep their numbers askable: none of
    them 0 but for a few ε, and each a decimal of at most ``places`` places (None: any
    number)."""
    if training["optimizer"].name == "sgd" and not training["l2"]:
        return True
    values = [q.value for q in quantities(d) if q.kind in _STEP_KINDS]
    if any(0 < abs(approx(v)) < _TINIEST for v in values):
        return False
    return places is None or all(
        (found := decimal_places(v)) is not None and found <= places for v in values)


def _accept(neuron, samples, rate, level: Difficulty, exact_step: bool,
            allow_kink: bool, training: dict) -> Derivation | None:
    """The derivation when the drawn problem meets every condition, else ``None``."""
    if isinstance(neuron, Network):
        return _accept_network(neuron, samples, rate, level, allow_kink, training)
    # Conditions on z alone are checked before the (costlier) derivation.
    zs = [sum((w * x for w, x in zip(neuron.weights, s.x)), neuron.bias or 0) for s in samples]
    name = find_activation(neuron.activation).name
    if name in _SMOOTH and any(abs(z) > MAX_ABS_Z for z in zs):
        return None  # saturated: gradients vanish, nothing to see
    if name in ("relu", "leaky_relu") and not allow_kink and 0 in zs:
        return None
    if name == "relu" and all(z <= 0 for z in zs):
        return None  # dead in every sample (f'(0) = 0 too): every gradient is 0
    if level.decimals is not None and any(
            decimal_places(z) is None or decimal_places(z) > level.decimals for z in zs):
        return None
    # A level of short decimals screens the step's numbers before deriving: in fractions
    # (the easy levels' activations and losses), else by the engine without its working.
    # Any other level needs only what the derivation holds, so it is derived once.
    numbers = _quick_step_numbers(neuron, samples, rate, name)
    if numbers is None and (level.decimals is not None or exact_step):
        try:
            numbers = step_numbers(neuron, samples, learning_rate=rate)
        except DomainError:
            return None
    if numbers is not None and not _learns(numbers, samples, level, exact_step):
        return None
    try:
        d = derive(neuron, samples, learning_rate=rate, **training)
    except DomainError:
        return None
    if numbers is None and not _learns(_numbers_of(d), samples, level, exact_step):
        return None
    return d if _stepped(d, None if level.decimals is None else
                         level.decimals + _STEP_EXTRA_PLACES, training) else None


def _learns(numbers: StepNumbers, samples, level: Difficulty, exact_step: bool) -> bool:
    """Whether a neuron's step meets the level's conditions: predictions near their
    targets, something to learn, short decimals where the level keeps them (and with
    ``exact_step``, zero loss after the step)."""
    if level.max_error is not None and any(
            abs(approx(a - s.y)) > level.max_error
            for a, s in zip(numbers.predictions, samples)):
        return False
    if numbers.loss == 0 or all(g == 0 for g in numbers.gradients):
        return False  # nothing to learn
    if exact_step and numbers.loss_after != 0:
        return False
    if level.decimals is not None:
        for value in numbers.shown:
            places = decimal_places(value)
            if places is None or places > level.decimals:
                return False
    return True


def _numbers_of(d: Derivation) -> StepNumbers:
    """A neuron's step as :func:`step_numbers` gives it, read from its derivation (the
    loss's own gradients, without a penalty), without the numbers shown."""
    gradients = tuple(g.value if g.loss_value is None else g.loss_value for g in d.gradients)
    return StepNumbers(tuple(f.outputs()[0].a.value for f in d.forward), d.loss.value,
                       gradients, d.loss_after.value, ())


# Losses a candidate's step can be worked for in fractions: (ℓ(e), ∂ℓ/∂ŷ(e)) of the
# error e = ŷ − y, as derive's formulas give them.
_QUICK_LOSSES = {"squared": (lambda e: e * e, lambda e: 2 * e),
                 "mse": (lambda e: e * e, lambda e: 2 * e),
                 "half_squared": (lambda e: e * e / 2, lambda e: e)}
_ZERO, _ONE = Fraction(0), Fraction(1)


def _quick_step_numbers(neuron: Neuron, samples, rate, name: str) -> StepNumbers | None:
    """:func:`step_numbers` of a neuron with a piecewise-linear activation and a squared
    loss, worked in fractions, exactly (the same numbers, as Fractions) and a hundred
    times faster; None for any other neuron. Easy sheets screen about four candidates
    per problem this way."""
    if name not in ("identity", "relu", "leaky_relu") or neuron.loss not in _QUICK_LOSSES:
        return None
    ell, dell = _QUICK_LOSSES[neuron.loss]
    leak, alpha = Fraction(neuron.slope.p, neuron.slope.q), Fraction(rate.p, rate.q)
    scale = Fraction(1, len(samples)) if LOSSES[neuron.loss].reduction == "mean" else 1
    xs = [[Fraction(x.p, x.q) for x in s.x] for s in samples]
    ys = [Fraction(s.y.p, s.y.q) for s in samples]

    def run(parameters):  # z, ŷ, each loss, the loss, ∂L/∂ŷ, f'(z), per-sample gradients
        *weights, bias = parameters if neuron.bias is not None else (*parameters, 0)
        zs = [sum((w * x for w, x in zip(weights, row)), Fraction(bias)) for row in xs]
        predictions = [z if z > 0 or name == "identity" else
                       _ZERO if name == "relu" else leak * z for z in zs]
        losses = [ell(a - y) for a, y in zip(predictions, ys)]
        upstream = [dell(a - y) for a, y in zip(predictions, ys)]
        slopes = [_ONE if z > 0 or name == "identity" else _ZERO if name == "relu" else leak
                  for z in zs]
        deltas = [u * d for u, d in zip(upstream, slopes)]
        per_sample = [tuple(d * x for d, x in zip(deltas, column)) for column in zip(*xs)]
        if neuron.bias is not None:
            per_sample.append(tuple(deltas))
        loss = losses[0] if len(losses) == 1 else scale * sum(losses)
        totals = [g[0] if len(g) == 1 else scale * sum(g) for g in per_sample]
        return zs, predictions, losses, loss, upstream, slopes, per_sample, totals

    parameters = [Fraction(p.p, p.q) for p in neuron.parameters]
    first = run(parameters)
    updated = [p - alpha * g for p, g in zip(parameters, first[-1])]
    after = run(updated)
    # In step_numbers' order (the checks read only which values are there).
    shown = [*parameters, alpha, *updated]
    for zs, predictions, losses, loss, *_ in (first, after):
        shown += [*zs, *predictions, *losses, loss]
    shown += [*first[4], *first[5], *first[-1]]
    shown += [g for gradient in first[6] for g in gradient]
    return StepNumbers(tuple(first[1]), first[3], tuple(first[-1]), after[3], tuple(shown))


def _accept_network(network: Network, samples, rate, level: Difficulty,
                    allow_kink: bool, training: dict) -> Derivation | None:
    """The derivation of a drawn network when every neuron stays out of flat tails and off
    kinks, the outputs are near their targets, and every weight learns something."""
    try:
        d = derive(network, samples, learning_rate=rate, **training)
    except DomainError:
        return None
    # A softmax's probabilities are never short decimals.
    places = (None if level.decimals is None or d.activations[-1].layer is not None
              else level.decimals + _NETWORK_EXTRA_PLACES + _STEP_EXTRA_PLACES)
    if not _stepped(d, places, training):
        return None
    for f in d.forward:
        for unit in f.units:
            name = d.activations[unit.layer - 1].name
            z = unit.z.value
            if (name in _SMOOTH or name == "softmax") and abs(approx(z)) > MAX_ABS_Z:
                return None
            if name in ("relu", "leaky_relu") and (z == 0 and not allow_kink or
                                                   name == "relu" and z < 0):
                return None  # a dead ReLU would teach nothing about its weights
        errors = [abs(approx(u.a.value - y)) for u, y in zip(f.outputs(), f.sample_data.targets)]
        if level.max_error is not None and any(e > level.max_error for e in errors):
            return None
    if any(g.sign == 0 for g in d.gradients):
        return None
    # A softmax's probabilities are never short decimals: shown rounded at every level.
    if level.decimals is not None and d.activations[-1].layer is None:
        shown = [g.value for g in d.gradients] + list(d.updated) + [d.loss.value,
                                                                    d.loss_after.value]
        for f in d.forward + d.forward_after:
            shown += [line.value for u in f.units
                      for line in (u.z, u.a, u.upstream, u.slope, u.delta) if line is not None]
        places = [decimal_places(v) for v in shown]
        if any(p is None or p > level.decimals + _NETWORK_EXTRA_PLACES for p in places):
            return None
    return d


def _asked(d: Derivation, ask: tuple[str, ...]) -> tuple[Quantity, ...]:
    found = quantities(d)
    last = f"a{len(d.network.layers)}_"
    chosen = []
    for name in ask:
        for spec in ASKABLE[name]:
            kind, _, parameter = spec.partition(":")
            if d.is_network and kind == "prediction":  # a network's outputs
                chosen += [q for q in found if q.kind == "activation" and
                           q.key.startswith(last)]
                continue
            chosen += [q for q in found if q.kind == kind and (
                not parameter or str(q.symbol).startswith(parameter))]
    return tuple(chosen)
