"""Follow-through marking: each part of a problem marked against the value recomputed
from the learner's own earlier answers.

A part is *correct* when its :class:`~symgrad.assess.answers.Answer` accepts it (the
sheet's own tolerance: half a unit of the last asked place). A wrong part that follows
from the learner's own wrong earlier answers (a wrong ŷ, then the right L for that ŷ)
is *carried forward*: it earns ``carry_forward`` of its marks (all of them by default).
The chain followed is :func:`symgrad.maths.quantities.depends_on`'s. For a single neuron:
the loss and the gradients from the predictions, a new parameter from its gradient,
the loss after the step from the new parameters. For a network, backpropagation is
worked again from the learner's outputs and error signals δ: later outputs from earlier
ones, the loss from the outputs, each δ from the outputs and the δ of later layers, each
gradient from its neuron's δ and the outputs feeding it. With an L2 penalty, J follows
from the loss and ∂J/∂p from ∂L/∂p; with an optimizer, its state (v, m, v, m̂, v̂) from
the gradient the step uses (m̂ from m, v̂ from v too), and the new parameter from that
gradient and its state, by the optimizer's rule. A quantity in between that is not
asked is worked on the way (a new b from the learner's ŷ when ∂L/∂b is not asked).
``f'`` may be worked from
``z`` or through the learner's own output (``ŷ(1 − ŷ)``); both count. No credit is
carried forward from an earlier answer that makes the later part trivial (ŷ or an output
equal to the target, a gradient or δ of 0, a parameter left unchanged) nor to a later
value that is trivial itself (a loss or gradient of 0, the value before the step). A part worked from right earlier answers as
rounded (a new w from the gradient to its asked places) is right, even when that rounding
moves it out of its own tolerance. A wrong part is tagged with the known mistakes whose
value it gives, as :func:`symgrad.diagnose` names them.

Feedback is one short line, in the sheet's language (``lang``): its words go through the
same gettext catalogs as the lessons'.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from dataclasses import dataclass

from sympy import Expr

from ..errors import ParseError, SymgradError
from ..maths.derive import derive
from ..maths.model import Layer, Network, Neuron, Optimizer, Sample, exact
from ..maths.quantities import MISTAKES, depends_on, quantities, recompute
from .answers import Answer, answer, self_test
from ..views.render import LANGUAGES, translations
from .checks import DECIMAL_COMMA
from .sheets import STUDENT_ID, Problem, student_id

__all__ = ["PartMark", "Marking", "mark", "STATUSES", "ClassMarks", "problems_from_json",
           "class_from_json", "language_of", "read_answers", "mark_class", "MAX_ANSWERS_BYTES"]

STATUSES = ("correct", "carried_forward", "wrong", "blank", "unreadable")


@dataclass(frozen=True, slots=True)
class PartMark:
    """The mark of one asked number: what was ``given`` (the text, ``""`` when blank),
    ``score`` out of ``max_score``, ``status`` (one of :data:`STATUSES`), the names of
    the known ``mistakes`` the value gives, and one line of ``feedback``."""

    key: str
    given: str
    score: float
    max_score: float
    status: str
    mistakes: tuple[str, ...]
    feedback: str


@dataclass(frozen=True, slots=True)
class Marking:
    """The marks of one problem: ``parts`` in the order asked, their total ``score``
    out of ``max_score``."""

    problem: int
    parts: tuple[PartMark, ...]
    score: float
    max_score: float


def mark(problem, answers: dict, *, carry_forward: float = 1.0, lang: str = "en") -> Marking:
    """Mark a learner's ``answers`` (quantity key -> text) to ``problem`` (a
    :class:`~symgrad.assess.sheets.Problem`), each part worth one mark; a part carried
    forward earns ``carry_forward`` of it. A key left out is blank. The feedback is in
    language ``lang`` (``en``, ``de``).

    >>> from symgrad.assess.sheets import sheet
    >>> p = sheet(count=1, seed=1, ask=["prediction", "loss"]).problems[0]
    >>> [(a.quantity.key, a.rounded) for a in p.answers], str(p.derivation.samples[0].y)
    ([('prediction', '2.900'), ('loss', '0.8100')], '19/5')
    >>> m = mark(p, {"prediction": "3.2", "loss": "0.36"})  # (3.2 - 3.8)² = 0.36
    >>> [(part.status, part.score) for part in m.parts], m.score
    ([('wrong', 0.0), ('carried_forward', 1.0)], 1.0)
    >>> m.parts[1].feedback
    'follows from your prediction = 3.2: credit carried forward'
    >>> m = mark(p, {"prediction": "3.8", "loss": "0"})  # ŷ = y makes L = 0
    >>> m.parts[1].status, m.parts[1].feedback
    ('wrong', 'no credit carried forward: your prediction = 3.8 is the target y')
    >>> mark(p, {"prediction": "3.8", "loss": "0"}, lang="de").parts[1].feedback
    'keine Folgepunkte: Ihre Antwort prediction = 3.8 ist das Ziel y'
    """
    _ = translations(lang).gettext
    if not 0 <= carry_forward <= 1:
        raise SymgradError(f"carry_forward is a fraction of a part's marks, 0 to 1, not "
                           f"{carry_forward!r}")
    by_key = {a.quantity.key: a for a in problem.answers}
    unknown = [key for key in answers if key not in by_key]
    if unknown:
        raise SymgradError(f"problem {problem.number} does not ask for {unknown[0]!r}; it asks "
                           f"for: {', '.join(by_key)}")
    d = problem.derivation
    values: dict[str, Expr] = {}   # readable answers, exact
    texts: dict[str, str] = {}     # and as written
    statuses: dict[str, str] = {}
    for key, text in answers.items():
        if text is not None and not isinstance(text, str):
            raise SymgradError(f"the answer for {key!r} must be text, not "
                               f"{type(text).__name__}")
    parts = {}
    chains = _Chains(d, set(by_key))
    # Each part after the parts it is worked from (a hidden δ after the output δ it
    # needs), reported in the order asked.
    for a in _worked_order(chains, problem.answers):
        key = a.quantity.key
        text = (answers.get(key) or "").strip()
        parts[key] = _part(chains, a, text, values, texts, statuses, by_key, carry_forward, _)
        statuses[key] = parts[key].status
    ordered = tuple(parts[a.quantity.key] for a in problem.answers)
    return Marking(problem.number, ordered, sum(p.score for p in ordered),
                   float(len(ordered)))


def _worked_order(chains: _Chains, asked) -> list[Answer]:
    """The asked answers in an order a learner can work them: each after those it
    depends on (:func:`~symgrad.maths.quantities.depends_on`, through quantities not
    asked), else as asked."""
    needs = {a.quantity.key: set(chains.below(a.quantity.key)) for a in asked}
    done, order, waiting = set(), [], list(asked)
    while waiting:
        ready = next(a for a in waiting if needs[a.quantity.key] <= done)
        waiting.remove(ready)
        order.append(ready)
        done.add(ready.quantity.key)
    return order


def _part(chains: _Chains, a: Answer, text: str, values, texts, statuses, by_key,
          carry_forward, _) -> PartMark:
    """One part's mark; ``_`` is the gettext of the feedback's language."""
    d, key = chains.d, a.quantity.key
    if not text:
        return PartMark(key, text, 0.0, 1.0, "blank", (), _("no answer"))
    try:
        value = _number(text)
    except SymgradError as error:  # not a number, or one out of range (1e99)
        # In the learner's words: a decimal comma (1,5 for one and a half), a formula;
        # else the reader's own reason, in English.
        plain = _minus(text)
        reason = (_("write decimals with a point (%(number)s) and no thousands separators")
                  % {"number": plain.replace(",", ".")} if DECIMAL_COMMA.fullmatch(plain)
                  else _("write a number, such as -0.25, 1.5e-3 or 3/4; a formula is not "
                         "an answer here") if not ANSWER.fullmatch(plain)
                  else error)
        return PartMark(key, text, 0.0, 1.0, "unreadable", (), _(
            "could not read %(answer)s: %(reason)s") % {"answer": repr(text),
                                                         "reason": reason})
    values[key], texts[key] = value, text
    if a.accepts(value):
        return PartMark(key, text, 1.0, 1.0, "correct", (), _("correct"))
    tags = tuple(dict.fromkeys(m.name for m in a.gives(value)))
    # The earlier answers this part follows from, as written; those not accepted.
    written = {k: values[k] for k in chains.below(key) if k in values}
    wrong = {k: v for k, v in written.items() if statuses[k] in ("wrong", "carried_forward")}
    if written and not wrong:
        # Right earlier answers, rounded as asked: a part worked from them is right too.
        recomputed = _followed(chains, a, value, written)
        if recomputed is not None and not _trivial_later(a, recomputed, _):
            return PartMark(key, text, 1.0, 1.0, "correct", (), _(
                "correct: it follows from your rounded %(answers)s") % {
                    "answers": _shown(written, texts)})
    recomputed = _followed(chains, a, value, written) if wrong else None
    if recomputed is not None:  # it follows from the learner's own wrong earlier answers
        refused = (_trivial_earlier(d, wrong, texts, by_key, _)
                   or _trivial_later(a, recomputed, _))
        if refused:
            return PartMark(key, text, 0.0, 1.0, "wrong", tags,
                            _("no credit carried forward: %(reason)s") % {"reason": refused})
        answers = {"answers": _shown(wrong, texts)}
        return PartMark(key, text, float(carry_forward), 1.0, "carried_forward", (), (
            _("follows from your %(answers)s: credit carried forward") if carry_forward
            else _("follows from your %(answers)s, but this sheet carries no credit "
                   "forward")) % answers)
    if tags:
        return PartMark(key, text, 0.0, 1.0, "wrong", tags, _("wrong: %(mistakes)s") % {
            "mistakes": _("; or ").join(_(MISTAKES[name]) for name in tags)})
    if a.start is not None and a.near(value, a.start):
        return PartMark(key, text, 0.0, 1.0, "wrong", (),
                        _("wrong: 0, as if nothing were computed") if a.quantity.kind in (
                            "gradient", "delta", "objective_gradient")
                        else _("wrong: the value before the step"))
    return PartMark(key, text, 0.0, 1.0, "wrong", (), _("wrong"))


def _shown(answers: dict, texts: dict) -> str:
    """``prediction = 3.2, loss = 0.36``: the learner's answers as written."""
    return ", ".join(f"{k} = {texts[k]}" for k in answers)


# A network's quantities that backpropagation works again from the learner's outputs and δ
# (quantities.recompute): each depends directly on every output and δ before it.
_BACKPROPAGATED = ("activation", "delta", "loss", "gradient")


class _Chains:
    """How one problem's quantities are worked from each other, for one marking: which
    ``asked`` quantities each is worked from, through those not asked (a new b from ŷ when
    ∂L/∂b is not asked), remembered, since a network's paths multiply with its depth."""

    def __init__(self, d, asked: set):
        self.d, self.asked = d, asked
        self.kinds = {q.key: q.kind for q in quantities(d)}
        self._depends: dict[str, tuple[str, ...]] = {}
        self._below: dict[str, tuple[str, ...]] = {}

    def depends(self, key: str) -> tuple[str, ...]:
        if key not in self._depends:
            self._depends[key] = depends_on(self.d, key)
        return self._depends[key]

    def direct(self, key: str) -> bool:
        """Whether ``key`` is worked from the learner's answers at once: a network's
        backpropagated quantities depend on every output and δ before them already."""
        return self.d.is_network and self.kinds[key] in _BACKPROPAGATED

    def below(self, key: str) -> tuple[str, ...]:
        """The asked quantities ``key`` is worked from."""
        if key not in self._below:
            found = []
            for earlier in self.depends(key):
                if earlier in self.asked:
                    found.append(earlier)
                elif not self.direct(key):
                    found += self.below(earlier)
            self._below[key] = tuple(dict.fromkeys(found))
        return self._below[key]

    def worked(self, key: str, written: dict, through_output: bool, memo: dict) -> dict:
        """The values ``key`` depends on, worked from the learner's ``written`` answers:
        each one asked as the learner wrote it; each one not asked worked from the
        learner's answers below it (left out when none is below it, or they leave it
        undefined). ``memo`` keeps each value worked, for one set of answers."""
        found = {}
        for earlier in self.depends(key):
            if earlier in self.asked or self.direct(key):
                if earlier in written:
                    found[earlier] = written[earlier]
                continue
            if earlier not in memo:
                below = self.worked(earlier, written, through_output, memo)
                memo[earlier] = recompute(self.d, earlier, below,
                                          through_output=through_output) if below else None
            if memo[earlier] is not None:
                found[earlier] = memo[earlier]
        return found


def _followed(chains: _Chains, a: Answer, value, written: dict):
    """The value of ``a``'s quantity worked from the learner's ``written`` earlier answers
    (through the quantities not asked) that ``value`` matches, or None: with ``f'`` as in
    our working, or written through the learner's own output (``ŷ(1 − ŷ)``), which is just
    as right."""
    for through_output in (False, True):
        recomputed = recompute(chains.d, a.quantity.key,
                               chains.worked(a.quantity.key, written, through_output, {}),
                               through_output=through_output)
        if recomputed is not None and a.near(value, recomputed):
            return recomputed
    return None


def _trivial_earlier(d, wrong: dict, texts: dict, by_key, _) -> str | None:
    """Why one of the learner's wrong earlier answers makes the later parts trivial, or
    None: a prediction (a network's output) equal to its target, a gradient or an error
    signal δ of 0, an unchanged parameter."""
    last = len(d.network.layers)
    for k, value in wrong.items():
        earlier = by_key[k]
        q = earlier.quantity
        yours = {"answer": f"{k} = {texts[k]}"}
        if q.kind == "prediction" and earlier.near(value, d.samples[(q.sample or 1) - 1].y):
            return _("your %(answer)s is the target y") % yours
        if q.kind == "activation" and k.startswith(f"a{last}_"):
            neuron = int(k.split("@")[0].split("_")[1])
            if earlier.near(value, d.samples[(q.sample or 1) - 1].targets[neuron - 1]):
                return _("your %(answer)s is the target y") % yours
        if q.kind in ("gradient", "delta", "objective_gradient", "state") and earlier.near(
                value, 0):
            return _("your %(answer)s is 0") % yours
        if q.kind == "update" and earlier.start is not None and earlier.near(value,
                                                                             earlier.start):
            return _("your %(answer)s leaves the parameter unchanged") % yours
    return None


def _trivial_later(a: Answer, recomputed: Expr, _) -> str | None:
    """Why the value recomputed from wrong earlier answers is too easy to credit, or None."""
    if a.quantity.kind in ("loss", "gradient", "loss_after", "objective",
                           "objective_gradient", "state") and a.near(recomputed, 0):
        return _("your earlier answers make this 0")
    if a.start is not None and a.near(recomputed, a.start):
        return _("your earlier answers make this the value before the step")
    return None


# A learner's answer: a number as a sheet asks for it, a decimal (-0.25, 1.5e-3, .5) or a
# fraction (3/4), at most MAX_ANSWER_LENGTH characters. A formula such as tanh(0.65) is not
# one: the reader would work out the very sum the sheet asks the learner to work out.
ANSWER = re.compile(r"[+-]?\s*([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?(\s*/\s*[0-9]+)?",
                    re.IGNORECASE)
MAX_ANSWER_LENGTH = 100


def _minus(text: str) -> str:
    """A typeset minus (−, as copied from a lesson) as ``-``."""
    return text.replace("\u2212", "-")


def _number(text: str) -> Expr:
    """A learner's number (:data:`ANSWER`), exactly as written (never ``eval``).

    >>> _number("-0.25"), _number("1.5e-3"), _number("\u22123/4"), _number("007")
    (-1/4, 3/2000, -3/4, 7)
    """
    text = _minus(text)
    if len(text) > MAX_ANSWER_LENGTH:
        raise ParseError(f"a number of at most {MAX_ANSWER_LENGTH} characters is expected")
    if not ANSWER.fullmatch(text):
        raise ParseError("a number such as -0.25, 1.5e-3 or 3/4 is expected, not a formula")
    number, _, denominator = text.partition("/")
    value = exact("".join(number.split()), "answer")  # "- 0.5" is -0.5
    denominator = denominator.strip()
    if denominator:
        if int(denominator) == 0:
            raise ParseError("the fraction divides by zero")
        value /= int(denominator)
    return value


# A class's answers file is a few thousand rows; a bigger one is a mistake.
MAX_ANSWERS_BYTES = 10_000_000


def problems_from_json(text: str) -> tuple[Problem, ...]:
    """The problems of a sheet written as ``sheet.json``, derived again from its numbers;
    each asked number's answer must round as the file says, else the file was written by
    another symgrad (or edited) and a one-line SymgradError says so.

    >>> from symgrad.assess.sheets import sheet
    >>> [p.answers[0].rounded for p in problems_from_json(sheet(count=2, seed=1).to_json())]
    ['0.8100', '4.000']
    """
    try:
        return _problems(_loads(text)["problems"], "sheet.json")
    except SymgradError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as error:
        raise SymgradError(f"sheet.json is not a symgrad sheet: {type(error).__name__} "
                           f"{error}") from None


def _loads(text: str):
    """JSON, or a ValueError (not a RecursionError for a file nested thousands deep)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _problems(entries, where: str) -> tuple[Problem, ...]:
    """The problems of a sheet's entries: at least one, numbered by distinct whole numbers,
    each asking for a quantity once (else a hand-edited file would mark an answer against
    another problem's, or twice)."""
    if not isinstance(entries, list) or not entries:
        raise SymgradError(f"{where} has no problems")
    numbers = [p["number"] if isinstance(p, dict) else None for p in entries]
    for number in numbers:
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise SymgradError(f"{where}: a problem's number is {number!r}; a whole number "
                               "from 1 is expected")
        if numbers.count(number) > 1:
            raise SymgradError(f"{where} has two problems numbered {number}")
    for p in entries:
        keys = [entry["quantity"] for entry in p["answers"]]
        if not keys:
            raise SymgradError(f"{where}: problem {p['number']} asks for nothing")
        repeated = next((key for key in keys if keys.count(key) > 1), None)
        if repeated is not None:
            raise SymgradError(f"{where}: problem {p['number']} asks for {repeated!r} twice")
    return tuple(_problem(p) for p in entries)


def class_from_json(text: str) -> dict[str | None, tuple[Problem, ...]]:
    """The problems of ``sheet.json`` (for every student: key None) or of a class's
    ``class.json`` (each student's own variant, by student ID, each student once), derived
    again."""
    try:
        data = _loads(text)
    except ValueError:
        data = None  # not JSON: problems_from_json says so
    try:
        if isinstance(data, dict) and "students" in data:
            found = {}
            for one in data["students"]:
                student = student_id(one["student"])
                if student.lower() in (known.lower() for known in found):
                    raise SymgradError(f"class.json lists student {student!r} twice (IDs "
                                       "are compared without case)")
                found[student] = _problems(one["problems"], f"class.json ({student})")
            if not found:
                raise SymgradError("class.json has no students")
            return found
    except SymgradError:
        raise
    except (KeyError, TypeError, IndexError, AttributeError, ValueError) as error:
        raise SymgradError(f"class.json is not a symgrad class: {type(error).__name__} "
                           f"{error}") from None
    return {None: problems_from_json(text)}


def language_of(text: str) -> str:
    """The language a ``sheet.json`` or ``class.json`` was written in, which its marks'
    feedback is given in: ``en`` for a file from before symgrad wrote it.

    >>> from symgrad.assess.sheets import sheet
    >>> language_of(sheet(count=1, seed=1, lang="de").to_json())
    'de'
    """
    try:
        data = _loads(text)
        first = data["students"][0] if "students" in data else data
        lang = first.get("lang", "en")
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as error:
        raise SymgradError(f"sheet.json is not a symgrad sheet: {type(error).__name__} "
                           f"{error}") from None
    if not isinstance(lang, str) or lang not in LANGUAGES:
        raise SymgradError(f"the sheet's language {lang!r} is not one symgrad knows; "
                           f"choose one of: {', '.join(LANGUAGES)}")
    return lang


def _problem(p: dict) -> Problem:
    number = p["number"]
    values = [exact(v["exact"]) for v in p["parameters"].values()]
    names = list(p["parameters"])
    activation = p["activation"]
    if "custom" in (activation if isinstance(activation, list) else [activation]):
        raise SymgradError(f"problem {number} of sheet.json has a custom activation, whose "
                           "formula sheet.json does not keep; mark it in Python with "
                           "symgrad.mark")
    if p["network"] is None:
        bias = values.pop() if names[-1] == "b" else None
        model = Neuron(weights=values, bias=bias, activation=activation, loss=p["loss"])
        samples = [Sample(x=[exact(x["exact"]) for x in s["x"]], y=exact(s["y"]["exact"]))
                   for s in p["samples"]]
    else:
        layers, position = [], 0
        for inputs, width, act in zip(p["network"], p["network"][1:], activation):
            flat = values[position:position + inputs * width]
            biases = values[position + inputs * width:position + (inputs + 1) * width]
            position += (inputs + 1) * width
            layers.append(Layer([flat[j * inputs:(j + 1) * inputs] for j in range(width)],
                                biases, act))
        model = Network(layers=tuple(layers), loss=p["loss"])
        samples = [Sample(x=[exact(x["exact"]) for x in s["x"]],
                          y=[exact(y["exact"]) for y in s["y"]]) for s in p["samples"]]
    optimizer = p.get("optimizer", {"name": "sgd"})
    penalty = p.get("l2", {"lambda": {"exact": "0"}, "biases": False})
    d = derive(model, samples, learning_rate=exact(p["learning_rate"]["exact"]),
               optimizer=Optimizer(optimizer["name"], **{
                   setting: exact(value["exact"]) for setting, value in optimizer.items()
                   if setting != "name"}),
               l2=exact(penalty["lambda"]["exact"]), l2_biases=penalty["biases"] is True)
    found = {q.key: q for q in quantities(d)}
    asked, rebuilt = [], []
    for entry in p["answers"]:
        key = entry["quantity"]
        if key not in found:
            raise SymgradError(f"sheet.json does not match this symgrad: problem {number} "
                               f"asks for {key!r}, which its derivation does not have")
        places = entry["places"]
        if not isinstance(places, int) or isinstance(places, bool) or not 0 <= places <= 30:
            raise SymgradError(f"sheet.json: problem {number} {key} has places {places!r}; "
                               "a whole number from 0 to 30 is expected")
        a = answer(d, found[key], places)
        if a.rounded != entry["rounded"] or str(a.tolerance) != entry["tolerance"]:
            raise SymgradError(f"sheet.json does not match this symgrad: problem {number} "
                               f"{key} is {a.rounded} here, {entry['rounded']} in the file")
        asked.append(found[key])
        rebuilt.append(a)
    tested = self_test(tuple(rebuilt))
    if not tested.passed:  # a file edited to accept what it must not (an unchanged b)
        raise SymgradError(f"sheet.json does not match this symgrad: problem {number} fails "
                           f"its self-test ({tested.failures[0]})")
    return Problem(number, d, tuple(asked), tuple(rebuilt), tested)


def read_answers(text: str, problems) -> tuple[tuple[str, int, dict], ...]:
    """The rows of a class's answers CSV (``student,problem,<quantity keys...>``) as
    (student, problem number, key -> text), checked against the ``problems`` (one sheet's,
    or a class's by student ID, see :func:`class_from_json`): every
    column a quantity some problem asks for, every problem one of them, no student twice
    for one problem. An empty cell is a blank answer.

    >>> from symgrad.assess.sheets import sheet
    >>> problems = sheet(count=1, seed=1).problems
    >>> read_answers("student,problem,loss,dL/dw\\nada,1,0.81,\\n", problems)
    (('ada', 1, {'loss': '0.81', 'dL/dw': ''}),)
    """
    if len(text.encode()) > MAX_ANSWERS_BYTES:
        raise SymgradError(f"the answers file is larger than {MAX_ANSWERS_BYTES} bytes")
    # One sheet for everyone, or (a class) each student's own problems.
    by_student = problems if isinstance(problems, dict) else {None: problems}
    asks = {student: {p.number: {a.quantity.key for a in p.answers} for p in mine}
            for student, mine in by_student.items()}
    by_number = {number: keys for mine in asks.values() for number, keys in mine.items()}
    try:
        # strict: an unclosed quote is an error, not a cell that swallows the next rows
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), strict=True))
    except csv.Error as error:
        raise SymgradError(f"the answers CSV cannot be read: {error}") from None
    if not rows or [c.strip().lower() for c in rows[0][:2]] != ["student", "problem"]:
        raise SymgradError("the answers CSV starts with a header row student,problem,"
                           "<quantity keys such as loss,dL/dw>")
    keys = [c.strip() for c in rows[0][2:]]
    known = set().union(*(keys for mine in asks.values() for keys in mine.values()))
    for key in keys:
        if key not in known:
            raise SymgradError(f"the answers CSV has a column {key!r}, which no problem "
                               f"asks for; the sheet asks for: {', '.join(sorted(known))}")
    if len(set(keys)) != len(keys):
        raise SymgradError("the answers CSV has a quantity column twice")
    found, seen, cases = [], set(), {}
    for line, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(keys) + 2:
            raise SymgradError(f"row {line} of the answers CSV has more cells than the header")
        student, number = row[0].strip(), row[1].strip() if len(row) > 1 else ""
        if not STUDENT_ID.fullmatch(student):
            raise SymgradError(f"row {line} of the answers CSV: a student ID is 1 to 64 "
                               "letters, digits and . _ @ -, starting with a letter or digit, "
                               f"not {student[:40]!r}")
        if None not in asks:
            if student not in asks:
                known = next((s for s in asks if s.lower() == student.lower()), None)
                raise SymgradError(f"row {line} of the answers CSV: {student} is not in the "
                                   "class" + (f" (class.json writes {known!r}: IDs are "
                                              "written as the roster wrote them)" if known
                                              else ""))
            by_number = asks[student]
        if not number.isascii() or not number.isdigit() or int(number) not in by_number:
            raise SymgradError(f"row {line} of the answers CSV: problem {number[:20]!r} is "
                               f"not on the sheet (1 to {max(by_number)})")
        if (student, int(number)) in seen:
            raise SymgradError(f"row {line} of the answers CSV: {student} answers problem "
                               f"{number} a second time")
        other = cases.setdefault(student.lower(), student)
        if other != student:  # Ada and ada would share one results folder on many systems
            raise SymgradError(f"row {line} of the answers CSV: students {other!r} and "
                               f"{student!r} differ only in case (IDs are compared without "
                               "case)")
        seen.add((student, int(number)))
        given = {}
        for key, cell in zip(keys, row[2:] + [""] * (len(keys) + 2 - len(row))):
            if key in by_number[int(number)]:
                given[key] = cell
            elif cell.strip():
                raise SymgradError(f"row {line} of the answers CSV: problem {number} does "
                                   f"not ask for {key}")
        found.append((student, int(number), given))
    if not found:
        raise SymgradError("the answers CSV has no answers")
    return tuple(found)


@dataclass(frozen=True, slots=True)
class ClassMarks:
    """A class's marks: per student (in the order of the answers file), the
    :class:`Marking` of each problem they answered; ``lang`` is the language of their
    feedback and of the summary's words."""

    students: tuple[tuple[str, tuple[Marking, ...]], ...]
    lang: str = "en"

    def documents(self) -> dict[str, str]:
        """File name -> text: ``marks.csv`` (a row per student, problem and part),
        ``summary.md`` (per part: how many were correct, carried forward, blank, and the
        commonest mistakes) and ``gradescope/<student>/results.json`` per student."""
        files = {"marks.csv": self.marks_csv(), "summary.md": self.summary()}
        for student, markings in self.students:
            files[f"gradescope/{student}/results.json"] = self.gradescope(markings, self.lang)
        return files

    def marks_csv(self) -> str:
        """One row per student, problem and part."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["student", "problem", "part", "quantity", "given", "score",
                         "max_score", "status", "mistakes", "feedback"])
        for student, markings in self.students:
            for m in markings:
                for i, part in enumerate(m.parts, 1):
                    writer.writerow([student, m.problem, f"{m.problem}.{i}", part.key,
                                     _cell(part.given), f"{part.score:g}",
                                     f"{part.max_score:g}", part.status,
                                     ";".join(part.mistakes), _cell(part.feedback)])
        return out.getvalue()

    def summary(self) -> str:
        """Per part, the share of the students who answered its problem that were correct,
        carried forward, wrong or blank; then every mistake tag, commonest first."""
        catalog = translations(self.lang)
        _, ngettext = catalog.gettext, catalog.ngettext
        parts: dict[tuple[int, int], list[PartMark]] = {}
        for _student, markings in self.students:
            for m in markings:
                for i, part in enumerate(m.parts, 1):
                    parts.setdefault((m.problem, i), []).append(part)
        totals = [sum(m.score for m in ms) for _student, ms in self.students]
        most = [sum(m.max_score for m in ms) for _student, ms in self.students]
        count = len(self.students)
        lines = ["# " + _("Marks"), "", ngettext(
                     "%(num)d student; mean score %(mean)s of %(most)s.",
                     "%(num)d students; mean score %(mean)s of %(most)s.", count) % {
                     "num": count, "mean": _score(sum(totals) / len(totals)),
                     "most": _score(max(most))}, "",
                 "| " + " | ".join((_("part"), _("quantity"), _("students"), _("correct"),
                                    _("carried forward"), _("wrong"),
                                    _("blank or unreadable"))) + " |",
                 "|---|---|---|---|---|---|---|"]
        tags = []
        for (number, i), marks in sorted(parts.items()):
            counts = Counter(p.status for p in marks)
            share = lambda *statuses: _percent(sum(counts[s] for s in statuses), len(marks))
            lines.append(f"| {number}.{i} | {marks[0].key} | {len(marks)} | {share('correct')} "
                         f"| {share('carried_forward')} | {share('wrong')} | "
                         f"{share('blank', 'unreadable')} |")
            for name, count in Counter(t for p in marks for t in p.mistakes).items():
                tags.append((-count / len(marks), number, i, name, count, len(marks)))
        lines += ["", "## " + _("Mistakes"), ""]
        if not tags:
            lines.append(_("No known mistake was made."))
        for _share, number, i, name, made, of in sorted(tags):
            lines.append("- " + _("%(share)s %(mistake)s in %(part)s: %(description)s") % {
                "share": _percent(made, of), "mistake": name, "part": f"{number}.{i}",
                "description": _(MISTAKES[name])})
        return "\n".join(lines) + "\n"

    @staticmethod
    def gradescope(markings: tuple[Marking, ...], lang: str = "en") -> str:
        """A Gradescope autograder ``results.json``: the total ``score`` and a test per
        part with its ``score``, ``max_score``, ``status`` and ``output`` (the feedback,
        in language ``lang``)."""
        _ = translations(lang).gettext
        tests = [{"name": f"{m.problem}.{i} {part.key}", "number": f"{m.problem}.{i}",
                  "score": part.score, "max_score": part.max_score,
                  "status": "passed" if part.score == part.max_score else "failed",
                  "output": _("your answer: %(answer)s; %(feedback)s") % {
                      "answer": part.given or _("(blank)"), "feedback": part.feedback}}
                 for m in markings for i, part in enumerate(m.parts, 1)]
        return json.dumps({"score": sum(m.score for m in markings), "tests": tests},
                          indent=2, ensure_ascii=False) + "\n"


def mark_class(problems, rows, *, carry_forward: float = 1.0, lang: str = "en") -> ClassMarks:
    """Mark every row of :func:`read_answers` against its problem (the student's own, for
    a class's problems by student ID), the feedback in language ``lang``
    (:func:`language_of` gives a sheet's).

    >>> from symgrad.assess.sheets import sheet
    >>> problems = sheet(count=1, seed=1).problems
    >>> marks = mark_class(problems, read_answers("student,problem,loss\\nada,1,0.81\\n",
    ...                                           problems))
    >>> [(s, [m.score for m in ms]) for s, ms in marks.students]
    [('ada', [1.0])]
    """
    by_student = problems if isinstance(problems, dict) else {None: problems}
    numbered = {student: {p.number: p for p in mine} for student, mine in by_student.items()}
    students: dict[str, list[Marking]] = {}
    for student, number, given in rows:
        mine = numbered[None if None in numbered else student]
        students.setdefault(student, []).append(
            mark(mine[number], given, carry_forward=carry_forward, lang=lang))
    return ClassMarks(tuple((s, tuple(sorted(ms, key=lambda m: m.problem)))
                            for s, ms in students.items()), lang)


def _score(value: float) -> str:
    """A score without a needless ``.0``; one that is not a short decimal is rounded, to
    two places, with ≈."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text if abs(float(text) - value) < 1e-12 else "≈ " + text


def _percent(count: int, total: int) -> str:
    return f"{round(100 * count / total)}%"


def _cell(text: str) -> str:
    """A cell a spreadsheet will not run as a formula: text starting = + - @ that is not a
    number gets a leading apostrophe."""
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not ANSWER.fullmatch(text):
        return "'" + text
    return text
