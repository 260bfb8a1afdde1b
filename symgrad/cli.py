"""The ``symgrad`` command: argparse subcommands over the public API, no maths here."""

from __future__ import annotations

import argparse
import atexit
import gc
import os
import re
import sys
from importlib import import_module
from pathlib import Path
from typing import NoReturn

from ._version import __version__
from .collector import collecting_rarely
from .errors import SymgradError
from .files import kind_of, write_into
from .names import (ACTIVATION_NAMES, ASKABLE_NAMES, DEFAULT_ASK, DEFAULT_NETWORK_ASK,
                    DIFFICULTY_NAMES, FORMAT_SUFFIXES, FUNCTION_NAMES, LANGUAGES, LOSS_NAMES,
                    MAX_COUNT, MAX_SHOWN, OPTIMIZER_NAMES, SHEET_FORMAT_NAMES)

# The maths (SymPy, Jinja2) is imported inside the commands that work a problem, so that
# --help, --version and a mistyped flag answer without it.

__all__ = ["main", "run"]

_EXAMPLE_HELP = """\
Derive one gradient-descent step of a neuron z = w·x + b, ŷ = f(z), with loss L:
the forward pass, every chain-rule factor dL/dŷ · dŷ/dz · dz/dw (symbolic, with
numbers, value), the gradients, the update w_new = w - α·dL/dw and the forward
pass again. Numbers are exact: 0.1 is 1/10, so 0.5 - 0.1·(-1.6) prints 0.66.

With no flags it works seed lesson 001: x = 2.0, w = 0.5, b = 0.1, y = 1.5.
"""

_EXAMPLE_EPILOG = f"""\
activations: {", ".join(ACTIVATION_NAMES)}
losses:      {", ".join(LOSS_NAMES)} (squared and half_squared sum over a batch; the others
             take the mean)

examples:
  symgrad example                                  seed lesson 001 in Markdown
  symgrad example --x 2 --w 1.5 --b 0.5 --y 4      seed lesson 003
  symgrad example --activation sigmoid --format tex --out sigmoid.tex
  symgrad example --x 1,2 --w 0.5,-0.3 --y 1 --activation relu --steps 5
  symgrad example --x -1.2,0.5 --w -2/3,1 --b -2.5e-3   negative numbers as they are
  symgrad example --spec batch.toml --format json  a batch of samples (see README)
  symgrad example --graph --plots --steps 5 --format html --out lesson.html
  symgrad example --format dot | dot -Tsvg > graph.svg
"""


class _Parser(argparse.ArgumentParser):
    """Report a usage mistake in one line, exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def _print_message(self, message, file=None):
        """argparse's, without its silence about a failed write: a help text too long for
        the buffer that meets a full disk is an error (exit 2), as a short one is."""
        file = file or sys.stderr
        try:
            if message:
                file.write(message)
        except OSError:
            if file is not sys.stderr:
                raise
            # a usage error with standard error full: nowhere left to say it


def _numbers(text: str) -> list[str]:
    """``"1,2"`` -> ``["1", "2"]``; the numbers themselves are checked by the model."""
    return [part.strip() for part in text.split(",")]


def _given(text: str) -> str:
    """A flag's value, which must not be empty: an empty value is a mistake, not the default."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give a value or leave the flag out for "
                                         "its default")
    return text


def _path(text: str) -> Path:
    return Path(_given(text))


def _file(text: str) -> Path:
    """A path to write one file to: not empty and not a folder such as '.' or 'week3/'."""
    path = Path(_given(text))
    if text.endswith(("/", os.sep)) or path.name in ("", ".", ".."):
        raise argparse.ArgumentTypeError(f"{text!r} names a folder; give a file such as "
                                         f"{str(path / 'lesson.md')!r}")
    return path


def _integer(text: str) -> int:
    """A whole number in ASCII digits (int() would take '٢' or '1_0'), either minus sign."""
    digits = text.strip().replace("\N{MINUS SIGN}", "-")
    if not re.fullmatch(r"-?[0-9]{1,18}", digits):
        raise argparse.ArgumentTypeError(f"must be a whole number such as 3, not {text[:40]!r}")
    return int(digits)


def _positive_int(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _add_neuron_arguments(parser) -> None:
    """The flags that describe a neuron, its sample(s) and the learning rate."""
    neuron = parser.add_argument_group("the neuron (one sample; use --spec for a batch)")
    neuron.add_argument("--x", action="append", type=_numbers, metavar="X",
                        help="input(s): repeat the flag or give a comma list, one per weight "
                             "(default 2.0)")
    neuron.add_argument("--w", action="append", type=_numbers, metavar="W",
                        help="weight(s), as many as inputs (default 0.5)")
    bias = neuron.add_mutually_exclusive_group()
    bias.add_argument("--b", type=_given, metavar="B", help="bias (default 0.1)")
    bias.add_argument("--no-bias", action="store_true", help="a neuron without bias")
    neuron.add_argument("--y", type=_given, metavar="Y",
                        help="target, the correct value (default 1.5)")
    neuron.add_argument("--activation", type=_given, metavar="NAME",
                        help="activation f (default identity): " + ", ".join(ACTIVATION_NAMES))
    neuron.add_argument("--activation-expr", type=_given, metavar="FORMULA",
                        help="a custom activation as a formula in z, such as "
                             "'z/(1+abs(z))'; SymPy derives f'(z). Allowed: numbers, z, "
                             "+ - * / ** and " + ", ".join(FUNCTION_NAMES))
    neuron.add_argument("--loss", type=_given, metavar="NAME",
                        help="loss L (default squared): " + ", ".join(LOSS_NAMES))
    neuron.add_argument("--slope", type=_given, metavar="S",
                        help="leaky_relu's slope for z <= 0 (default 0.01)")
    neuron.add_argument("--delta", type=_given, metavar="D",
                        help="huber's threshold delta (default 1)")
    neuron.add_argument("--spec", type=_path, metavar="FILE.toml",
                        help="read the neuron, a batch of samples and settings from a TOML "
                             "file; flags given as well override it")
    neuron.add_argument("--lr", type=_given, metavar="ALPHA",
                        help="learning rate alpha > 0 (default 0.1)")


def _add_training_arguments(group) -> None:
    """The flags of the optimizer and the L2 penalty, shared by example, check and sheet."""
    group.add_argument("--optimizer", choices=list(OPTIMIZER_NAMES), default=None,
                       help="how gradients become steps, with torch.optim's rules and "
                            "defaults (default sgd): sgd p -= α·g; momentum keeps a "
                            "velocity v = μv + g and steps α·v; nesterov steps α·(g + μv); "
                            "rmsprop divides g by √v, v a running mean of g²; adam divides "
                            "a running mean m of g by √v, both bias-corrected; adamw is "
                            "adam with decoupled weight decay. Every state value is shown")
    group.add_argument("--momentum", type=_given, metavar="MU",
                       help="momentum μ of momentum and nesterov (default 0.9)")
    group.add_argument("--beta1", type=_given, metavar="B1",
                       help="adam/adamw: decay of the running mean of g (default 0.9)")
    group.add_argument("--beta2", type=_given, metavar="B2",
                       help="adam/adamw: decay of the running mean of g² (default 0.999); "
                            "rmsprop: its smoothing constant, torch's alpha (default 0.99)")
    group.add_argument("--eps", type=_given, metavar="EPS",
                       help="rmsprop/adam/adamw: ε added to √v so a zero v cannot divide "
                            "by zero (default 1e-8)")
    group.add_argument("--weight-decay", type=_given, metavar="LAMBDA",
                       help="adamw: decoupled weight decay λ, each step first shrinks "
                            "p by α·λ·p (default 0.01)")
    group.add_argument("--l2", type=_given, metavar="LAMBDA",
                       help="add the L2 penalty (λ/2)·Σw² to the loss, so each weight's "
                            "gradient gains λ·w (default 0: none); with plain sgd this "
                            "is the same as weight decay, with the others it is not")
    group.add_argument("--l2-biases", action="store_true",
                       help="penalise the biases too (by default only weights are)")


def _training(args, spec: dict) -> dict:
    """derive's optimizer, l2 and l2_biases from the flags and --spec (flags win)."""
    from .maths.model import Optimizer
    settings = {key: value for key in ("momentum", "beta1", "beta2", "eps", "weight_decay")
                if (value := getattr(args, key) or spec.get(key)) is not None}
    return dict(optimizer=Optimizer(args.optimizer or spec.get("optimizer", "sgd"), **settings),
                l2=args.l2 or spec.get("l2", 0),
                l2_biases=args.l2_biases or spec.get("l2_biases", False))


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symgrad", description="Exactly computed, typeset worked "
                     "derivations of a neuron's gradients.")
    parser.add_argument("--version", action="version", version=f"symgrad {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    example = commands.add_parser(
        "example", help="derive and render a worked gradient-descent step",
        description=_EXAMPLE_HELP, epilog=_EXAMPLE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_neuron_arguments(example)
    training = example.add_argument_group("training")
    training.add_argument("--steps", type=_positive_int, default=None, metavar="N",
                          help="gradient-descent steps; N > 1 adds a table of every step "
                               "(default 1)")
    training.add_argument("--tol", type=_given, metavar="T",
                          help="stop the loop early once the loss is below T")
    _add_training_arguments(training)
    output = example.add_argument_group("output")
    output.add_argument("--format", choices=list(FORMAT_SUFFIXES), default=None,
                        help="md: Markdown with $-maths (default, or from --out's suffix); "
                             "tex: a LaTeX document; html: one self-contained page (maths "
                             "by KaTeX, inlined); json: every step as data; py: a "
                             "standard-library script that recomputes every number; numpy, "
                             "torch: a script that rebuilds the model with NumPy (backward "
                             "pass by hand) or PyTorch (autograd) and asserts every number "
                             "(a .py --out needs --format for these); dot: the computation "
                             "graph alone, for graphviz")
    output.add_argument("--digits", type=_positive_int, default=4, metavar="D",
                        help="significant digits for values that are not short exact "
                             "decimals; they are shown with ≈ (default 4), a loss before "
                             "and after the step with as many more as tell the two apart")
    output.add_argument("--lang", choices=list(LANGUAGES), default="en",
                        help="language of the words: " + ", ".join(
                            f"{code} ({name})" for code, name in LANGUAGES.items())
                        + "; the maths is the same in every language (default en)")
    output.add_argument("--show", type=_names, metavar="P,Q",
                        help="for a network: the parameters whose gradients are worked in "
                             "full, such as w1_11,b2_1 (default: all when there are at most "
                             f"{MAX_SHOWN}, else the first {MAX_SHOWN} and a table; all: every one)")
    output.add_argument("--matrix", action="store_true",
                        help="add the matrix form: a network's backward pass per sample, "
                             "δ = (W^T δ_next) ⊙ f'(z) and dL/dW = δ a^T, and a batch (a "
                             "neuron's too) vectorised with one row a sample and every shape "
                             "shown, Z = A W^T + 1 b^T and dL/dW = c Δ^T A, as NumPy and "
                             "PyTorch compute it; in json as data, and the py script asserts "
                             "every matrix")
    output.add_argument("--mistakes", action="store_true",
                        help="add a panel of common mistakes: for each number of the step, "
                             "the value each mistake that 'symgrad check' names "
                             "gives (forgetting f'(z), the input x, the factor 2, ...), to "
                             "hand out with the key")
    output.add_argument("--finite-differences", action="store_true",
                        help="add a check of every gradient: the loss's central difference "
                             "(L(p + h) - L(p - h))/2h with h = 10^-6, worked exactly, beside "
                             "the chain rule's value")
    output.add_argument("--derive-steps", action="store_true",
                        help="add the derivatives f'(z) of the activation and dL/dŷ of the "
                             "loss worked rule by rule (sum, constant factor, power, "
                             "quotient, chain, exp, log, cases), ending in the lesson's form "
                             "such as σ(z)(1 - σ(z)); works for --activation-expr too, and "
                             "every line is checked against SymPy's derivative")
    pictures = example.add_argument_group("pictures")
    pictures.add_argument("--graph", action="store_true",
                          help="add the computation graph: each value with its gradient, "
                               "each arrow with its local derivative (Mermaid in md, TikZ in "
                               "tex, SVG in html, nodes and edges in json)")
    pictures.add_argument("--plots", action="store_true",
                          help="add plots of the loss: over the training steps, along one "
                               "parameter with its tangent, and over two parameters with the "
                               "descent path; written as NAME_*.svg and NAME_*.png beside "
                               "--out NAME.md/.tex, inlined in html and ipynb (needs "
                               "symgrad[plot])")
    output.add_argument("--no-glossary", action="store_true",
                        help="leave out the appendix of key definitions")
    output.add_argument("--out", type=_file, metavar="PATH",
                        help="write to PATH (atomically; an existing regular file is "
                             "replaced, anything else is refused) instead of standard "
                             "output; its suffix gives the format unless --format does: "
                             + ", ".join(dict.fromkeys(FORMAT_SUFFIXES.values())))
    output.add_argument("--templates", type=_path, metavar="DIR",
                        help="a folder of templates searched before the packaged ones, file "
                             "by file (DIR/md/example.md.j2 or DIR/example.md.j2)")
    _add_sheet_parser(commands)
    _add_check_parser(commands)
    _add_mark_parser(commands)
    return parser


_SHEET_HELP = """\
Draw a seeded set of single-neuron problems and write two documents: the student
sheet (the numbers and what to compute, with blanks) and the answer key (a table of
answers and every problem's worked solution). The same command always writes the
same bytes; problem k is the same whatever --count is.
"""

_SHEET_EPILOG = f"""\
difficulties:
  easy    identity/relu with squared/mse by default; every value shown is a decimal
          with at most 3 places, as in the seed lessons
  medium  adds sigmoid, tanh, gelu, silu, elu, softsign, half_squared and mae; these
          activations keep |z| <= 3
  hard    every activation and loss (bce with sigmoid only); finer numbers
asked quantities: {", ".join(ASKABLE_NAMES)}
  (w and b are the gradients dL/dw and dL/db; update asks for every new parameter;
  delta, each neuron's error signal, and prediction, the outputs, for networks)
networks: --network 2-2-1 draws networks of that shape (at most 3 layers of 4), weights
  and inputs on a grid of halves; no neuron saturates, sits on a ReLU kink or is dead;
  on easy sheets every value is an exact decimal of at most 6 places
formats: md and tex write sheet.EXT and key.EXT; json writes sheet.json; moodle
         writes quiz.xml (one Cloze question per problem, a numerical answer field per
         asked quantity, the worked solution shown after the attempt); moodle-numerical
         writes quiz-numerical.xml (one numerical question per asked quantity); qti
         writes quiz-qti.zip, a QTI 1.2 package for Canvas (a question group per problem)

Without --out, existing files in the current folder are kept: give --out DIR or --force.

examples:
  symgrad sheet --count 20 --seed 7 --out week3/
  symgrad sheet --count 5 --seed 1 --exact-step              converge in one step
  symgrad sheet --difficulty medium --activation sigmoid,tanh --ask w,update
  symgrad sheet --count 30 --format moodle --digits 3 --out quiz/
  symgrad sheet --network 2-2-1 --difficulty medium --count 5 --out week5/
"""


def _names(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError("is empty; give one or more names separated by "
                                         "commas, or leave the flag out for the default")
    return names


def _add_sheet_parser(commands) -> None:
    sheet_parser = commands.add_parser(
        "sheet", help="draw a seeded exercise sheet with an answer key",
        description=_SHEET_HELP, epilog=_SHEET_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    drawing = sheet_parser.add_argument_group("the problems")
    drawing.add_argument("--count", type=_integer, default=10, metavar="N",
                         help=f"number of problems, 1 to {MAX_COUNT} (default 10)")
    drawing.add_argument("--seed", type=_integer, default=1, metavar="S",
                         help="random seed: the same seed gives the same sheet (default 1)")
    drawing.add_argument("--difficulty", choices=list(DIFFICULTY_NAMES), default="easy",
                         help="which numbers and functions to draw (default easy)")
    drawing.add_argument("--activation", type=_names, metavar="A,B",
                         help="activations to draw from (default: the difficulty's)")
    drawing.add_argument("--activation-expr", metavar="FORMULA",
                         help="also draw a custom activation given as a formula in z "
                              "(medium and hard sheets)")
    drawing.add_argument("--loss", type=_names, metavar="L,M",
                         help="losses to draw from (default: the difficulty's)")
    drawing.add_argument("--inputs", type=_integer, default=None, metavar="K",
                         help="inputs per neuron (default: 1 easy, 2 medium and hard)")
    drawing.add_argument("--batch", type=_integer, default=None, metavar="M",
                         help="samples per problem (default: 1 easy and medium, 2 hard)")
    drawing.add_argument("--students", type=_path, metavar="ROSTER.csv",
                         help="one variant per student of a roster (first column: the "
                              "student ID): DIR/sheets/ID.md, DIR/keys/ID.md, DIR/key.md with "
                              "every student's answers and DIR/class.json (for symgrad mark); "
                              "the same seed and ID give the same variant")
    drawing.add_argument("--jobs", type=_integer, default=None, metavar="N",
                         help="processes that draw and write a class's sheets (default: the "
                              "number of CPUs); the files are the same for any N")
    drawing.add_argument("--network", metavar="SHAPE",
                         help="draw networks instead of single neurons: inputs-widths such "
                              "as 2-2-1 (two inputs, a hidden layer of two, one output); "
                              "hidden and output activations come from --activation")
    drawing.add_argument("--ask", type=_names, default=None, metavar="Q,R",
                         help="what to compute: " + ", ".join(ASKABLE_NAMES) +
                              f" (default {','.join(DEFAULT_ASK)}; for networks "
                              f"{','.join(DEFAULT_NETWORK_ASK)})")
    drawing.add_argument("--exact-step", action="store_true",
                         help="choose the learning rate so one step reaches zero loss, as in "
                              "the seed lessons (one sample, identity or ReLU, squared losses)")
    drawing.add_argument("--allow-kink", action="store_true",
                         help="let ReLU problems land exactly on z = 0")
    _add_training_arguments(sheet_parser.add_argument_group(
        "training (the step asked: --ask J,dJ with --l2, --ask state with an optimizer)"))
    output = sheet_parser.add_argument_group("output")
    output.add_argument("--format", choices=list(SHEET_FORMAT_NAMES), default="md",
                        help="md or tex (sheet and key), json, moodle (Cloze), moodle-numerical, "
                             "qti (Canvas) (default md)")
    output.add_argument("--out", type=_path, metavar="DIR",
                        help="folder to write into, made if missing; its files of the same "
                             "names are replaced (default: the current folder, where "
                             "existing files are kept unless --force)")
    output.add_argument("--force", action="store_true",
                        help="without --out: replace sheet.md, key.md, ... in the current "
                             "folder")
    output.add_argument("--title", type=_given, default="Gradient descent practice",
                        help="title printed on the sheet and key")
    output.add_argument("--digits", type=_positive_int, default=4, metavar="D",
                        help="significant digits of rounded values (default 4); each asked "
                             "number is asked to the decimal places that show them (a few "
                             "more when needed to tell it from its starting value and every "
                             "known mistake) and accepted within half a unit of the last "
                             "place")
    output.add_argument("--templates", type=_path, metavar="DIR",
                        help="a folder of templates searched before the packaged ones")
    output.add_argument("--lang", choices=list(LANGUAGES), default="en",
                        help="language of the words: " + ", ".join(
                            f"{code} ({name})" for code, name in LANGUAGES.items())
                        + "; the maths is the same in every language (default en)")


def _keep_current_folder(args, names) -> None:
    """Without --out the current folder is only a default: never overwrite a file of
    ``names`` there silently (--force does)."""
    if args.out is None and not args.force:
        existing = [name for name in names if os.path.lexists(name)]
        if existing:
            raise SymgradError(f"{existing[0]} exists in the current folder; give --out DIR "
                               "to write elsewhere or --force to replace it")


def _cpus() -> int:
    """The CPUs this process may run on."""
    from .assess.sheets import MAX_JOBS
    try:
        return max(1, min(len(os.sched_getaffinity(0)), MAX_JOBS))
    except AttributeError:  # not on Linux
        return max(1, min(os.cpu_count() or 1, MAX_JOBS))


def _sheet(args) -> str:
    from .assess.sheets import DIFFICULTIES, SHEET_FORMATS, class_files, read_roster, sheet
    _keep_current_folder(args, ["class.json", f"key.{args.format}", "sheets", "keys"]
                         if args.students else [name for *_, name in SHEET_FORMATS[args.format]])
    activations = args.activation
    if args.activation_expr is not None:
        activations = [*(activations or DIFFICULTIES[args.difficulty].activations),
                       _custom_activation(args.activation_expr)]
    options = dict(count=args.count, seed=args.seed, activations=activations,
                   losses=args.loss, inputs=args.inputs, batch=args.batch, ask=args.ask,
                   difficulty=args.difficulty, exact_step=args.exact_step,
                   allow_kink=args.allow_kink, title=args.title, digits=args.digits,
                   templates=args.templates, network=args.network, lang=args.lang,
                   **_training(args, {}))
    folder = Path(".") if args.out is None else args.out
    if args.students is not None:
        students = read_roster(args.students)
        jobs = _cpus() if args.jobs is None else args.jobs
        written = write_into(folder, class_files(students, fmt=args.format, jobs=jobs,
                                                 **options))
        return f"wrote {len(written)} files for {len(students)} students into {folder}\n"
    if args.jobs is not None:
        raise SymgradError("--jobs is for a class: give --students ROSTER.csv")
    written = sheet(**options).save(folder, args.format)
    return "".join(f"wrote {path}\n" for path in written)


_CHECK_HELP = """\
Check a learner's answer for one quantity of a neuron's gradient-descent step. A
number is compared with the exact value (within --tolerance) and, when it is wrong,
with the values of the usual mistakes, which are named. A formula (for dL/da, da/dz
or dz/dw) is compared with the derived one. Exit code 0: correct; 1: wrong; 2: bad
input; 3: could not compare (too few points where both have a real value, and no proof).
"""

_CHECK_EPILOG = """\
quantities: prediction, loss, dL/dw (dL/dw1, ...), dL/db, w_new (w1_new, ...), b_new,
            loss_after; and the factors dL/da, da/dz, dz/dw of the first sample, as a
            number or as a formula in a (for ŷ), y, z, x
  for a network (--spec with [[layers]]): a2_1 (output of neuron 1 of layer 2),
            delta1_2 (its error signal), loss, dL/dw1_2_1 (layer 1, neuron 2,
            input 1), dL/db2_1, w1_2_1_new, loss_after; in a batch, @2 for sample 2
            (a2_1@2). Network mistakes named: only one term of the sum over the
            neurons a hidden neuron feeds, the already-updated outer weights,
            f'(z) forgotten, the weight's indices swapped.
  with --l2: J (the loss plus (λ/2)Σw²) and dJ/dw (dL/dw + λw; dL/dw stays the
            loss's gradient); with --optimizer, the state after the first step:
            v_w (momentum's velocity, rmsprop's mean of g²), m_w, v_w, m_hat_w,
            v_hat_w (adam, adamw), and w_new after the optimizer's step. Mistakes
            named: L2 forgotten, λ for λw, the ½ mishandled, a bias penalised (or
            not, with --l2-biases), L2 as decoupled decay and adamw's decay as L2,
            Adam without bias correction, ÷v for ÷√v, Nesterov without μv.

marks: ✓ correct (exit 0), ✗ wrong (exit 1), ? could not compare (exit 3); bad input
is one line on stderr (exit 2)

examples:
  symgrad check --quantity dL/dw --answer -1.6                 seed 001: correct
  symgrad check --quantity dL/dw --answer 1.6                  the sign flipped
  symgrad check --activation sigmoid --quantity da/dz --answer "sigmoid(z)*(1-sigmoid(z))"
  symgrad check --spec network.toml --quantity dL/dw1_1_1 --answer 0.000439
  symgrad check --optimizer adam --quantity m_hat_w --answer -0.16
"""

_FACTORS = ("dL/da", "da/dz")


def _add_check_parser(commands) -> None:
    check_parser = commands.add_parser(
        "check", help="check an answer and name the mistake behind a wrong one",
        description=_CHECK_HELP, epilog=_CHECK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    answer = check_parser.add_argument_group("the answer")
    answer.add_argument("--quantity", required=True, type=_given, metavar="Q",
                        help="what was computed, such as dL/dw, w_new or da/dz")
    answer.add_argument("--answer", required=True, type=_given, metavar="TEXT",
                        help="the learner's number or formula (never evaluated as code)")
    answer.add_argument("--tolerance", type=_given, default="1%", metavar="T",
                        help="relative like 1%% (default) or absolute like 0.001")
    _add_neuron_arguments(check_parser)
    _add_training_arguments(check_parser.add_argument_group(
        "training (the first step's optimizer and penalty)"))


def _check(args) -> tuple[str, int]:
    from .assess.checks import check, diagnose, parse
    from .maths.derive import PREDICTION, TARGET, Z, derive
    from .maths.model import Given, Network
    from .maths.working import unevaluated
    neuron, samples, learning_rate, spec = _problem(args)
    training = _training(args, spec)
    text = args.answer.lstrip()
    factor = args.quantity in _FACTORS or args.quantity.startswith("dz/d")
    if factor and isinstance(neuron, Network):
        raise SymgradError("formulas for dL/da, da/dz and dz/dw are checked on a single "
                           "neuron; for a network give a number for a quantity such as "
                           "delta1_2 or dL/dw1_2_1")
    if factor:
        derivation = derive(neuron, samples, learning_rate=learning_rate)
        factors = {f.name: f.formula for f in derivation.factors if f.sample == 1}
        if args.quantity not in factors:
            raise SymgradError(f"unknown factor {args.quantity!r}; choose one of: "
                               f"{', '.join(factors)}")
        formula = factors[args.quantity]
        answer = parse(text, symbols=derivation.input_symbols + (PREDICTION, TARGET, Z))
        if args.quantity == "da/dz" and derivation.activation.function is not None:
            # f'(z) written through the output, as the lessons write it (σ' = ŷ(1 − ŷ)):
            # there ŷ is f(z), not a number of its own.
            output = derivation.activation.function(Z, derivation.neuron.slope)
            answer = answer.xreplace({PREDICTION: output.xreplace(
                {g: g.value for g in output.atoms(Given)})})  # leaky ReLU's slope, a number
        # The learner writes a, y, z, x and the numbers given, not sample 1's x^{(1)} or δ.
        first = derivation.forward[0]
        generic = dict(derivation.constants) | {
            first.prediction_symbol: PREDICTION, first.z_symbol: Z,
            first.target_symbols[0]: TARGET, **dict(zip(first.input_symbols,
                                                        derivation.input_symbols))}
        generic = {symbol: to for symbol, to in generic.items() if symbol != to}
        expected = (unevaluated(formula.symbolic, generic) if answer.free_symbols
                    else formula.value)
        result = check(answer, expected, tolerance=args.tolerance)
        mark, code = _MARKS[result.correct, result.kind != "incomparable"]
        return f"{mark} {args.quantity}: {result.feedback}\n", code
    verdict = diagnose(neuron, args.quantity, parse(text, symbols=()), samples=samples,
                       learning_rate=learning_rate, tolerance=args.tolerance, **training)
    mark, code = _MARKS[verdict.correct, verdict.comparable]
    return f"{mark} {verdict.message}\n", code


# (correct, comparable) -> the mark printed and the exit code.
_MARKS = {(True, True): ("✓", 0), (False, True): ("✗", 1), (False, False): ("?", 3)}


_MARK_HELP = """\
Mark a class's answers to a sheet written with `symgrad sheet --format json`. Each part
is correct when it rounds to the asked places (the sheet's own tolerance). A wrong part
that follows from the student's own wrong earlier answers (a wrong ŷ, then the right L
for that ŷ) gets its marks carried forward, unless that earlier answer makes it trivial
(ŷ equal to the target, a gradient of 0, a parameter left unchanged). Wrong parts are
tagged with the known mistakes their values give.
"""

_MARK_EPILOG = """\
answers CSV: a header student,problem,<quantity keys>, then one row per student and
  problem; an empty cell is a blank answer. Keys: prediction, loss, dL/dw (dL/dw1, ...),
  dL/db, w_new, b_new, loss_after (network keys, and J, dJ/dw and an optimizer's
  state v_w, m_w, m_hat_w, v_hat_w, as in `symgrad check --help`).
writes into DIR: marks.csv (a row per student, problem and part), summary.md (per part:
  % correct, % carried forward, the commonest mistakes, "31% ... in 2.3" = problem 2,
  part 3) and gradescope/<student>/results.json (a Gradescope autograder result), in the
  sheet's language. Networks are followed through backpropagation: outputs from earlier
  outputs, the loss from the outputs, each δ from later δ, each gradient from its δ.

examples:
  symgrad sheet --count 5 --format json --ask prediction,loss,w,update --out week3/
  symgrad mark --sheet week3/sheet.json --answers answers.csv --out week3/marks/
"""


def _add_mark_parser(commands) -> None:
    mark_parser = commands.add_parser(
        "mark", help="mark a class's answers with follow-through (carried-forward) credit",
        description=_MARK_HELP, epilog=_MARK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    mark_parser.add_argument("--sheet", required=True, type=_path, metavar="FILE",
                             help="the sheet.json the class answered, or the class.json of "
                                  "per-student variants (symgrad sheet --students)")
    mark_parser.add_argument("--answers", required=True, type=_path, metavar="FILE",
                             help="the class's answers as CSV")
    mark_parser.add_argument("--out", type=_path, metavar="DIR",
                             help="folder to write into, made if missing (default: the "
                                  "current folder, where existing files are kept unless "
                                  "--force)")
    mark_parser.add_argument("--force", action="store_true",
                             help="without --out: replace marks.csv, ... in the current folder")
    mark_parser.add_argument("--carry-forward", type=_given, default="1", metavar="F",
                             help="the share of a part's marks a carried-forward part earns, "
                                  "0 to 1 (default 1: all of them)")
    mark_parser.add_argument("--lang", choices=list(LANGUAGES),
                             help="the language of the feedback and summary: " + ", ".join(
                                 f"{code} ({name})" for code, name in LANGUAGES.items())
                             + " (default: the sheet's own, as sheet.json records it)")


def _read_text(path: Path, what: str, limit: int) -> str:
    """A small text file, or a one-line error."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise SymgradError(f"cannot read the {what} {str(path)!r}: {error.strerror}") from None
    if len(data) > limit:
        raise SymgradError(f"the {what} {str(path)!r} is larger than {limit} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SymgradError(f"the {what} {str(path)!r} is not UTF-8 text") from None


def _mark(args) -> str:
    from .assess.mark import (MAX_ANSWERS_BYTES, class_from_json, language_of, mark_class,
                              read_answers)
    from .maths.model import exact
    try:
        share = float(exact(args.carry_forward, "--carry-forward"))
    except SymgradError as error:
        raise SymgradError(str(error)) from None
    if not 0 <= share <= 1:
        raise SymgradError(f"--carry-forward is a share of a part's marks, 0 to 1, not "
                           f"{args.carry_forward}")
    text = _read_text(args.sheet, "sheet", MAX_SPEC_BYTES * 50)
    problems = class_from_json(text)
    lang = args.lang or language_of(text)
    problems = problems.get(None, problems)  # one sheet for everyone, or each student's
    rows = read_answers(_read_text(args.answers, "answers CSV", MAX_ANSWERS_BYTES), problems)
    documents = mark_class(problems, rows, carry_forward=share, lang=lang).documents()
    folder = Path(".") if args.out is None else args.out
    _keep_current_folder(args, ["marks.csv", "summary.md", "gradescope"])
    # Results of students not in this answers file, from an earlier marking into the same
    # folder, would be uploaded beside the new ones as if they were this class's.
    earlier = folder / "gradescope"
    stale = sorted(path.parent.name for path in earlier.glob("*/results.json")
                   if f"gradescope/{path.parent.name}/results.json" not in documents
                   ) if earlier.is_dir() else []
    if stale:
        raise SymgradError(f"{earlier} holds results of students not in this answers file "
                           f"({', '.join(stale[:3])}{', ...' if len(stale) > 3 else ''}); "
                           "mark into another folder, or remove them first")
    write_into(folder, documents)
    students = len({student for student, _, _ in rows})
    return (f"marked {len(rows)} answers of {students} students; wrote "
            f"{folder / 'marks.csv'}, {folder / 'summary.md'} and "
            f"{folder / 'gradescope'}/<student>/results.json for each\n")


# A spec is a few lines; a bigger one is a mistake (or /dev/zero), not a lesson.
MAX_SPEC_BYTES = 1_000_000


def _read_spec(path: Path) -> dict:
    """The TOML of a regular file of at most MAX_SPEC_BYTES, its value types checked."""
    import tomllib  # only needed with --spec

    name = repr(str(path))
    try:
        # Non-blocking, so that opening a FIFO does not wait for a writer.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise SymgradError(f"spec file {name} does not exist") from None
    except OSError as error:
        raise SymgradError(f"cannot read spec file {name}: {error.strerror}") from None
    kind = kind_of(os.fstat(descriptor).st_mode)
    if kind != "a regular file":
        os.close(descriptor)
        raise SymgradError(f"spec file {name} is {kind}, not a TOML file")
    with os.fdopen(descriptor, "rb") as stream:
        try:
            data = stream.read(MAX_SPEC_BYTES + 1)
        except OSError as error:
            raise SymgradError(f"cannot read spec file {name}: {error.strerror}") from None
    if len(data) > MAX_SPEC_BYTES:
        raise SymgradError(f"spec file {name} is larger than {MAX_SPEC_BYTES:,} bytes")
    try:
        spec = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise SymgradError(f"spec file {name} is not UTF-8 text (a binary file?)") from None
    except ValueError as error:  # TOMLDecodeError, or an integer past int's digit limit
        raise SymgradError(f"spec file {name} is not valid TOML: {error}") from None
    _check_spec(spec)
    return spec


# What each spec key holds, as the one-line error says it.
_SPEC_TYPES = {
    "weights": "numbers", "bias": "bias", "activation": "name", "loss": "name",
    "outputs": "name", "slope": "number", "delta": "number", "learning_rate": "number",
    "tolerance": "number", "steps": "whole", "freeze": "names", "show": "names",
    "samples": "tables", "layers": "tables", "optimizer": "name", "momentum": "number",
    "beta1": "number", "beta2": "number", "eps": "number", "weight_decay": "number",
    "l2": "number", "l2_biases": "boolean",
}
_LAYER_TYPES = {"weights": "rows", "biases": "numbers", "activation": "name"}
_TYPE_WORDS = {
    "number": 'a number such as 0.5 or "1/3"', "numbers": "a number or an array of numbers",
    "rows": "an array with one row of numbers per neuron", "name": "a name in quotes",
    "names": 'an array of names such as ["b"]', "whole": "a whole number such as 3",
    "bias": "a number, or false for no bias", "tables": "an array of tables ([[KEY]] in TOML)",
    "boolean": "true or false",
}
_TOML_WORDS = {bool: "true/false", int: "an integer", float: "a number", str: "a string",
               list: "an array", dict: "a table"}


def _check_spec(spec: dict) -> None:
    """Refuse a spec value of the wrong type in one line naming the key (``layers = 5``)."""
    network = "layers" in spec
    for key, value in spec.items():
        if key in _SPEC_TYPES:
            _check_value(key, value, "rows" if network and key == "weights" else
                         _SPEC_TYPES[key])
    for number, layer in enumerate(spec.get("layers", ()), 1):
        for key, value in layer.items():
            if key in _LAYER_TYPES:
                _check_value(f"layers {number}: {key}", value, _LAYER_TYPES[key])
    for number, sample in enumerate(spec.get("samples", ()), 1):
        for key, value in sample.items():
            if key in ("x", "y"):
                _check_value(f"samples {number}: {key}", value,
                             "number" if key == "y" and not network else "numbers")


def _check_value(key: str, value, kind: str) -> None:
    """``value`` when it is of ``kind`` (see _TYPE_WORDS), else a SymgradError naming ``key``."""
    from .maths.model import exact
    number = isinstance(value, (int, float, str)) and not isinstance(value, bool)
    numbers = number or isinstance(value, list) and bool(value) and all(
        isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in value)
    fits = {
        "number": number, "numbers": numbers, "bias": number or value is False,
        "rows": isinstance(value, list) and bool(value) and all(
            isinstance(row, list) and row and all(
                isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in row)
            for row in value),
        "name": isinstance(value, str),
        "names": isinstance(value, list) and all(isinstance(v, str) for v in value),
        "whole": isinstance(value, int) and not isinstance(value, bool),
        "tables": isinstance(value, list) and all(isinstance(v, dict) for v in value),
        "boolean": isinstance(value, bool),
    }[kind]
    if not fits:
        words = lambda v: _TOML_WORDS.get(type(v), type(v).__name__)  # noqa: E731
        allowed = str if kind == "names" else (int, float, str)
        odd = [v for v in value if not isinstance(v, allowed)] if isinstance(
            value, list) else []
        found = f"an array holding {words(odd[0])}" if odd else words(value)
        raise SymgradError(f"spec key {key!r} must be {_TYPE_WORDS[kind]}, not {found}")
    for item in (value if isinstance(value, list) else [value]):
        for text in (item if isinstance(item, list) else [item]):
            if kind in ("number", "numbers", "rows", "bias") and text is not False:
                exact(text, f"spec key {key!r}")  # 'abc' or 1e999 named by its key


# The training settings a spec may give, for a neuron or a network.
_TRAINING_KEYS = {"optimizer", "momentum", "beta1", "beta2", "eps", "weight_decay", "l2",
                  "l2_biases"}
_SPEC_KEYS = {"weights", "bias", "activation", "loss", "slope", "delta", "learning_rate",
              "steps", "tolerance", "samples"} | _TRAINING_KEYS
_NETWORK_KEYS = {"layers", "loss", "outputs", "slope", "delta", "learning_rate", "samples",
                 "freeze", "show", "steps", "tolerance"} | _TRAINING_KEYS
_NEURON_FLAGS = ("x", "w", "b", "y", "activation", "activation_expr")


def _samples(spec: dict) -> list[Sample]:
    from .maths.model import Sample
    rows = spec["samples"]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise SymgradError("spec 'samples' must be a list of tables with x and y "
                           "([[samples]] in TOML)")
    for i, row in enumerate(rows, 1):
        if set(row) != {"x", "y"}:
            raise SymgradError(f"spec sample {i} needs exactly the keys x and y")
    return [Sample(x=row["x"], y=row["y"]) for row in rows]


def _network(args, spec: dict) -> tuple[Network, list[Sample], object]:
    """A network, its samples and the learning rate from a spec with [[layers]]."""
    from .maths.model import Layer, Network
    unknown = sorted(set(spec) - _NETWORK_KEYS)
    if unknown:
        raise SymgradError(f"unknown key {unknown[0]!r} in a network spec; allowed: "
                           f"{', '.join(sorted(_NETWORK_KEYS))}")
    given = [name for name in _NEURON_FLAGS if getattr(args, name, None)]
    if given or args.no_bias:
        flag = "--" + (given[0] if given else "no_bias").replace("_", "-")
        raise SymgradError(f"{flag} describes a single neuron; a network spec gives its "
                           "layers and samples in the TOML file")
    if "samples" not in spec:
        raise SymgradError("a network spec needs [[samples]] with x and y")
    layers = []
    for number, table in enumerate(spec["layers"], 1):
        if not isinstance(table, dict) or not {"weights"} <= set(table) <= {
                "weights", "biases", "activation"}:
            raise SymgradError(f"spec layer {number} needs weights (one row per neuron) and "
                               "may have biases and activation")
        layers.append(Layer(weights=table["weights"], biases=table.get("biases"),
                            activation=table.get("activation", "sigmoid")))
    options = {key: value for key, value in (
        ("loss", args.loss or spec.get("loss")), ("outputs", spec.get("outputs")),
        ("slope", args.slope or spec.get("slope")), ("delta", args.delta or spec.get("delta")),
        ("frozen", tuple(spec.get("freeze", ())))) if value is not None}
    return (Network(layers=tuple(layers), **options), _samples(spec),
            args.lr or spec.get("learning_rate", "0.1"))


def _custom_activation(text: str | None):
    """The Activation of --activation-expr, or None."""
    from .assess.checks import parse
    from .maths.activations import custom
    return None if text is None else custom(parse(text, symbols=("z",)))


def _problem(args) -> tuple[Neuron | Network, list[Sample], object, dict]:
    """The neuron (or network), samples and learning rate from the flags and --spec."""
    from .maths.model import Neuron, Sample
    spec = _read_spec(args.spec) if args.spec else {}
    if "layers" in spec:
        return (*_network(args, spec), spec)
    unknown = sorted(set(spec) - _SPEC_KEYS)
    if unknown:
        raise SymgradError(f"unknown key {unknown[0]!r} in {args.spec}; allowed: "
                           f"{', '.join(sorted(_SPEC_KEYS))} (or layers for a network)")
    flat = lambda lists: [v for group in lists for v in group]  # noqa: E731
    weights = flat(args.w) if args.w else spec.get("weights", ["0.5"])
    bias = None if args.no_bias else (args.b if args.b is not None else spec.get("bias", "0.1"))
    if bias is False:
        bias = None
    if args.x or args.y is not None or "samples" not in spec:
        samples = [Sample(x=flat(args.x) if args.x else ["2.0"],
                          y=args.y if args.y is not None else "1.5")]
    else:
        samples = _samples(spec)
    if args.activation_expr is not None and args.activation is not None:
        raise SymgradError("give either --activation or --activation-expr, not both")
    options = {key: value for key, value in (
        ("activation", _custom_activation(args.activation_expr) or args.activation
         or spec.get("activation", "identity")),
        ("loss", args.loss or spec.get("loss", "squared")),
        ("slope", args.slope or spec.get("slope")),
        ("delta", args.delta or spec.get("delta"))) if value is not None}
    neuron = Neuron(weights=weights, bias=bias, **options)
    return neuron, samples, args.lr or spec.get("learning_rate", "0.1"), spec


def _example(args) -> str:
    from .maths.model import Network, Optimizer
    from .views.render import worked_example
    neuron, samples, learning_rate, spec = _problem(args)
    show = args.show if args.show is not None else spec.get("show")
    if show is not None and not isinstance(neuron, Network):
        raise SymgradError("--show picks a network's parameters; a single neuron shows all")
    steps = args.steps or spec.get("steps", 1)
    result = worked_example(
        neuron, samples, learning_rate=learning_rate,
        steps=steps, tolerance=args.tol or spec.get("tolerance"), digits=args.digits,
        glossary=not args.no_glossary, templates=args.templates,
        show=None if show is None else tuple(show), matrix=args.matrix, graph=args.graph,
        finite_differences=args.finite_differences, derive_steps=args.derive_steps,
        plots=args.plots, lang=args.lang, mistakes=args.mistakes, **_training(args, spec))
    if args.out is not None:
        result.save(args.out, args.format)  # the format from the suffix, which must be known
        return ""
    return result.render(args.format or "md")


def _join_values(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """``--b -2.5e-3`` -> ``--b=-2.5e-3``: argparse takes a value that starts with '-' for a
    flag unless it looks like a plain negative number, so ``-2/3``, ``-1.2,0.5`` and
    ``-2*(y-a)`` would be refused. A flag that takes a value gets the next word as its value
    whenever that word is not one of the command's own flags."""
    commands = next(action.choices for action in parser._actions
                    if isinstance(action, argparse._SubParsersAction))
    joined, flags, i = [], None, 0
    while i < len(argv):
        word, after = argv[i], argv[i + 1] if i + 1 < len(argv) else ""
        if word == "--":
            return joined + argv[i:]
        if flags is None and word in commands:
            flags = commands[word]._option_string_actions
        elif (flags is not None and _takes_value(flags, word) and after.startswith("-")
              and _flag_named(flags, after.partition("=")[0]) is None):
            word, i = f"{word}={after}", i + 1
        joined.append(word)
        i += 1
    return joined


def _flag_named(flags: dict, word: str):
    """The action of ``word``, a flag or an unambiguous abbreviation of one, or None."""
    if word in flags:
        return flags[word]
    matches = {flags[name] for name in flags if word.startswith("--") and name.startswith(word)}
    return matches.pop() if len(matches) == 1 else None


def _takes_value(flags: dict, word: str) -> bool:
    action = _flag_named(flags, word) if "=" not in word else None
    return action is not None and action.nargs is None


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 a wrong answer, 2 bad input,
    3 an answer that could not be compared)."""
    parser = _build_parser()
    try:
        args = parser.parse_args(_join_values(parser, sys.argv[1:] if argv is None else argv))
        if args.command is None:
            parser.print_help()
            return 2
    except BrokenPipeError:  # `symgrad example --help | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:  # a full disk behind `symgrad example --help > help.txt`
        print(f"symgrad: error: cannot write to standard output: {error.strerror}",
              file=sys.stderr)
        return 2
    _load(args.command)
    try:
        with collecting_rarely():  # many objects live to the end of the run
            if args.command == "check":
                text, code = _check(args)
            else:
                text, code = {"example": _example, "sheet": _sheet,
                              "mark": _mark}[args.command](args), 0
    except SymgradError as error:
        print(f"symgrad {args.command}: error: {error}", file=sys.stderr)
        return 2
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # `symgrad example | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError as error:  # a full disk behind `> lesson.md`
        print(f"symgrad {args.command}: error: cannot write to standard output: "
              f"{error.strerror}", file=sys.stderr)
        return 2
    return code


# The module each command works with; importing it loads SymPy, Jinja2 and the maths.
_COMMAND_MODULES = {"example": ".views.render", "sheet": ".assess.sheets",
                    "check": ".assess.checks", "mark": ".assess.mark"}


def _load(command: str) -> None:
    """Import ``command``'s maths with the collector off: all it makes lives to the end of
    the run, so a collection would find nothing (the imports take about a tenth less
    time). Then freeze it out of the collector, which runs rarely while a derivation makes
    many long-lived objects (a 1000-layer network derives about a quarter faster; memory
    stays bounded)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        import_module(_COMMAND_MODULES[command], __package__)
    finally:
        if enabled:
            gc.enable()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def run() -> NoReturn:
    """The ``symgrad`` console script and ``python -m symgrad``: :func:`main`, then leave at
    once with ``os._exit``, after what a normal exit does first: the exit handlers run and
    standard output and error are flushed and closed, a failure to write reported (exit 2).

    A normal exit would go on to free every object SymPy made, one by one, at close to half
    the cost of importing it; nothing that is written or closed depends on that.
    """
    try:
        code = main()
    except SystemExit as leaving:  # argparse's --help, --version and usage errors
        code = leaving.code or 0
    atexit._run_exitfuncs()  # logging's, matplotlib's, weakref finalizers: as at a normal exit
    if sys.stdout is not None:  # None when started with standard output closed
        try:
            sys.stdout.close()  # flushes what is left (a help text), then closes
        except BrokenPipeError:  # `symgrad --help | head -1`: the reader has what it wanted
            pass
        except OSError as error:  # a full disk behind `> help.txt`
            code = 2
            if sys.stderr is not None:
                print(f"symgrad: error: cannot write to standard output: {error.strerror}",
                      file=sys.stderr)
    if sys.stderr is not None:  # None when started with standard error closed
        try:
            sys.stderr.close()
        except OSError:  # nowhere left to say it: exit 120 as Python does
            code = code or 120
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
