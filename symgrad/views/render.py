"""Render a :class:`~symgrad.maths.derive.Derivation` through Jinja2 templates.

One format is one template folder (``templates/md``, ``templates/tex``,
``templates/py``) plus a file extension; JSON is written from the same data.
A teacher's ``templates=DIR`` is searched before the packaged templates, file
by file.  All maths is printed by SymPy's LaTeX printer, taught to show the
numbers of a lesson as decimals (``0.66``, not ``33/50``).
"""

from __future__ import annotations

import base64
from fractions import Fraction
import contextlib
import gettext
from decimal import Decimal
import html
import json
import math
import os
import stat
import types
from functools import cached_property, lru_cache
from pathlib import Path

import jinja2
import jinja2.sandbox
from sympy import Basic, Eq, Expr, Mul, Pow, Rational, Symbol, sstr
from sympy.printing.latex import LatexPrinter
from sympy.printing.pycode import pycode

from .._version import __version__

from . import plots
from ..maths.derive import PREDICTION, TARGET, Z, derive
from ..maths.records import Derivation
from ..maths.working import sign, unevaluated
from ..collector import collecting_rarely
from ..errors import SymgradError, TemplateError, UnknownNameError, choose
from ..files import write_atomically, write_files
from .graph import Graph, computation_graph
from .crosscheck import LIBRARIES, script_code
from .notebook import notebook
from ..maths.quantities import Mistake, Quantity, quantities
from ..maths.quantities import mistakes as find_mistakes
from ..maths.model import (MAX_DIGITS, PRECISION, Defined, Given, decimal, latex_decimal, numeric,
                           whole_number)
from ..maths.model import rounded as model_rounded

__all__ = ["FORMATS", "LANGUAGES", "WorkedExample", "worked_example", "render_template",
           "write_atomically", "json_value", "definitions", "translations"]

# The languages the words of a lesson come in: English in the templates, the others as
# gettext catalogs (templates/locale/LANG/LC_MESSAGES/symgrad.mo, compiled by Babel).
LANGUAGES = {"en": "English", "de": "Deutsch"}

# A network with more parameters works the first this many in full (the rest in the table
# and a note on --show), unless --show picks them.
MAX_SHOWN = 12
# format name -> (template folder, template file, file extension)
FORMATS = {
    "md": ("md", "example.md.j2", ".md"),
    "tex": ("tex", "example.tex.j2", ".tex"),
    "py": ("py", "example.py.j2", ".py"),
    "json": (None, None, ".json"),
    "html": ("html", "page.html.j2", ".html"),
    "dot": ("dot", "graph.dot.j2", ".dot"),
    "ipynb": (None, None, ".ipynb"),
    # Cross-check scripts: the same model rebuilt with NumPy or PyTorch, asserting the numbers.
    "numpy": ("crosscheck", "numpy.py.j2", ".py"),
    "torch": ("crosscheck", "torch.py.j2", ".py"),
}


# The formats that are Python scripts: the standard library's, and the cross-checks'.
SCRIPTS = ("py", *LIBRARIES)

# ŷ in the Python scripts: a name a learner reads as the prediction.
Y_HAT = Symbol("y_hat", real=True)


def _packaged_templates() -> Path:
    """Templates ship inside the wheel; in a source checkout they sit beside the package."""
    package = Path(__file__).resolve().parent.parent
    inside = package / "templates"
    return inside if inside.is_dir() else package.parent / "templates"


_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                   "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                   "^": r"\textasciicircum{}"}
# Characters a Cloze answer's feedback reads as syntax (ANSWER_ALTERNATIVE_FEEDBACK_REGEX in
# question/type/multianswer/questiontype.php: ~ starts the next answer, } ends the field;
# { kept out so no text looks like a field), written as character references.
_CLOZE_SPECIALS = {"~": "&#126;", "}": "&#125;", "{": "&#123;"}


# Sub-expressions whose LaTeX a printer remembers; past this it starts afresh, so a long
# session does not keep every expression it ever printed alive.
MAX_REMEMBERED = 100_000


@lru_cache(maxsize=MAX_REMEMBERED)
def _decimal(value: Expr, digits: int) -> tuple[str, bool]:
    """``decimal``, remembered: a lesson shows each value several times."""
    return decimal(value, digits)


def _as_printed(text: str) -> Expr:
    """The exact number a printed decimal stands for, a power of ten kept unevaluated
    (``4.5e-3000`` is 9/2 · 10^-3000): the digits of 10^3000 cost more than the whole
    line, and the evaluator raises 10 to it at the precision it works with.

    >>> _as_printed("0.66"), _as_printed("4.5e-3000")
    (33/50, (9/2)/10**3000)
    """
    mantissa, _, exponent = text.partition("e")
    number = Rational(Fraction(mantissa))
    return Mul(number, Pow(10, int(exponent), evaluate=False), evaluate=False) if exponent \
        else number


class LessonPrinter(LatexPrinter):
    """SymPy's LaTeX printer, keeping a lesson's term order and decimal numbers."""

    def __init__(self, digits: int, dot: bool = False):
        super().__init__({"order": "none", "symbol_names": {PREDICTION: r"\hat{y}"},
                          "mul_symbol": "dot" if dot else None})
        self._digits = digits
        self._printed = {}

    def _print(self, expr, **kwargs) -> str:
        """The LaTeX of ``expr``, remembered: a lesson prints the same symbols, numbers
        and formulas many times (every pass, every line of working).  SymPy's LaTeX of a
        node depends only on the node; options such as ``exp`` are not remembered."""
        if kwargs or not isinstance(expr, Basic):
            return super()._print(expr, **kwargs)
        text = self._printed.get(expr)
        if text is None:
            if len(self._printed) >= MAX_REMEMBERED:
                self._printed.clear()
            text = self._printed[expr] = super()._print(expr)
        return text

    def _print_Given(self, given):
        return self._number(given.value)

    def _print_Defined(self, defined):
        """A named exact value shows as its (rounded) number."""
        return self._number(defined)

    def _number(self, value: Expr) -> str:
        text = latex_decimal(_decimal(value, self._digits)[0])
        return rf"\left({text}\right)" if text.startswith("-") else text

    def _print_Rational(self, number):
        text, is_exact = _decimal(number, self._digits)
        if is_exact:
            return latex_decimal(text)
        return super()._print_Rational(number)


def _make_environment(kind: str, templates: str | os.PathLike | None, digits: int,
                      lang: str = "en"):
    search = [str(_packaged_templates() / kind)]
    if templates is not None:
        folder = Path(templates)
        if not folder.is_dir():
            raise TemplateError(f"template folder {str(folder)!r} does not exist")
        # A teacher's folder may hold one folder per format or the files themselves.
        search[:0] = [str(folder / kind), str(folder)]
    options = {}
    if kind in ("tex", "lesson"):
        # LaTeX-safe delimiters, as nbconvert uses, so '}}' in LaTeX never clashes; the
        # lesson's words are LaTeX maths in sentences, whatever the format around them.
        options = dict(block_start_string="((*", block_end_string="*))",
                       variable_start_string="(((", variable_end_string=")))",
                       comment_start_string="((=", comment_end_string="=))",
                       line_comment_prefix="%%")
    # A teacher's templates are read again when edited (a notebook renders after each
    # edit); the packaged ones cannot change while symgrad runs, so they are not checked
    # for edits (a stat of the file at every lesson() call, tens of thousands per class).
    env = _Sandbox(loader=jinja2.FileSystemLoader(search), autoescape=kind == "html",
                   auto_reload=templates is not None,
                   bytecode_cache=_bytecode_cache(), undefined=jinja2.StrictUndefined,
                   keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                   extensions=["jinja2.ext.i18n"], **options)
    env.install_gettext_translations(translations(lang), newstyle=True)
    env.filters.update(_filters(digits))
    env.globals["zip"] = zip
    env.globals["max_digits"] = MAX_DIGITS  # the most digits a number is ever shown with
    env.globals["lang"] = lang
    if kind in ("md", "tex"):
        env.globals["lesson"] = _lesson_for(kind, templates, digits, lang)
    return env


def translations(lang: str) -> gettext.NullTranslations:
    """The gettext catalog of a language (English is the templates' own words), for the
    templates and for the words symgrad writes in Python (a mark's feedback)."""
    choose(LANGUAGES, lang, "language")
    if lang == "en":
        return gettext.NullTranslations()
    return gettext.translation("symgrad", localedir=_packaged_templates() / "locale",
                               languages=[lang])


# The parts of the packaged lesson/sheet.j2 whose words depend only on the language and
# the arguments given (the keys of ``more``), so a sheet's ``lesson("sheet", part=...)``
# renders each once: "Working:", "1 mark", "3 decimal places", "Problem 7" are asked for
# every problem and answer of every student's sheet.  A teacher's templates may word
# them from anything, so theirs are always rendered.
_SHEET_WORDS = {part: frozenset(("part", *given)) for part, given in (
    ("name", ()), ("id", ()), ("working", ()), ("compute", ()), ("answers", ()),
    ("problem_column", ()), ("problem", ("number",)), ("places", ("places",)),
    ("marks", ("marks",)), ("student", ("student",)))}


def _lesson_for(fmt: str, templates, digits: int, lang: str):
    """The ``lesson(name, **more)`` function of a format's templates: it renders the shared
    template ``lesson/NAME.j2`` (the words of a lesson, written once) in that format, with
    the caller's variables and ``more``."""

    remembered = {}  # (part, its numbers or name) -> the words of a packaged sheet part

    @jinja2.pass_context
    def lesson(context, name: str, **more) -> str:
        key = None
        if templates is None and name == "sheet" and more.keys() == _SHEET_WORDS.get(
                more.get("part"), ()) and all(type(v) in (str, int) for v in more.values()):
            key = tuple((k, type(v), v) for k, v in sorted(more.items()))
            if key in remembered:
                return remembered[key]
        # The caller's variables, not its environment's globals (its own gettext, lesson).
        mine = {key: value for key, value in context.get_all().items()
                if key not in context.environment.globals and key != "digits"}
        text = render_template("lesson", f"{name}.j2", templates=templates, digits=digits,
                               lang=lang, **(mine | more | {"format": fmt})).strip("\n")
        if key is not None and len(remembered) < MAX_REMEMBERED:
            remembered[key] = text
        return text

    return lesson


# A rendered document longer than this is a runaway template, not a lesson.
MAX_OUTPUT = 64_000_000


class _Sandbox(jinja2.sandbox.SandboxedEnvironment):
    """Templates (a teacher's too) cannot reach Python's internals, and cannot build a
    string or number so large that it exhausts memory."""

    intercepted_binops = frozenset({"*", "**"})
    # (type, attribute) -> whether templates may read it: Jinja2's rule looks only at the
    # type of the object and the name (it is asked for every dot in every template).
    _safe_attributes: dict = {}

    def is_safe_attribute(self, obj, attr: str, value) -> bool:
        key = (type(obj), attr)
        safe = self._safe_attributes.get(key)
        if safe is None:
            if len(self._safe_attributes) > MAX_REMEMBERED:
                self._safe_attributes.clear()
            safe = self._safe_attributes[key] = super().is_safe_attribute(obj, attr, value)
        return safe

    def getattr(self, obj, attribute: str):
        """Jinja2's rule (``SandboxedEnvironment.getattr``), with its checks skipped for
        an attribute its type is already known to show safely and that holds no method
        (which Jinja2 would wrap if it were a string's ``format``): most dots of a key,
        a step's value or a problem's number, are such reads."""
        try:
            value = getattr(obj, attribute)
        except AttributeError:
            try:
                return obj[attribute]
            except (TypeError, LookupError):
                return self.undefined(obj=obj, name=attribute)
        if (self._safe_attributes.get((type(obj), attribute))
                and not isinstance(value, (types.MethodType, types.BuiltinMethodType))):
            return value
        return super().getattr(obj, attribute)

    def is_safe_callable(self, obj) -> bool:
        """No call into SymPy or mpmath: their methods and constructors parse strings with
        ``eval`` (``expr.subs(1, "__import__('os')...")``), so a template reaches the maths
        only through the filters, which print it."""
        if type(obj) is jinja2.runtime.Macro:
            return True  # a template's own macro, the most common call
        module = getattr(obj, "__module__", None) or ""
        owner = getattr(obj, "__self__", None)
        if (module.startswith(("sympy", "mpmath")) or isinstance(obj, Basic)
                or isinstance(owner, Basic)
                or (isinstance(obj, type) and issubclass(obj, Basic))):
            return False
        return super().is_safe_callable(obj)

    def call_binop(self, context, operator, left, right):
        if operator == "*" and any(isinstance(side, (str, list, tuple)) for side in
                                   (left, right)):
            count = right if isinstance(left, (str, list, tuple)) else left
            length = len(left if isinstance(left, (str, list, tuple)) else right)
            if isinstance(count, int) and length * count > MAX_OUTPUT:
                raise jinja2.sandbox.SecurityError(f"a repeated text longer than "
                                                   f"{MAX_OUTPUT:,} characters")
        if operator == "**" and isinstance(right, int) and isinstance(left, int) and (
                abs(left) > 1 and right * abs(left).bit_length() > 100_000):
            raise jinja2.sandbox.SecurityError("a power with more than 100,000 bits")
        return super().call_binop(context, operator, left, right)


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates cached per user, so a second run skips compiling (~0.1 s).

    The cache holds code that runs, so it is used only in a folder of this user's that
    nobody else can write to or read (mode 0700, not a symbolic link); otherwise none.
    A folder of this user's that others may only read (0755, as symgrad before 0700 made
    it) is narrowed to 0700: nobody else could have put code in it."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = base / "symgrad" / f"jinja-{__version__}"
    try:
        for part in (base / "symgrad", folder):
            part.mkdir(mode=0o700, parents=True, exist_ok=True)
        for part in (base / "symgrad", folder):
            info = os.lstat(part)
            if (not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid()
                    or info.st_mode & 0o022):
                return None
            if info.st_mode & 0o077:
                os.chmod(part, 0o700)
    except OSError:
        return None  # a read-only home only costs speed
    return _QuietCache(str(folder))


class _QuietCache(jinja2.FileSystemBytecodeCache):
    """A cache that cannot be read or written (a full disk) only costs speed."""

    def load_bytecode(self, bucket):
        with contextlib.suppress(OSError):
            super().load_bytecode(bucket)

    def dump_bytecode(self, bucket):
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def _filters(digits: int) -> dict:
    """Every filter the templates use, registered in one place."""
    printers = {dot: LessonPrinter(digits, dot) for dot in (False, True)}
    wider = {digits: printers[True]}  # printers of numbers-in lines, by digits

    def latex(expr, dot=False):
        return printers[dot].doprint(expr)

    def substituted(formula):
        """The numbers-in line of a Formula, each rounded number given with enough digits
        that working the line with the numbers as printed gives the result as printed
        (``(-1.3333) · 0.18736 · 2 ≈ -0.4996``, not ``(-1.333) · 0.1874 · 2 ≈ -0.4995``).
        Usually one or two more digits do; a line that subtracts nearly equal numbers
        (``1 - 0.99998^2 ≈ 4.5686·10^-5``) needs as many as it takes, up to MAX_DIGITS."""
        expr = formula.substituted
        printed, is_exact = _decimal(formula.value, digits)
        numbers = {g: g.value for g in expr.atoms(Given)}
        rounded = [g for g in numbers if not _decimal(g.value, digits)[1]]
        shown_digits = digits
        if rounded and not is_exact:
            for more in range(digits, MAX_DIGITS + 1):
                as_printed = numbers | {g: _as_printed(_decimal(g.value, more)[0])
                                        for g in rounded}
                # Worked with the numbers as printed (unevaluated: mpmath does the sums).
                if model_rounded(unevaluated(expr, as_printed), digits) == printed:
                    shown_digits = more
                    break
        if shown_digits not in wider:
            wider[shown_digits] = LessonPrinter(shown_digits, True)
        return wider[shown_digits].doprint(expr)

    def number(value):
        return latex_decimal(_decimal(value, digits)[0])

    def shown(value):
        """``0.66`` for an exact decimal, ``\\approx 0.2689`` for a rounded value."""
        text, is_exact = _decimal(value, digits)
        return ("" if is_exact else r"\approx ") + latex_decimal(text)

    def apart(before, after, change):
        """Two values as ``shown`` writes them, with as many more digits (up to MAX_DIGITS)
        as it takes for the printed numbers to differ the way the values do (``change``,
        the sign of after - before): a loss that went down from 100000.3 to 100000.1 does
        not read "from ≈ 100000 to ≈ 100000", nor one from 89819.99 to 89819.98 "from
        89819.99 to ≈ 89820". Otherwise (or when no digits do it) the usual digits. The
        third item says whether the printed numbers differ the way the values do (a
        change past MAX_DIGITS digits is not printed as "from 1 to ≈ 1.000")."""
        usual = [_decimal(value, digits) for value in (before, after)]
        texts, told = usual, not change
        for more in range(digits, MAX_DIGITS + 1) if change else ():
            texts = [_decimal(value, more) for value in (before, after)]
            first, second = (Decimal(text) for text, _ in texts)
            if (second > first) - (second < first) == change:
                told = True
                break
        else:
            texts = usual
        return (*(("" if is_exact else r"\approx ") + latex_decimal(text)
                  for text, is_exact in texts), told)

    def equals(value):
        text = shown(value)
        return text if text.startswith("\\") else "= " + text

    def relation(expr):
        """``=`` when every number shown in ``expr`` is exact, else ``≈``."""
        inexact = any(not _decimal(g.value, digits)[1] for g in expr.atoms(Given))
        return r"\approx" if inexact else "="

    def plain(value):
        return _decimal(value, digits)[0]

    def plain_equals(value):
        """``= 0.66`` or ``≈ 8.771·10⁻⁴`` in Unicode maths, for graph labels."""
        text, is_exact = _decimal(value, digits)
        return ("= " if is_exact else "≈ ") + unicode_decimal(text)

    def cdata(text):
        """Text safe inside an XML CDATA section (which ``]]>`` would end)."""
        return text.replace("]]>", "]]]]><![CDATA[>")

    def cloze(text):
        """Plain text (a mistake's feedback) made safe inside a Cloze answer field: escaped
        as HTML (a backslash as ``&#92;``, which the import's ``\\}``/``\\#`` unescaping
        cannot eat), then ``&`` and the characters Cloze syntax reads (``~ } {``) as
        character references, which Moodle's import decodes once (html_entity_decode in
        qtype_multianswer_extract_question): a backslash escape would stay on show."""
        escaped = html.escape(str(text), quote=False).replace("\\", "&#92;")
        return "".join(_CLOZE_SPECIALS.get(char, char) for char in escaped.replace("&", "&amp;"))

    def latex_text(text):
        """Plain text (a sheet's title) made safe inside a LaTeX document."""
        return "".join(_LATEX_SPECIALS.get(char, char) for char in str(text))

    def label(quantity):
        """LaTeX for an asked quantity: ``\\hat{y}``, ``L``, ``∂L/∂w``, ``w_new``, ``J``,
        ``∂J/∂w``, ``m_{w,1}``; a sample
        of a batch as the record writes it (``\\hat{y}^{(2)}``; in a network, whose
        superscript is the layer, ``a^{(2)}_{1}\\ (sample 2)``)."""
        symbol = latex(quantity.symbol) if quantity.symbol is not None else ""
        return {
            "prediction": symbol,  # \hat{y}, or \hat{y}^{(2)} for sample 2 of a batch
            "loss": "L",
            "gradient": rf"\frac{{\partial L}}{{\partial {symbol}}}",
            "update": rf"{{{symbol}}}_{{\text{{new}}}}",
            "loss_after": r"L_{\text{new}}",
            "objective": "J",
            "objective_gradient": rf"\frac{{\partial J}}{{\partial {symbol}}}",
            "state": symbol,  # m_{w,1}: the optimizer's state after the first step
            "activation": symbol + _of_sample(quantity),
            "delta": symbol + _of_sample(quantity),
        }[quantity.kind]

    def python(expr):
        """Python source of a formula, numbers as floats (``0.01``, not ``1/100``)."""
        values = {g: g.value for g in expr.atoms(Given)}
        # Terms as written (y_hat - y), as the lesson's LaTeX keeps them.
        return pycode(expr.xreplace(values), fully_qualified_modules=True, strict=True,
                      order="none")

    def literal(value):
        """A Python float literal of an exact value: a short decimal as it is (``0.15``),
        any other to 20 significant digits (float64 needs 17), so that the script's float
        is the exact value rounded once."""
        text, is_exact = _decimal(value, digits)
        return text if is_exact else str(numeric(value, 20))

    def fraction(value):
        """A Python ``Fraction`` literal of an exact rational: ``F("0.66")``, ``F("1/3")``."""
        text, is_exact = _decimal(value, digits)
        return f'F("{text if is_exact else value}")'

    def float_literal(value):
        """A Python float literal of an exact value, every digit a float holds."""
        return repr(float(numeric(value, 20)))

    return {"latex": latex, "number": number, "float": float_literal, "equals": equals, "shown": shown,
            "apart": apart,
            "relation": relation,
            "plain": plain, "plain_equals": plain_equals, "python": python, "fraction": fraction,
            "literal": literal,
            "label": label, "latex_text": latex_text, "cdata": cdata, "cloze": cloze,
            "sign": sign,
            "substituted": substituted}


_SUPERSCRIPT_DIGITS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def unicode_decimal(text: str) -> str:
    """A decimal's text as Unicode maths: the minus sign, and the exponent as a power of ten.

    >>> unicode_decimal("-8.771e-4"), unicode_decimal("0.3400")
    ('−8.771·10⁻⁴', '0.3400')
    """
    mantissa, _, exponent = text.partition("e")
    mantissa = mantissa.replace("-", "−")
    return f"{mantissa}·10{str(int(exponent)).translate(_SUPERSCRIPT_DIGITS)}" if exponent \
        else mantissa


def _recorded_values(d: Derivation) -> list:
    """Every exact value of a derivation's record that its JSON writes."""
    todo = [g.value for g in d.gradients] + list(d.updated) + [
        d.loss.value, d.loss_after.value, d.final_loss, *d.final_parameters]
    todo += [value for it in d.iterations for value in (it.loss, *it.parameters, *it.gradients)]
    for rows in (d.forward, d.forward_after):
        for f in rows:
            for unit in f.units:
                todo += [line.value for line in (unit.z, unit.a, unit.upstream, unit.slope,
                                                 unit.delta, unit.cancelled,
                                                 *(unit.jacobian or ())) if line is not None]
            todo += [term.value for term in f.terms]
    todo += [value for f in d.finite_differences for value in (f.central, f.difference)]
    return todo


def definitions(values) -> dict[str, str]:
    """Name -> SymPy text of every named exact value that ``values`` refer to, directly or
    through other definitions, first named first: what makes JSON ``exact`` text that
    holds names readable on its own."""
    found, todo = set(), list(values)
    while todo:
        for atom in todo.pop().atoms(Defined):
            if atom not in found:
                found.add(atom)
                todo.append(atom.definition)
    return {atom.name: exact_text(atom.definition)
            for atom in sorted(found, key=lambda atom: atom.serial)}


def _of_sample(quantity) -> str:
    """`` (sample 2)`` after a network quantity of one sample of a batch (``a2_1@2``)."""
    return rf"\ \text{{(sample {quantity.sample})}}" if "@" in quantity.key else ""


def _shown_names(d: Derivation, show) -> tuple[str, ...]:
    """The parameters ``show`` names (``all``, new or older names), in the record's order."""
    show = (show,) if isinstance(show, str) else tuple(show)
    if "all" in show:
        return d.parameter_names
    wanted = set()
    for name in show:
        found = d.network.canonical(str(name)) if d.is_network else (
            name if name in d.parameter_names else None)
        if found is None:
            raise UnknownNameError(f"cannot show {name!r}; give 'all' or parameters such as "
                                   f"{', '.join(d.parameter_names[:4])}")
        wanted.add(found)
    return tuple(name for name in d.parameter_names if name in wanted)


def json_value(value: Expr, digits: int = 4) -> dict:
    """A number as JSON: ``{"value": float or null, "exact": SymPy text, "latex": LaTeX}``."""
    return dict(_json_value(value, digits))


@lru_cache(maxsize=4096)
def _json_value(value: Expr, digits: int) -> dict:
    """``json_value``, worked out once per value (a sheet's JSON repeats parameters,
    answers and mistakes' values) by one printer per ``digits``; the caller gets a copy."""
    number = float(numeric(value, 17))
    return {"value": number if math.isfinite(number) else None, "exact": exact_text(value),
            "latex": _json_printer(digits).doprint(value)}


def exact_text(value: Expr) -> str:
    """SymPy's text of an exact value, its terms in SymPy's own order, as the LaTeX prints
    them: ``1/(1 + exp(-1))``. Sorting the terms as ``str`` does costs more than a whole
    hard problem's derivation, for long values, and writes ``exp(-1) + 1`` beside
    ``1 + exp(2)``.

    >>> from sympy import exp
    >>> exact_text(1 / (exp(-1) + 1))
    '1/(1 + exp(-1))'
    """
    return sstr(value, order="none")


@lru_cache(maxsize=16)
def _json_printer(digits: int) -> LessonPrinter:
    return LessonPrinter(digits)


class WorkedExample:
    """A rendered-on-demand worked example; display it in Jupyter or write it out.

    >>> example = worked_example()
    >>> "= -1.6" in example.to_markdown()
    True
    """

    def __init__(self, derivation: Derivation, *, digits: int = 4,
                 glossary: bool = True, templates: str | os.PathLike | None = None,
                 show: tuple[str, ...] | None = None, matrix: bool = False,
                 graph: bool = False, plots: bool = False, lang: str = "en",
                 mistakes: bool = False):
        whole_number(digits, "digits", MAX_DIGITS)
        choose(LANGUAGES, lang, "language")
        self.lang = lang
        self.derivation = derivation
        self.digits = digits
        self.glossary = glossary
        self.templates = templates
        if show is not None:
            show = _shown_names(derivation, show)
        self.show = show
        if matrix and not (derivation.batch_matrices or derivation.matrices):
            raise SymgradError("the matrix form needs a derivation made with matrix=True")
        self.matrix = matrix
        plain = derivation.optimizer.name == "sgd" and not derivation.l2
        if not plain and (mistakes or plots):
            raise SymgradError(f"{'the mistakes panel' if mistakes else 'plots'} show plain "
                               "gradient descent; leave out the optimizer and --l2, or the "
                               f"{'mistakes' if mistakes else 'plots'}")
        self.graph = graph
        self.plots = plots
        self.mistakes = mistakes

    @collecting_rarely()
    def render(self, fmt: str, *, images: tuple[dict, ...] | None = None) -> str:
        """The worked example as text in format ``md``, ``tex``, ``py``, ``json``, ``html``,
        ``ipynb``, ``dot`` (the computation graph alone), or ``numpy`` or ``torch`` (a
        script that rebuilds the model with that library and asserts the numbers).  With plots, ``images`` are the
        files an ``md`` or ``tex`` document refers to (:meth:`save` draws them)."""
        kind, name, _ = choose(FORMATS, fmt, "format")
        if self.plots and fmt in ("json", "dot", *SCRIPTS):
            raise SymgradError(f"plots go with md, tex, html and ipynb documents, not {fmt}")
        if self.graph and fmt in SCRIPTS:
            raise SymgradError("the graph goes with md, tex, html, ipynb and json documents, "
                               f"or alone as --format dot; not {fmt}")
        if fmt == "json":
            return self.to_json()
        if fmt == "py":
            return self.to_python()
        if fmt in LIBRARIES:
            return self._render(kind, name, code=script_code(self.derivation, fmt), library=fmt)
        if fmt == "html":
            return self.to_html()
        if fmt == "ipynb":
            return notebook(self)
        if fmt == "dot":
            return self._render("dot", name, graph=self.computation_graph, title=self.title)
        if self.plots and images is None:
            raise SymgradError(f"plots are image files beside a {fmt} document: save it to a "
                               f"path (--out NAME.{fmt}), or use html or ipynb, which hold them")
        return self._render(kind, self._document(name), images=images or ())

    def _document(self, name: str) -> str:
        """The template of this kind of example: ``example.*`` or, for networks, ``network.*``."""
        return name.replace("example", "network") if self.is_network else name

    def _render(self, kind: str, name: str, **context) -> str:
        context = {"graph": self.computation_graph if self.graph else None, "images": (),
                   "page": False, "graph_svg": None, **context}
        return render_template(kind, name, templates=self.templates, digits=self.digits,
                               lang=self.lang, d=self.derivation, glossary=self.glossary,
                               show=self.shown,
                               matrix=self.matrix,
                               panel=self.mistake_panel if self.mistakes else (),
                               symbols={"a": PREDICTION, "y": TARGET, "z": Z, "y_hat": Y_HAT},
                               **context)

    @cached_property
    def mistake_panel(self) -> tuple[tuple[Quantity, tuple[Mistake, ...]], ...]:
        """Each number of the step a learner works out, with the values that the mistakes
        :func:`symgrad.diagnose` knows give for it (those that give a different number)."""
        return tuple((q, found) for q in quantities(self.derivation)
                     if (found := find_mistakes(self.derivation, q.key, distinct=False)))

    @cached_property
    def computation_graph(self) -> Graph:
        """The computation graph of the first step (see :mod:`symgrad.views.graph`)."""
        return computation_graph(self.derivation)

    @property
    def title(self) -> str:
        """A one-line title, as the documents' headings give it."""
        return render_template("lesson", "title.j2", templates=self.templates,
                               digits=self.digits, lang=self.lang, d=self.derivation,
                               format="md").strip()

    def _page_markdown(self) -> str:
        """The Markdown of the page: the graph as SVG and plots as inline images."""
        graph_svg = None
        if self.graph:
            graph_svg = render_template("html", "graph.svg.j2", templates=self.templates,
                                        digits=self.digits, lang=self.lang,
                                        graph=self.computation_graph)
        return self._render("md", self._document(FORMATS["md"][1]), page=True,
                            graph_svg=graph_svg, images=self._inline_images())

    def _inline_images(self) -> tuple[dict, ...]:
        """The plots as SVG data, for documents that hold their pictures."""
        if not self.plots:
            return ()
        return tuple(_image(name, "data:image/svg+xml;base64," + base64.b64encode(svg).decode())
                     for name, svg in plots.svg_images(self.derivation).items())

    def to_html(self) -> str:
        """A self-contained HTML page: the worked solution, graph and plots, with KaTeX
        inlined so that it shows its maths without network access."""
        from .page import katex_assets, markdown_to_html  # ~20 ms, only pages need it

        css, script = katex_assets()
        return render_template("html", "page.html.j2", templates=self.templates,
                               digits=self.digits, lang=self.lang, title=self.title, katex_css=css,
                               katex_js=script, body=markdown_to_html(self._page_markdown()))

    def _repr_html_(self) -> str:
        """Jupyter shows the page's body; its own MathJax typesets the maths."""
        from .page import markdown_to_html

        return markdown_to_html(self._page_markdown())

    @property
    def is_network(self) -> bool:
        """Whether this is a network's derivation (else a single neuron's)."""
        return self.derivation.is_network

    @property
    def shown(self) -> tuple[str, ...]:
        """The parameters whose gradients are worked in full (the rest are in a table)."""
        if not self.is_network:
            return self.derivation.parameter_names
        if self.show is not None:
            return self.show
        names = self.derivation.parameter_names
        return names if len(names) <= MAX_SHOWN else names[:MAX_SHOWN]

    def to_markdown(self) -> str:
        """Markdown with ``$…$`` and ``$$…$$`` maths (GitHub, Jupyter, KaTeX)."""
        return self.render("md")

    def to_latex(self) -> str:
        """A complete LaTeX document that compiles with pdflatex."""
        return self.render("tex")

    def to_python(self) -> str:
        """A standard-library Python script that recomputes and prints every number."""
        return self._render("py", self._document(FORMATS["py"][1]))

    def to_data(self) -> dict:
        """Every step as plain data: the documented JSON shape (with ``graph`` when the
        example has its computation graph)."""
        d, digits = self.derivation, self.digits
        printer = LessonPrinter(digits)

        def value(v):
            return json_value(v, digits)

        def named(values):
            return {name: value(v) for name, v in zip(d.parameter_names, values)}

        def line(name, sample, formula):
            return {"name": name, "sample": sample,
                    "symbolic": (printer.doprint(formula.symbolic)
                                 if formula.symbolic is not None else None),
                    "substituted": (printer.doprint(formula.substituted)
                                    if formula.substituted is not None else None),
                    "value": value(formula.value)}

        data = {"activation": ([act.name for act in d.activations] if d.is_network
                               else d.activation.name),
                "loss": d.loss_function.name}
        if d.is_network:
            factors = []
            for s, rows in enumerate(d.backward, 1):
                for row in rows:
                    unit = f"{row.layer}_{row.neuron}"
                    output = row.layer == len(d.network.layers)
                    factors.append(line(f"dL/da{unit}" if output else f"sum{unit}", s,
                                        row.upstream))
                    if row.jacobian is not None:  # a softmax: the Jacobian's column k
                        factors += [line(f"da{row.layer}_{j}/dz{unit}", s, entry)
                                    for j, entry in enumerate(row.jacobian, 1)]
                    else:
                        factors.append(line(f"da{unit}/dz{unit}", s, row.slope))
                    factors.append(line(f"delta{unit}", s, row.delta))
                    if row.cancelled is not None:
                        factors.append(line(f"delta{unit}=a-y", s, row.cancelled))
            data |= {
                "outputs": d.network.outputs,
                "learning_rate": value(d.learning_rate),
                "layers": [{"width": layer.width, "activation": act.name}
                           for layer, act in zip(d.network.layers, d.activations)],
                "samples": [{"x": [value(x) for x in s.x], "y": [value(y) for y in s.targets]}
                            for s in d.samples],
                "parameters": named(d.parameters),
                "prediction": [[value(u.a.value) for u in f.outputs()] for f in d.forward],
            }
        else:
            factors = [line(f.name, f.sample, f.formula) for f in d.factors]
            data |= {
                "learning_rate": value(d.learning_rate),
                "samples": [{"x": [value(x) for x in s.x], "y": value(s.y)} for s in d.samples],
                "parameters": named(d.parameters),
                "prediction": (value(d.forward[0].prediction.value) if len(d.forward) == 1
                               else [value(f.prediction.value) for f in d.forward]),
            }
        data |= {
            "loss_value": value(d.loss.value),
            "factors": factors,
            "gradients": {g.parameter: value(g.value) for g in d.gradients},
            "frozen": [g.parameter for g in d.gradients if g.frozen],
            "updated": named(d.updated),
            "loss_after": value(d.loss_after.value),
            "optimizer": {"name": d.optimizer.name} | {
                setting: value(v) for setting, v in d.optimizer.settings},
            "optimizer_state": {g.parameter: [line(s.name, 1, s.formula) for s in g.state]
                                for g in d.gradients if g.state},
            "l2": None if d.objective is None else {
                "lambda": value(d.l2), "biases": d.l2_biases,
                "objective": value(d.objective.value),
                "objective_after": value(d.objective_after.value),
                "loss_gradients": {g.parameter: value(g.loss_value) for g in d.gradients
                                   if g.loss_value is not None}},
            "steps": [{"step": it.step, "parameters": named(it.parameters),
                       "loss_value": value(it.loss), "gradients": named(it.gradients),
                       "state": {name: named(values)
                                 for name, values in it.state + it.corrected}}
                      for it in d.iterations],
            "final": {"parameters": named(d.final_parameters),
                      "loss_value": value(d.final_loss), "converged": d.converged},
            "finite_differences": [{"parameter": f.parameter, "step": value(f.step),
                                    "central": value(f.central),
                                    "difference": value(f.difference)}
                                   for f in d.finite_differences],
            "definitions": definitions(_recorded_values(d)),
        }
        if d.derivative_steps:
            data["derivative_steps"] = [
                {"of": ds.subject, "name": ds.name, "function": printer.doprint(ds.function),
                 "steps": [{"rule": step.rule, "chain": step.chain,
                            "latex": printer.doprint(Eq(step.part, step.result,
                                                        evaluate=False)),
                            "result": printer.doprint(step.after)} for step in ds.steps]}
                for ds in d.derivative_steps]
        if self.matrix:
            data |= self._matrix_data()
        if self.graph:
            data["graph"] = self._graph_data()
        if self.mistakes:
            data["mistakes"] = {q.key: [{"name": m.name, "description": m.description,
                                         "value": value(m.value)} for m in found]
                                for q, found in self.mistake_panel}
        return data

    def _matrix_data(self) -> dict:
        """The matrix form as data: each matrix's shape and exact entries (a softmax output
        layer's Jacobian in place of its slope, which is not one number per z)."""
        d, digits = self.derivation, self.digits

        def matrix(m):
            return None if m is None else {
                "shape": [m.rows, m.cols],
                "entries": [[json_value(m[i, j].value, digits) for j in range(m.cols)]
                            for i in range(m.rows)]}

        def product(expr):  # a product of two shown matrices, kept as its factors
            return None if expr is None else [matrix(factor) for factor in expr.args]

        data = {}
        if d.matrices:
            data["matrices"] = [
                {"sample": s, "layers": [
                    {"layer": m.layer, "backprop": product(m.backprop),
                     "upstream": matrix(m.upstream),
                     "slope": None if jacobian is not None and m.backprop is None
                     else matrix(m.slope),
                     "jacobian": matrix(jacobian.values) if (
                         jacobian is not None and m.backprop is None) else None,
                     "delta": matrix(m.delta), "inputs": matrix(m.inputs),
                     "gradient": matrix(m.gradient)} for m in steps]}
                for s, steps, jacobian in zip(range(1, len(d.matrices) + 1), d.matrices,
                                              (f.jacobian for f in d.forward))]
        if d.batch_matrices:
            data["batch_matrices"] = [
                {"layer": m.layer, "inputs": matrix(m.inputs), "weights": matrix(m.weights),
                 "biases": matrix(m.biases), "z": matrix(m.z), "a": matrix(m.a),
                 "upstream": matrix(m.upstream), "backprop": product(m.backprop),
                 "slope": matrix(m.slope), "delta": matrix(m.delta),
                 "scale": json_value(m.scale, digits),
                 "weight_gradient": matrix(m.weight_gradient),
                 "bias_gradient": matrix(m.bias_gradient)}
                for m in d.batch_matrices]
        return data

    def _graph_data(self) -> dict:
        graph, digits = self.computation_graph, self.digits
        return {
            "nodes": [{"key": n.key, "name": n.name, "kind": n.kind,
                       "value": json_value(n.value, digits),
                       "gradient": None if n.gradient is None else json_value(n.gradient, digits)}
                      for n in graph.nodes],
            "edges": [{"source": e.source, "target": e.target,
                       "local": None if e.local is None else json_value(e.local, digits)}
                      for e in graph.edges],
            "loss": graph.loss,
        }

    def to_json(self) -> str:
        """The documented JSON shape, indented, with a final newline."""
        return json.dumps(self.to_data(), indent=2, ensure_ascii=False) + "\n"

    def _repr_markdown_(self) -> str:
        """Markdown as a notebook shows it: any plots inlined as SVG data."""
        return self.render("md", images=self._inline_images())

    def _repr_latex_(self) -> str:
        d = self.derivation
        return "$$" + " ,\\quad ".join(
            rf"\frac{{\partial L}}{{\partial {LessonPrinter(self.digits).doprint(g.symbol)}}} "
            + _filters(self.digits)["equals"](g.value) for g in d.gradients) + "$$"

    def save(self, path: str | os.PathLike, fmt: str | None = None) -> Path:
        """Write the example to ``path`` atomically; the format defaults from the suffix."""
        path = Path(path)
        if fmt is None:
            fmt = next((k for k, v in FORMATS.items() if v[2] == path.suffix), None)
            if fmt is None:
                suffixes = dict.fromkeys(v[2] for v in FORMATS.values())
                raise UnknownNameError(f"cannot tell the format of {str(path)!r}; use a suffix "
                                       f"of: {', '.join(suffixes)}")
        if fmt in LIBRARIES and path.stem == LIBRARIES[fmt]:
            # Python puts the script's folder first on sys.path.
            raise SymgradError(f"a {fmt} script named {path.name!r} would import itself "
                               f"instead of {LIBRARIES[fmt]}; choose another name")
        images, files = None, {}
        if self.plots and fmt in ("md", "tex"):
            # Files beside the document: SVG for Markdown, PNG for pdflatex.
            wanted = ".svg" if fmt == "md" else ".png"
            files = plots.plot_files(self.derivation, path.parent, path.stem)
            images = tuple(_image(file.stem.removeprefix(path.stem + "_"), file.name)
                           for file in files if file.suffix == wanted)
        files[path] = self.render(fmt, images=images)
        write_files(files)  # the document and its pictures: all of them or none
        return path


def _image(name: str, src: str) -> dict:
    """A plot as the templates refer to it."""
    return {"name": name, "src": src, "title": plots.TITLES[name],
            "caption": plots.CAPTIONS[name]}


@lru_cache(maxsize=16)
def _environment(kind: str, templates: str | None, digits: int, lang: str):
    return _make_environment(kind, templates, digits, lang)


def render_template(kind: str, name: str, *, templates: str | os.PathLike | None = None,
                    digits: int = 4, lang: str = "en", **context) -> str:
    """Render template ``name`` of format folder ``kind`` (``md``, ``tex``, ...), with the
    teacher's ``templates`` folder searched first, in language ``lang``; template problems
    are TemplateErrors."""
    env = _environment(kind, None if templates is None else str(templates), digits, lang)
    try:
        pieces, length = [], 0
        # Streamed, so that a runaway template stops at MAX_OUTPUT instead of eating memory.
        context = {"digits": digits, "version": __version__, "precision": PRECISION} | context
        for piece in env.get_template(name).generate(**context):
            length += len(piece)
            if length > MAX_OUTPUT:
                raise TemplateError(f"template {name!r} makes more than {MAX_OUTPUT:,} "
                                    "characters")
            pieces.append(piece)
        return "".join(pieces)
    except jinja2.TemplateNotFound as error:
        raise TemplateError(f"template {error.name!r} not found in "
                            f"{', '.join(env.loader.searchpath)}") from None
    except jinja2.TemplateSyntaxError as error:
        raise TemplateError(f"template {error.filename}: line {error.lineno}: "
                            f"{error.message}") from None
    except jinja2.UndefinedError as error:
        raise TemplateError(f"template {name!r}: {error.message}") from None
    except jinja2.sandbox.SecurityError as error:
        raise TemplateError(f"template {name!r} is not allowed to do that: {error}") from None
    except UnicodeDecodeError:
        raise TemplateError(f"a template of {name!r} is not UTF-8 text") from None
    except SymgradError:
        raise
    except Exception as error:
        if templates is None:
            raise  # a bug in a packaged template: show it whole
        # A teacher's template may fail in any way (1/0, a method of the wrong type).
        raise TemplateError(f"template {name!r} failed: {type(error).__name__}: "
                            f"{error}".splitlines()[0]) from None


def worked_example(neuron=None, samples=None, *, learning_rate="0.1", steps: int = 1,
                   tolerance=None, digits: int = 4, glossary: bool = True,
                   templates: str | os.PathLike | None = None,
                   show: tuple[str, ...] | None = None, matrix: bool = False,
                   graph: bool = False, plots: bool = False,
                   finite_differences: bool = False, lang: str = "en",
                   mistakes: bool = False, derive_steps: bool = False,
                   optimizer="sgd", l2=0, l2_biases: bool = False) -> WorkedExample:
    """Derive and wrap a worked example of a Neuron or a Network; with no arguments,
    seed lesson 001's neuron. ``show`` picks a network's parameters worked in full,
    ``matrix`` adds the matrix form of its backward pass, ``graph`` the computation
    graph and ``plots`` pictures of the loss (matplotlib, ``symgrad[plot]``);
    ``finite_differences`` checks every gradient against the loss's central difference;
    ``lang`` is the language of the words (``en``, ``de``; see ``LANGUAGES``),
    ``mistakes`` adds a panel of what common mistakes give for each number and
    ``derive_steps`` derives ``f'(z)`` and ``∂L/∂ŷ`` rule by rule (see
    :func:`symgrad.derivative_steps`); ``optimizer`` (a name or an ``Optimizer``) and
    ``l2`` (λ of an L2 penalty, ``l2_biases`` to penalise biases too) as for
    :func:`symgrad.derive`.

    >>> from symgrad import Neuron, Sample
    >>> ex = worked_example(Neuron(weights=1.5, bias=0.5), Sample(x=2.0, y=4.0))
    >>> ex.to_data()["updated"]["w"]["exact"]
    '17/10'
    """
    derivation = derive(neuron, samples, learning_rate=learning_rate, steps=steps,
                        tolerance=tolerance, finite_differences=finite_differences,
                        matrix=matrix, derive_steps=derive_steps, optimizer=optimizer,
                        l2=l2, l2_biases=l2_biases)
    return WorkedExample(derivation, digits=digits, glossary=glossary, templates=templates,
                         show=show, matrix=matrix, graph=graph, plots=plots, lang=lang,
                         mistakes=mistakes)
