"""Tests of symgrad.assess.checks: the safe parser, answer checking, diagnosis and gradcheck."""

import importlib
import json
import multiprocessing
import os
import re
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st
from sympy import Abs, Max, Min, Piecewise, Rational, Symbol, erf, exp, log, sqrt, tanh

from conftest import ROOT, run
import hostile
from symgrad.maths.activations import ACTIVATIONS
from symgrad.assess.checks import (FUNCTIONS, GradientMismatch, check, diagnose, gradcheck, parse)
from symgrad.maths.derive import derive
from symgrad.maths.quantities import mistakes, quantities
from symgrad.errors import ParseError, SymgradError
from symgrad.maths.losses import LOSSES
from symgrad.maths.model import Neuron, Sample

MARKER = "symgrad_injection_marker"


def _corpus(marker_path):
    """Hostile or malformed texts; none may run, all must be refused."""
    touch = f"touch {marker_path}"
    return [
        f"__import__('os').system('{touch}')",
        f"__import__(\"os\").system(\"{touch}\")",
        "().__class__.__bases__[0].__subclasses__()",
        "().__class__",
        "x.__class__",
        "Symbol('x').__class__",
        "lambda: 0",
        "(lambda: __import__('os'))()",
        "[x for x in ()]",
        "{x for x in ()}",
        "(x for x in ())",
        "{x: 1 for x in ()}",
        'f"{1}"',
        "'text'",
        "b'bytes'",
        "9**9**9**9",
        "2**10000",
        "(10**20)**(10**20)",
        "exp(exp(exp(exp(99))))",
        "x" * 1_000_000,
        "1" + "+1" * 600,
        "eval('1')",
        "exec('1')",
        "open('/etc/passwd')",
        "getattr(x, '__class__')",
        "globals()",
        "__builtins__",
        "import os",
        "x = 1",
        "x := 1",
        "x if y else z",
        "x[0]",
        "x.real",
        "exp(x=1)",
        "max(*[1, 2])",
        "sqrt()",
        "exp(1, 2)",
        "1 < 2",
        "x and y",
        "not x",
        "~x",
        "x % 2",
        "x // 2",
        "x @ y",
        "x << 2",
        "1j",
        "True",
        "None",
        "q + 1",
        "еxp(z)",           # Cyrillic е
        "ехр(z)",           # Cyrillic е, х, р
        "z\u200b",          # zero-width space
        "ｅｘｐ(z)",          # fullwidth letters, which Python would fold to exp
        "1/0",
        "2x",
        "",
        "   ",
        "sigmoid",
        "(",
    ]


def _refused_in_time(text):
    """Parse in a thread; return the exception, or fail if it runs over a second."""
    outcome = []

    def work():
        try:
            parse(text)
        except Exception as error:  # noqa: BLE001 - the test inspects it
            outcome.append(error)
        else:
            outcome.append(None)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(1.0)
    assert outcome, f"parse did not return within 1 s for {text[:60]!r}"
    return outcome[0]


def test_injection_corpus_is_refused_and_never_runs(tmp_path):
    """Each hostile text is a SymgradError, nothing executes, and each returns in a second."""
    marker = tmp_path / MARKER
    corpus = _corpus(marker)
    assert len(corpus) >= 40
    for text in corpus:
        error = _refused_in_time(text)
        assert isinstance(error, SymgradError), (text[:60], error)
        assert "\n" not in str(error) and len(str(error)) < 300
    assert not marker.exists()


@pytest.mark.parametrize("text, message", [
    ("q + 1", "unknown name 'q'; allowed: a, y, z, x, w, b"),
    ("x.real", "attribute access"),
    ("9**9**9**9", "power tower"),
    ("x**101", "exponents above 100"),
    ("'a'", "not a number"),
    ("exp", "'exp' is a function"),
    ("2x", "write multiplication with *"),
    ("еxp(z)", "U+0435"),
    ("x" * 501, "at most 500"),
    # 145 characters that took SymPy minutes (each level of sigmoid doubles evalf's work).
    ("sigmoid(" * 16 + "0.5" + ")" * 16, "exp and sigmoid nested more than 6 deep"),
    ("1,5", "1,5 is not a number here: write decimals with a point (1.5)"),
    ("[z]", "a list is not allowed in a formula; use numbers, a, y, z, x, w, b, + - *"),
    # Sized by every digit as written, as it is read (not by a float's 17).
    ("(0.1" + "0" * 90 + "1)**100", "is too large to work with: about 18300 digits"),
])
def test_rejections_explain_themselves(text, message):
    """Each refusal says what was wrong in words a learner can act on."""
    with pytest.raises(ParseError, match=re.escape(message)):
        parse(text)


@pytest.mark.parametrize("text, expected", [
    ("2*(a - y)", 2 * (Symbol("a", real=True) - Symbol("y", real=True))),
    ("x^2", Symbol("x", real=True) ** 2),
    ("σ(z)*(1 − σ(z))", None),
    ("relu(z) + abs(z) + max(z, 1) + min(z, 0)", None),
    ("Heaviside(z)", None),
    ("1.5e-3", Rational(3, 2000)),
    # Every digit as written, past the 16 or so a Python float keeps.
    ("0.63636363636363636", Rational(63636363636363636, 10**17)),
    ("sigmoid(sigmoid(sigmoid(sigmoid(sigmoid(sigmoid(0.5))))))", None),
])
def test_allowed_formulas(text, expected):
    """Whitelisted names, functions and operators parse (unicode minus, · and σ too)."""
    result = parse(text)
    if expected is not None:
        assert result == expected


def test_custom_symbols():
    """The allowed names can be chosen; others are refused."""
    assert parse("w1*x1", symbols=["w1", "x1"]).free_symbols == {
        Symbol("w1", real=True), Symbol("x1", real=True)}
    with pytest.raises(ParseError, match="allowed: w1, x1"):
        parse("z", symbols=["w1", "x1"])


_Z, _X = Symbol("z", real=True), Symbol("x", real=True)
_LEAVES = st.sampled_from([_Z, _X, Rational(1, 2), Rational(3), Rational(-2, 3)])


def _grow(children):
    # exp only of a name: exp(exp(z)) is refused by the size bound (names count as 10).
    unary = st.sampled_from([tanh, Abs, lambda e: sqrt(e * e + 1), lambda e: log(e * e + 1),
                             lambda e: e + exp(_Z), lambda e: e / (1 + exp(-_X))])
    return st.one_of(
        st.tuples(unary, children).map(lambda t: t[0](t[1])),
        st.tuples(children, children).map(lambda t: t[0] + t[1]),
        st.tuples(children, children).map(lambda t: t[0] * t[1]),
        st.tuples(children, children).map(lambda t: t[0] - t[1]),
        st.tuples(children, children).map(lambda t: t[0] / (t[1] * t[1] + 1)),
        st.tuples(children, st.integers(-3, 3)).map(lambda t: t[0] ** t[1] if t[1] >= 0
                                                    else 1 / (t[0] ** 2 + 1)),
        st.tuples(children, children).map(lambda t: Max(t[0], t[1])),
        st.tuples(children, children).map(lambda t: Min(t[0], t[1])),
    )


@settings(max_examples=60, deadline=None)
@given(st.recursive(_LEAVES, _grow, max_leaves=6))
def test_parse_round_trips_printed_expressions(expr):
    """For random whitelisted expressions, parse(str(expr)) is the same expression, or one
    that check compares and finds equal (never an unchecked or incomparable verdict)."""
    text = str(expr)
    assert len(text) <= 500
    back = parse(text)
    if back != expr:
        result = check(back, expr)
        assert result.correct and result.kind in ("equivalent", "numeric"), (text, result)


def test_check_numbers_and_tolerance():
    """Numbers: exact, within tolerance, or wrong; tolerance relative or absolute."""
    assert check("0.66", Rational(33, 50)).kind == "exact"
    assert check("0.6601", Rational(33, 50)).kind == "numeric"
    assert check("0.67", Rational(33, 50)).kind == "wrong"
    assert check("0.67", Rational(33, 50), tolerance="0.02").correct
    assert not check("0.67", Rational(33, 50), tolerance="0.1%").correct


def test_check_formulas():
    """Formulas: proved equivalent, or wrong with a point where they differ."""
    assert check("exp(-z)/(1+exp(-z))^2", "sigmoid(z)*(1-sigmoid(z))").kind == "equivalent"
    wrong = check("sigmoid(z)", "sigmoid(z)*(1-sigmoid(z))")
    assert not wrong.correct and "differ at z =" in wrong.feedback


def _children() -> str:
    """This process's child processes, as listed by Linux ('' when there are none)."""
    tasks = Path(f"/proc/{os.getpid()}/task")
    return " ".join((task / "children").read_text() for task in tasks.iterdir()).strip()


_SUM = "(x + z + w + b + a + y)"


def test_check_hard_formula_does_not_hang():
    """A formula simplify cannot finish is stopped at the real time limit: with no point
    where both formulas are real the verdict is 'incomparable', and no worker is left."""
    threads = threading.active_count()
    start = time.monotonic()
    result = check(f"sqrt(-1 - z**2)*tanh({_SUM})",
                   f"sqrt(-1 - z**2)*(2*sigmoid(2*{_SUM}) - 1)")
    elapsed = time.monotonic() - start
    assert not result.correct and result.kind == "incomparable", result
    assert "within 2 s" in result.feedback and elapsed < 60  # a hang guard, not a benchmark
    assert multiprocessing.active_children() == [] and threading.active_count() == threads
    if sys.platform.startswith("linux"):
        assert _children() == ""


def test_check_falls_back_to_enough_points_and_says_so():
    """When simplify runs out of time, agreement at every point is 'numeric', and the
    feedback says the proof did not finish."""
    result = check(f"tanh({_SUM})", f"2*sigmoid(2*{_SUM}) - 1")
    assert result.correct and result.kind == "numeric"
    # 12 points near 0 and 12 out to ±10, all of them where tanh is defined.
    assert "24 points" in result.feedback and "could not finish a proof" in result.feedback


@pytest.mark.parametrize("answer", ["z*exp(1000)", "a*exp(1000)", "tanh(z)*exp(800)",
                                    "exp(1000)", "sigmoid(z)*(1-sigmoid(z))*exp(700)"])
def test_overflowing_answers_are_wrong(answer):
    """Values beyond a float's range are compared at 30 digits, so they are wrong, not skipped."""
    result = check(answer, "sigmoid(z)*(1-sigmoid(z))")
    assert not result.correct and result.kind == "wrong", result


def test_incomparable_numbers_are_never_correct():
    """A value with no finite real value is 'incomparable'; a complex one is wrong."""
    assert check(log(Symbol("q", negative=True) ** 0 - 1), 1).kind == "incomparable"
    assert check(sqrt(-2 + Rational(0)), 1).kind == "wrong"


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, resource.RLIM_INFINITY))


def _child(*args, stdin=None, timeout=120):
    """Run a child Python from the worktree with a memory limit and a hang guard."""
    return subprocess.run(args, input=stdin, capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout, preexec_fn=_limit_memory)


def test_hostile_corpus_in_a_child_process(tmp_path):
    """Every hostile text, parsed and checked in one guarded child: clean one-line errors,
    no crash, no hang, nothing executed, and never a correct verdict."""
    marker = tmp_path / "MARKER"
    corpus = hostile.corpus()
    assert len(corpus) >= 300
    done = _child(sys.executable, "-c", "import sys; sys.path[1:1] = ['tests']; import json, "
                  "hostile; hostile.run_batch(json.load(sys.stdin), sys.argv[1])", str(marker),
                  stdin=json.dumps(corpus))
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == len(corpus), (done.stderr[-500:], corpus[len(rows)][:80])
    crashes = [(corpus[r["index"]][:60], r[k]) for r in rows for k in ("parse", "check")
               if r[k].startswith("crash")]
    long_errors = [corpus[r["index"]][:60] for r in rows
                   if r.get("parse_lines", 1) != 1 or r.get("check_lines", 1) != 1]
    correct = [corpus[r["index"]][:60] for r in rows if r.get("correct")]
    assert (crashes, long_errors, correct) == ([], [], [])
    assert "Traceback" not in done.stderr and not marker.exists()


_CLI_SAMPLE = hostile.ISSUE + hostile.INJECTION[:4] + ["exp(exp(z))", "1/0", "log(0)",
                                                       "еxp(z)", "x" * 1000]


def test_hostile_cli_sample(tmp_path):
    """A sample through `symgrad check` (formula and number quantities) and
    `--activation-expr`: never ✓, never a traceback, one line and exit 2 for bad input."""
    marker = str(tmp_path / "MARKER")
    runs = [("check", "--activation", "sigmoid", "--quantity", "da/dz", "--answer", text)
            for text in _CLI_SAMPLE]
    runs += [("check", "--quantity", "dL/dw", "--answer", text) for text in hostile.ISSUE]
    runs += [("example", "--activation-expr", text) for text in hostile.ISSUE[5:9]]
    for args in runs:
        args = tuple(a.replace("MARKER", marker) for a in args)
        done = _child(sys.executable, "-m", "symgrad", *args, timeout=60)
        assert done.returncode in (1, 2, 3), (args, done.returncode)
        assert "Traceback" not in done.stderr and not done.stdout.startswith("✓"), args
        if done.returncode == 2:
            assert len(done.stderr.strip().splitlines()) == 1, (args, done.stderr)
    assert not Path(marker).exists()


def test_parse_property_in_a_child_process():
    """Hypothesis-generated formulas: parse returns an expression or raises a SymgradError,
    run in a guarded child so a bug cannot hang the suite."""
    done = _child(sys.executable, "-c", "import sys; sys.path[1:1] = ['tests']; import "
                  "hostile; hostile.parse_property()", timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "examples: 300" in done.stdout


def _cases():
    for act in ACTIVATIONS:
        for loss in LOSSES:
            y = 1 if loss == "bce" else Rational(3, 2)
            if loss == "bce" and act != "sigmoid":
                continue
            yield act, loss, y


@pytest.mark.parametrize("act, loss, y", list(_cases()))
def test_diagnose_names_every_known_mistake(act, loss, y):
    """Each known mistake's value is named by diagnose, and the correct value never is."""
    neuron = Neuron(weights="0.5", bias="0.3", activation=act, loss=loss)
    samples = [Sample(x=2, y=y), Sample(x=-1, y=y / 3)]
    d = derive(neuron, samples)
    for q in quantities(d):
        right = diagnose(neuron, q.key, q.value, samples=samples)
        assert right.correct and not right.mistakes, (q.key, right.message)
        for mistake in mistakes(d, q.key, distinct=False):
            verdict = diagnose(neuron, q.key, mistake.value, samples=samples,
                               tolerance="1e-12")
            assert not verdict.correct
            assert mistake.name in {m.name for m in verdict.mistakes}, (q.key, mistake.name)
            assert mistake.description in verdict.message


def test_diagnose_message_names_the_missing_factor():
    """The message gives the number behind the mistake, like f'(z)."""
    neuron = Neuron(weights="0.5", bias="0.1", activation="sigmoid")
    d = derive(neuron, [Sample(x=2, y="1.5")])
    missing = next(m for m in mistakes(d, "dL/dw") if m.name == "missing_activation_derivative")
    message = diagnose(neuron, "dL/dw", missing.value, samples=[Sample(x=2, y="1.5")]).message
    assert "without the activation's derivative f'(z) = 0.1874" in message


def test_diagnose_refuses_unknown_quantities_and_formulas():
    """Unknown quantities and formula answers are clear errors."""
    with pytest.raises(SymgradError, match="unknown quantity 'dL/dq'"):
        diagnose(Neuron(weights=1), "dL/dq", "1")
    with pytest.raises(SymgradError, match="a number is expected"):
        diagnose(Neuron(weights=1), "dL/dw", "x")


@pytest.mark.parametrize("act", list(ACTIVATIONS))
def test_gradcheck_agrees_for_every_activation(act):
    """The chain rule agrees with sympy.diff and finite differences."""
    report = gradcheck(Neuron(weights="0.5", bias="0.3", activation=act, loss="mse"),
                       [Sample(x=2, y=1), Sample(x=-1, y=0)])
    assert report.ok and "ok" in str(report)


def test_gradcheck_raises_on_a_wrong_derivative(monkeypatch):
    """A registry derivative that is wrong is caught, and raised when asked."""
    from dataclasses import replace
    activations = importlib.import_module("symgrad.maths.activations")
    broken = replace(ACTIVATIONS["tanh"], derivative=lambda z, slope: 1 - tanh(z),
                     output_form=None)
    monkeypatch.setitem(activations.ACTIVATIONS, "tanh", broken)
    neuron = Neuron(weights="0.5", bias="0.3", activation="tanh")
    assert not gradcheck(neuron).ok
    with pytest.raises(GradientMismatch, match="w, b"):
        gradcheck(neuron, raise_on_mismatch=True)


def test_gradcheck_of_a_network():
    """gradcheck works on a network: every gradient agrees, and its rows name each weight."""
    from symgrad.maths.model import Layer, Network
    network = Network(layers=[Layer([["0.15", "0.2"], ["0.25", "0.3"]], ["0.35", "0.35"]),
                              Layer([["0.4", "0.45"], ["0.5", "0.55"]], ["0.6", "0.6"])],
                      loss="half_squared")
    report = gradcheck(network, [Sample(x=["0.05", "0.1"], y=["0.01", "0.99"])])
    assert report.ok and [row[0] for row in report.rows][:2] == ["w1_1_1", "w1_1_2"]


CLI = (sys.executable, "-m", "symgrad", "check")


def test_cli_check_exit_codes():
    """✓ and exit 0 when right, ✗ with the mistake and exit 1 when wrong, 2 for bad input."""
    right = run(*CLI, "--quantity", "dL/dw", "--answer", "-1.6")
    assert right.returncode == 0 and right.stdout.startswith("✓")
    wrong = run(*CLI, "--quantity", "dL/dw", "--answer", "1.6")
    assert wrong.returncode == 1 and wrong.stdout.startswith("✗") and "flips the sign" in (
        wrong.stdout)
    bad = run(*CLI, "--quantity", "dL/dw", "--answer", "__import__('os')")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_cli_check_formula_answers():
    """A formula answer for a factor is compared with the derived formula."""
    ok = run(*CLI, "--activation", "sigmoid", "--quantity", "da/dz", "--answer",
             "sigmoid(z)*(1-sigmoid(z))")
    assert ok.returncode == 0
    no = run(*CLI, "--quantity", "dL/da", "--answer", "a - y")
    assert no.returncode == 1 and "differ" in no.stdout


@pytest.mark.parametrize("activation, loss, quantity, right, wrong", [
    # f'(z) written through the output ŷ = f(z), as the lessons write it.
    ("sigmoid", "mse", "da/dz", "a*(1 - a)", "a*(1 + a)"),
    ("tanh", "mse", "da/dz", "1 - a**2", "1 - a"),
    # Piecewise derivatives are compared case by case, not left "could not compare".
    ("relu", "mse", "da/dz", "Heaviside(z)", "7*z**3"),
    ("leaky_relu", "mse", "da/dz", "Heaviside(z) + 0.01*(1 - Heaviside(z))", "Heaviside(z)"),
    ("elu", "mse", "da/dz", "Heaviside(z) + (1 - Heaviside(z))*exp(z)", "Heaviside(z)"),
    ("identity", "huber", "dL/da", "max(-1, min(1, a - y))", "a - y"),
    # Differs only for ŷ > 2: the points reach out to ±10 (a lesson's ŷ = 4.5 is there).
    ("relu", "mse", "dL/da", "2*(a - y)", "2*(a - y) + max(0, a - 2)"),
    # Leaky ReLU's slope through ŷ: its 0.01 is a number, not a name to vary.
    ("leaky_relu", "mse", "da/dz", "Heaviside(a) + 0.01*Heaviside(-a)", "Heaviside(a)"),
    # A case that switches beyond every random point: each side of each kink is tried.
    ("relu", "mse", "da/dz", "Heaviside(z)", "Heaviside(z) + Heaviside(z - 50)"),
    ("identity", "huber", "dL/da", "max(-1, min(1, a - y))",
     "max(-1, min(1, a - y)) + 3*Heaviside(a - y - 10**6)"),
])
def test_cli_check_formulas_are_compared(activation, loss, quantity, right, wrong):
    """Each factor's right formula is ✓ and a wrong one ✗ with the point where they
    differ: a sigmoid's or tanh's slope through ŷ, the cases of ReLU, leaky ReLU, ELU and
    Huber, and a difference far from 0."""
    options = ("--activation", activation, "--loss", loss, "--quantity", quantity)
    ok = run(*CLI, *options, "--answer", right)
    assert ok.returncode == 0 and ok.stdout.startswith("✓"), ok.stdout + ok.stderr
    no = run(*CLI, *options, "--answer", wrong)
    assert no.returncode == 1 and "differ at" in no.stdout, no.stdout + no.stderr


def test_custom_activation_from_formula(tmp_path):
    """--activation-expr works in example (derivative by SymPy) and refuses unsafe text."""
    out = run(sys.executable, "-m", "symgrad", "example", "--activation-expr", "z/(1+abs(z))",
              "--format", "json")
    assert out.returncode == 0 and '"activation": "custom"' in out.stdout
    bad = run(sys.executable, "-m", "symgrad", "example", "--activation-expr",
              "z.__class__", "--out", str(tmp_path / "x.md"))
    assert bad.returncode == 2 and not (tmp_path / "x.md").exists()


def test_functions_are_the_documented_whitelist():
    """The callable names are exactly the documented ones."""
    assert set(FUNCTIONS) == {"exp", "log", "sqrt", "sigmoid", "tanh", "erf", "relu",
                              "Heaviside", "abs", "max", "min"}


def test_erf_is_bounded_like_tanh_and_checks_gelu_slopes():
    """erf is read (GELU's slope can be typed), sized as a bounded function, refused with
    keywords or a second argument, and a learner's GELU slope is checked against the
    derived one: Φ(z) + zφ(z) written out is right, Φ(z) alone is not."""
    assert parse("erf(z/sqrt(2))") == erf(Symbol("z", real=True) / sqrt(2))
    for text in ("erf(z, 1)", "erf(z=1)", "erf(exp(exp(z)))", "erf.__class__"):
        with pytest.raises(ParseError):
            parse(text)
    right = run(*CLI, "--activation", "gelu", "--quantity", "da/dz", "--answer",
                "(1 + erf(z/sqrt(2)))/2 + z*exp(-z^2/2)/sqrt(2*pi)")
    assert right.returncode == 0 and right.stdout.startswith("✓"), right.stdout + right.stderr
    wrong = run(*CLI, "--activation", "gelu", "--quantity", "da/dz", "--answer",
                "(1 + erf(z/sqrt(2)))/2")
    assert wrong.returncode == 1 and "differ" in wrong.stdout


@pytest.mark.parametrize("tolerance", ["nan", "-1", "1e999", "abc"])
def test_a_bad_tolerance_is_refused_even_for_an_exact_answer(tolerance):
    """An exactly right answer does not need the tolerance, but a bad one is still an
    error, as it is for an answer that does."""
    with pytest.raises(SymgradError):
        check("-1.6", "-8/5", tolerance=tolerance)


@pytest.mark.parametrize("answer, expected, where", [
    ("Heaviside(z) + Heaviside(z - 50)", "Heaviside(z)", "z = 51"),        # far out
    ("Heaviside(z - 1/10**6)", "Heaviside(z)", "z = 0.0000005"),          # a narrow gap
    ("Heaviside(z) + Heaviside(z - 10**29)", "Heaviside(z)", "z = 1.000e+29"),
    ("Heaviside(z) + Heaviside(z**2 - 2500)", "Heaviside(z)", "z = -51"),  # a parabola's root
    ("2*(a - y) + max(0, a - y - 1000)", "2*(a - y)", "a = "),             # two names
    ("abs(abs(z) - 100) + Heaviside(z - 200)", "abs(abs(z) - 100)", "z = 201"),
    ("Heaviside(z) + Heaviside((z - 50)**3)", "Heaviside(z)", "z = 51"),      # a triple root
    ("Heaviside(z) + Heaviside(sqrt(3)*z**2 - 10**29)", "Heaviside(z)", "z = -"),
])
def test_a_case_that_switches_out_of_the_random_points_reach_is_found(answer, expected, where):
    """Random points near 0 cannot see a case that switches far out or within a narrow
    gap; the points each side of, and between, the kinks of both formulas do."""
    result = check(answer, expected)
    assert result.kind == "wrong" and f"differ at {where}" in result.feedback, result


@pytest.mark.parametrize("answer, expected", [
    # a kink far out, where a part is 10^1300 or 10^1800: cancellation is ruled out with
    # digits for the largest part, not MAX_SIZE's (these were ✗ at z = 2999 and 10^900)
    ("(exp(z) + 1)*(1 - sigmoid(z)) + Heaviside(z - 3000)", "1 + Heaviside(z - 3000)"),
    ("(z + 1)**2 - z**2 - 2*z + Heaviside(z - (10**100)**9)", "1 + Heaviside(z - (10**100)**9)"),
    # another name at a pole of a kink's argument: no crash (a DomainError escaped)
    ("Heaviside(z/(x*y*w*b*a) - 1) + 235",
     "Heaviside(z/(x*y*w*b*a) - 1) + 235 + (z + 1)**2 - z**2 - 2*z - 1"),
])
def test_right_formulas_with_far_or_awkward_kinks_are_credited(answer, expected):
    result = check(answer, expected)
    assert result.correct, result


def test_formulas_built_of_the_same_cases_still_agree_at_their_kinks():
    """A right formula written with other cases (the same kinks) is still credited, and
    the kinks' points are counted among those tried: ReLU's slope as Heaviside has the
    24 random points and one each side of 0."""
    z = Symbol("z", real=True)
    relu = check("Heaviside(z)", Piecewise((1, z > 0), (0, True)))
    assert relu.correct and "26 points" in relu.feedback, relu
    assert check("Heaviside(z**3 - 1000)", "Heaviside(z - 10)").correct
    assert check("(z + abs(z))/2", "max(0, z)").correct


def test_a_formula_of_a_in_zero_to_one_is_still_compared():
    """Points far from 0 add to those near it: a formula defined only for a in (0, 1)
    (a cross-entropy's logs) still agrees at enough points to be credited."""
    result = check("log(a) + log(1 - a)", "log(a*(1 - a))", symbols=("a",))
    assert result.correct and result.kind in ("equivalent", "numeric"), result
