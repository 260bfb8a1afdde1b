"""Tests of symgrad.assess.sheets: seeded drawing, conditions, answer keys and Moodle XML."""

import html
import json
import re
import sys
import xml.etree.ElementTree as ET

import pytest
from sympy import Rational, diff, sympify

from conftest import run
from symgrad.maths.derive import composed_loss, derive
from symgrad.errors import SymgradError
from symgrad.assess.sheets import decimal_places, sheet
from symgrad.maths.model import numeric
from symgrad.maths.quantities import mistakes


def _problem_key(problem):
    d = problem.derivation
    return (d.neuron, d.samples, d.learning_rate)


def _shown(d):
    """Every number a worked solution displays, walked from the derivation's records."""
    values = [d.loss.value, d.loss_after.value, *d.parameters, d.learning_rate]
    for rows in (d.forward, d.forward_after):
        for row in rows:
            values += [row.z.value, row.prediction.value, row.loss.value]
    values += [f.formula.value for f in d.factors]
    for g in d.gradients:
        values += [p.value for p in g.per_sample] + [g.value, g.update.value]
    return values


@pytest.mark.parametrize("fmt", ["md", "tex", "json", "moodle", "moodle-numerical"])
def test_same_seed_same_bytes(fmt):
    """The same arguments give byte-identical documents."""
    first = sheet(count=5, seed=42, difficulty="medium").documents(fmt)
    again = sheet(count=5, seed=42, difficulty="medium").documents(fmt)
    assert first == again


def test_same_bytes_in_a_fresh_process(tmp_path):
    """Another process (another hash seed) writes the same files."""
    for folder, hash_seed in ((tmp_path / "a", "1"), (tmp_path / "b", "2")):
        folder.mkdir()
        result = run(sys.executable, "-m", "symgrad", "sheet", "--count", "4", "--seed", "9",
                     "--out", str(folder), env={"PYTHONHASHSEED": hash_seed, "PATH": ""})
        assert result.returncode == 0, result.stderr
    for name in ("sheet.md", "key.md"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_different_seeds_differ():
    """Different seeds draw different problems."""
    one = [_problem_key(p) for p in sheet(count=5, seed=1).problems]
    two = [_problem_key(p) for p in sheet(count=5, seed=2).problems]
    assert one != two


def test_problem_k_is_stable_across_counts():
    """Problem 7 is the same whether the sheet has 10 or 20 problems."""
    short, long = sheet(count=10, seed=5), sheet(count=20, seed=5)
    assert [_problem_key(p) for p in short.problems] == [
        _problem_key(p) for p in long.problems[:10]]


def test_no_duplicate_problems():
    """No problem appears twice in a sheet."""
    keys = [_problem_key(p) for p in sheet(count=60, seed=3).problems]
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("difficulty", ["easy", "medium", "hard"])
def test_answers_equal_engine_and_finite_differences(difficulty):
    """Every answer equals a fresh derivation's value, and gradients equal a central finite
    difference of the composed loss."""
    drawn = sheet(count=8, seed=11, difficulty=difficulty, ask=("prediction", "loss", "w", "b",
                                                                "update", "loss_after"))
    h = Rational(1, 10**6)
    for problem in drawn.problems:
        d = problem.derivation
        fresh = derive(d.neuron, d.samples, learning_rate=d.learning_rate)
        assert [g.value for g in fresh.gradients] == [g.value for g in d.gradients]
        total, symbols = composed_loss(d.neuron, d.samples)
        point = dict(zip(symbols, d.parameters))
        for q in problem.asked:
            if q.kind == "gradient":
                symbolic = diff(total, q.symbol).subs(point)
                assert abs(float((q.value - symbolic).evalf(30))) < 1e-12
                up = total.subs(point | {q.symbol: point[q.symbol] + h})
                down = total.subs(point | {q.symbol: point[q.symbol] - h})
                central = float(((up - down) / (2 * h)).evalf(30))
                assert abs(float(q.value.evalf(30)) - central) < 1e-6 * (1 + abs(central))
            elif q.kind == "loss":
                assert q.value == total.subs(point) or abs(
                    float((q.value - total.subs(point)).evalf(30))) < 1e-20
            elif q.kind == "loss_after":
                after = dict(zip(symbols, fresh.updated))
                assert abs(float((q.value - total.subs(after)).evalf(30))) < 1e-20


def test_easy_values_are_short_decimals():
    """On 200 easy problems every displayed value is a decimal with at most 3 places, and the
    Markdown key shows no rounded value."""
    drawn = sheet(count=200, seed=17)
    for problem in drawn.problems:
        for value in _shown(problem.derivation):
            places = decimal_places(value)
            assert places is not None and places <= 3, (problem.number, value)
    assert r"\approx" not in drawn.documents("md")["key.md"]


@pytest.mark.parametrize("activation", ["identity", "relu", "leaky_relu"])
@pytest.mark.parametrize("loss", ["squared", "mse", "half_squared"])
def test_quick_step_numbers_equal_the_engine(activation, loss):
    """The fraction screen of easy candidates gives step_numbers' numbers, exactly."""
    import random
    from fractions import Fraction

    from symgrad.assess.sheets import DIFFICULTIES, _draw, _quick_step_numbers
    from symgrad.maths.activations import activation as find
    from symgrad.maths.derive import step_numbers
    exact = lambda v: Fraction(int(v.p), int(v.q))  # noqa: E731
    rng, compared = random.Random(f"{activation}{loss}"), 0
    for level, inputs, batch in (("easy", 1, 1), ("medium", 2, 3), ("hard", 2, 2)):
        for _ in range(15):
            drawn = _draw(rng, DIFFICULTIES[level], [(find(activation), loss)], inputs, batch,
                          False)
            neuron, samples, rate = drawn
            quick = _quick_step_numbers(neuron, samples, rate, activation)
            engine = step_numbers(neuron, samples, learning_rate=rate)
            assert [exact(v) for v in engine.predictions] == list(quick.predictions)
            assert [exact(v) for v in engine.gradients] == list(quick.gradients)
            assert (exact(engine.loss), exact(engine.loss_after)) == (quick.loss,
                                                                      quick.loss_after)
            assert sorted(map(exact, engine.shown)) == sorted(quick.shown)
            compared += 1
    assert compared == 45


def test_decimal_places():
    """decimal_places counts places of terminating decimals only."""
    assert [decimal_places(Rational(v)) for v in ("3", "0.5", "-0.125", "12.25")] == [0, 1, 3, 2]
    assert decimal_places(Rational(1, 3)) is None


def test_smooth_activations_avoid_saturation_and_relu_avoids_kink():
    """Sigmoid, tanh, GELU, SiLU, ELU and softsign problems keep |z| <= 3; ReLU problems
    never sit at z = 0."""
    drawn = sheet(count=40, seed=2, difficulty="medium",
                  activations=("sigmoid", "tanh", "relu", "gelu", "silu", "elu", "softsign"))
    assert {p.derivation.activation.name for p in drawn.problems} >= {"gelu", "silu", "elu",
                                                                      "softsign"}
    for problem in drawn.problems:
        for row in problem.derivation.forward:
            if problem.derivation.activation.name == "relu":
                assert row.z.value != 0
            else:
                assert abs(row.z.value) <= 3


def test_medium_and_hard_draw_the_newer_activations_easy_refuses_them():
    """GELU, SiLU, ELU and softsign are drawn on medium and hard sheets (as sigmoid and tanh
    are), with targets each can reach (softsign's in [-1, 1], GELU's and SiLU's >= 0), and
    an easy sheet, whose values are short decimals, refuses them in one line."""
    newer = {"gelu", "silu", "elu", "softsign"}
    for difficulty in ("medium", "hard"):
        drawn = sheet(count=30, seed=8, difficulty=difficulty)
        names = {p.derivation.activation.name for p in drawn.problems}
        assert names & newer, (difficulty, names)
    for name, low, high in (("softsign", -1, 1), ("gelu", 0, 3), ("silu", 0, 3),
                            ("elu", -1, 3)):
        for p in sheet(count=4, seed=9, difficulty="medium", activations=(name,)).problems:
            assert all(low <= s.y <= high for s in p.derivation.samples)
    for name in newer:
        with pytest.raises(SymgradError, match=f"{name} cannot; use --difficulty medium"):
            sheet(count=1, activations=(name,))


def test_exact_step_reaches_zero_loss():
    """--exact-step problems land on the target in one step, as seeds 001 and 003 do."""
    for problem in sheet(count=10, seed=4, exact_step=True).problems:
        assert problem.derivation.loss_after.value == 0
        assert problem.derivation.loss.value != 0


def test_sheet_and_key_content():
    """The sheet shows the numbers and blanks; the key shows the answers and worked steps."""
    documents = sheet(count=3, seed=1, title="Week 3").documents("md")
    student, key = documents["sheet.md"], documents["key.md"]
    assert "seed 1" in student and "symgrad" in student and student.count("## Problem") == 3
    assert r"\_\_\_" in student and "Forward pass" not in student
    assert "## Answers" in key and key.count("### 4. The gradients") == 3


def test_json_export_has_every_answer():
    """JSON lists problems, asked quantities and exact and decimal answers."""
    drawn = sheet(count=3, seed=8, ask=("w", "update"))
    data = json.loads(drawn.to_json())
    assert data["seed"] == 8 and len(data["problems"]) == 3
    for problem, exported in zip(drawn.problems, data["problems"]):
        assert [a["quantity"] for a in exported["answers"]] == ["dL/dw", "w_new", "b_new"]
        for q, answer in zip(problem.asked, exported["answers"]):
            assert sympify(answer["exact"]) == q.value  # SymPy text that reads back
            assert answer["value"] == pytest.approx(float(q.value.evalf(20)))


def test_json_network_values_carry_their_definitions():
    """A network's exact values are written with names (d1_1__4): each is an identifier,
    so an exact text is SymPy text that reads back with SymPy's own sympify, every name a
    symbol of that name (dL_da__3, not dL divided by da); each problem's definitions give
    every name its exact text, and putting them in gives each value's number; a neuron's
    values need none, and its problems have no definitions."""
    from sympy import sympify
    drawn = sheet(count=3, seed=2, network="2-2-1", difficulty="medium",
                  ask=("loss", "delta", "w", "update"))
    data = json.loads(drawn.to_json())
    named = re.compile(r"[A-Za-z]\w*__\d+")  # d1_1__4, df1_1__10, dL_da__3

    def read(text, definitions):  # the exact text with each name's definition put in
        expr = sympify(text)
        assert {s.name for s in expr.free_symbols} == set(named.findall(text)), text
        return expr.subs({s: read(definitions[s.name], definitions)
                          for s in expr.free_symbols})

    used = set()
    for problem in data["problems"]:
        definitions = problem.get("definitions", {})
        assert all(named.fullmatch(name) for name in definitions), definitions
        for answer in problem["answers"]:
            for value in [answer, *answer["mistakes"]] + ([answer["start"]] if answer["start"]
                                                          else []):
                found = named.findall(value["exact"])
                assert set(found) <= set(definitions), (value["exact"], definitions)
                used.update(found)
                assert float(read(value["exact"], definitions)) == pytest.approx(
                    value["value"], rel=1e-12, abs=1e-15)
    # Among them the names that were not identifiers before: ∂L/∂a's and f'(z)'s.
    assert {name.split("__")[0][:2] for name in used} >= {"dL", "df"}, used
    assert all("definitions" not in p for p in json.loads(sheet(count=3, seed=2).to_json())[
        "problems"])


MOODLE_ORDER = ["name", "questiontext", "generalfeedback", "defaultgrade", "penalty", "hidden"]


def test_moodle_xml_structure():
    """The numerical Moodle XML parses; each numerical question has the fields Moodle's XML
    format exports, a correct answer with tolerance, and mistake answers with other values
    (the Cloze export is tested in test_moodle)."""
    drawn = sheet(count=4, seed=6, difficulty="medium")
    text = drawn.documents("moodle-numerical")["quiz-numerical.xml"]
    root = ET.fromstring(text.encode())
    assert root.tag == "quiz"
    category, *questions = root.findall("question")
    assert category.get("type") == "category" and category.find("category/text").text
    assert len(questions) == sum(len(p.asked) for p in drawn.problems)
    mistakes_seen = 0
    for question in questions:
        assert question.get("type") == "numerical"
        tags = [child.tag for child in question]
        assert [t for t in tags if t in MOODLE_ORDER] == MOODLE_ORDER
        assert question.find("name/text").text.strip()
        assert question.find("questiontext").get("format") == "html"
        assert r"\(" in question.find("questiontext/text").text
        assert "Forward pass" in question.find("generalfeedback/text").text
        answers = question.findall("answer")
        correct = [a for a in answers if a.get("fraction") == "100"]
        assert len(correct) == 1
        right = float(correct[0].find("text").text)
        right_tol = float(correct[0].find("tolerance").text)
        assert right_tol > 0
        for answer in answers:
            assert answer.find("tolerance") is not None and answer.find("feedback/text") is not None
        for wrong in (a for a in answers if a.get("fraction") == "0"):
            value, tol = float(wrong.find("text").text), float(wrong.find("tolerance").text)
            assert abs(value - right) > tol + right_tol
            assert "Not quite" in html.unescape(wrong.find("feedback/text").text)
            mistakes_seen += 1
    assert mistakes_seen >= len(questions)


@pytest.mark.parametrize("difficulty", ["easy", "medium", "hard"])
def test_answers_separate_and_pass_their_self_test(difficulty):
    """Over 200 drawn problems a difficulty, each asked number is asked to stated places,
    its model answer is accepted, and its starting value and every known mistake are not
    (each traced to its mistake): the self-test held before the problem was kept."""
    drawn = sheet(count=200, seed=11, difficulty=difficulty, ask=("loss", "w", "b", "update",
                                                                  "loss_after"))
    updates = 0
    for p in drawn.problems:
        assert p.self_test.passed and p.self_test.checks >= len(p.answers)
        for a in p.answers:
            q = a.quantity
            assert a.tolerance == Rational(1, 2 * 10 ** a.places)
            assert a.accepts(a.rounded)
            assert len(a.rounded.partition(".")[2]) == a.places
            assert len(a.mistakes) == len(mistakes(p.derivation, q.key, distinct=False))
            for m in a.mistakes:
                assert abs(numeric(m.value - q.value, 30)) > 2 * a.tolerance
                assert not a.accepts(m.value) and m in a.gives(m.value)
            if q.kind == "update":
                updates += 1
                start = p.derivation.parameters[p.derivation.parameter_symbols.index(q.symbol)]
                assert a.start == start and not a.accepts(start)
                plus = [m for m in a.mistakes if m.name == "plus_instead_of_minus"]
                assert plus and not a.accepts(plus[0].value)
    assert updates == sum(len(p.derivation.parameter_names) for p in drawn.problems)


def test_moodle_questions_state_their_places_and_refuse_the_start():
    """A Moodle question asks for stated decimal places, and its tolerance refuses the
    starting value: the 1%-of-the-answer tolerance that accepted an unchanged w is gone."""
    drawn = sheet(count=6, seed=1, difficulty="medium", ask=("update",))
    root = ET.fromstring(drawn.documents("moodle-numerical")["quiz-numerical.xml"].encode())
    questions = root.findall("question")[1:]
    for question, a in zip(questions, [a for p in drawn.problems for a in p.answers]):
        assert f"Give it to {a.places} decimal places." in question.find("questiontext/text").text
        right = next(x for x in question.findall("answer") if x.get("fraction") == "100")
        value, tolerance = Rational(right.find("text").text), Rational(right.find("tolerance").text)
        assert tolerance == a.tolerance and abs(value - a.start) > tolerance
        assert abs(Rational(a.rounded) - value) <= tolerance


def test_moodle_feedback_names_the_mistakes():
    """Feedback for wrong answers names missing f'(z), the missing x, the 2, the sign."""
    text = html.unescape(sheet(count=10, seed=2, difficulty="medium",
                               ask=("w", "update")).documents("moodle")["quiz.xml"])
    for phrase in ("derivative f'(z)", "the input the weight multiplies", "factor 2",
                   "flips the sign", "with + instead of -"):
        assert phrase in text


@pytest.mark.parametrize("args, message", [
    (["--count", "0"], "count must be a whole number from 1 to 500"),
    (["--count", "100000"], "count must be a whole number from 1 to 500"),
    (["--activation", "swish"], "unknown activation 'swish'"),
    (["--loss", "hinge"], "unknown loss 'hinge'"),
    (["--ask", "bias"], "unknown asked quantity 'bias'"),
    (["--activation", "sigmoid"], "use --difficulty medium or hard"),
    (["--difficulty", "hard", "--activation", "relu", "--loss", "bce"], "add sigmoid"),
    (["--exact-step", "--batch", "2"], "--exact-step needs one sample"),
    (["--difficulty", "impossible"], "invalid choice"),
])
def test_bad_sheet_input_exit_2_no_files(tmp_path, args, message):
    """Bad sheet input prints one line naming the problem, exits 2 and writes nothing."""
    result = run(sys.executable, "-m", "symgrad", "sheet", *args, "--out", str(tmp_path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_out_folder_is_made_or_refused(tmp_path):
    """A missing --out folder is made; one that cannot be (under a file) is a one-line error."""
    made = tmp_path / "week3"
    assert run(sys.executable, "-m", "symgrad", "sheet", "--count", "1",
               "--out", str(made)).returncode == 0
    assert sorted(p.name for p in made.iterdir()) == ["key.md", "sheet.md"]
    blocker = tmp_path / "file.txt"
    blocker.write_text("")
    result = run(sys.executable, "-m", "symgrad", "sheet", "--out", str(blocker / "x"))
    assert result.returncode == 2 and "cannot write to" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_impossible_conditions_fail_clearly(monkeypatch):
    """Conditions no draw can meet end with a message naming what to relax."""
    from symgrad.assess import sheets
    monkeypatch.setattr(sheets, "MAX_TRIES", 0)
    with pytest.raises(SymgradError, match="could not draw problem 1 .* allow other"):
        sheets.sheet(count=1, seed=1)


def test_cli_writes_both_documents(tmp_path):
    """`symgrad sheet` writes sheet and key into --out and names them."""
    result = run(sys.executable, "-m", "symgrad", "sheet", "--count", "2", "--format", "tex",
                 "--out", str(tmp_path))
    assert result.returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.tex", "sheet.tex"]
    assert re.findall(r"wrote (\S+)", result.stdout) == [str(tmp_path / "sheet.tex"),
                                                         str(tmp_path / "key.tex")]


def test_network_sheets_are_seeded_checked_and_complete(tmp_path):
    """--network 2-2-1 draws networks no neuron of which saturates, is dead or on a kink; the
    key's answers are the record's, and every format renders (tex compiles in test_render)."""
    from symgrad.maths.model import numeric
    drawn = sheet(count=4, seed=3, network="2-2-1", difficulty="medium")
    again = sheet(count=4, seed=3, network="2-2-1", difficulty="medium")
    assert drawn.documents("md") == again.documents("md")
    for p in drawn.problems:
        d = p.derivation
        assert d.is_network and [layer.width for layer in d.network.layers] == [2, 1]
        assert [q.key for q in p.asked][:4] == ["loss", "delta1_1", "delta1_2", "delta2_1"]
        for unit in d.forward[0].units:
            z = float(numeric(unit.z.value))
            name = d.activations[unit.layer - 1].name
            assert abs(z) <= 3 if name in ("sigmoid", "tanh", "gelu", "silu", "elu",
                                           "softsign") else True
            assert z > 0 if name == "relu" else True
        assert all(g.sign != 0 for g in d.gradients)
    md = drawn.documents("md")
    assert "For each network, do one step of backpropagation" in md["sheet.md"]
    assert md["key.md"].count("### 2. Backward pass") == 4
    quiz = drawn.documents("moodle-numerical")["quiz-numerical.xml"]
    assert quiz.count('<question type="numerical">') == sum(len(p.asked) for p in drawn.problems)
    assert drawn.documents("moodle")["quiz.xml"].count('<question type="cloze">') == 4
    data = drawn.to_data()
    assert data["problems"][0]["network"] == [2, 2, 1]


def test_network_sheet_errors():
    """Bad shapes and neuron-only options are one-line errors."""
    for shape in ("2", "2-0-1", "2-9-1", "1-1-1-1-1", "a-b"):
        with pytest.raises(SymgradError, match="inputs-width"):
            sheet(count=1, network=shape)
    with pytest.raises(SymgradError, match="delta"):
        sheet(count=1, ask=("delta",))
    with pytest.raises(SymgradError, match="--inputs and --exact-step"):
        sheet(count=1, network="2-1", exact_step=True)


def test_network_sheet_of_a_batch_gives_every_sample_and_labels_them():
    """A batch network sheet lists each sample's x and y, and asks each sample's δ under its
    own label."""
    drawn = sheet(count=1, seed=5, network="2-2-1", batch=2, difficulty="medium")
    text = drawn.documents("md")["sheet.md"]
    d = drawn.problems[0].derivation
    assert "| sample | $x_{1}$ | $x_{2}$ | $y_{1}$ |" in text
    for s in d.samples:
        assert text.count("| " + str(d.samples.index(s) + 1) + " | ") >= 1
    labels = re.findall(r"^\d+\. \$(.*)\$ = ", text, re.M)
    assert len(labels) == len(set(labels)) and any("(sample 2)" in label for label in labels)


def test_easy_network_sheets_keep_exact_short_decimals():
    """Easy network sheets refuse sigmoid and show only exact decimals of at most 6 places."""
    from symgrad.assess.sheets import decimal_places
    drawn = sheet(count=3, seed=2, network="2-2-1")
    for p in drawn.problems:
        d = p.derivation
        values = [g.value for g in d.gradients] + list(d.updated) + [d.loss_after.value]
        assert all(decimal_places(v) is not None and decimal_places(v) <= 6 for v in values)
    assert "\\approx" not in drawn.documents("md")["key.md"]
    with pytest.raises(SymgradError, match="sigmoid cannot"):
        sheet(count=1, network="2-2-1", activations=("sigmoid",))


def test_batch_sheet_asks_each_prediction_with_its_sample_superscript():
    """A single-neuron batch sheet asks for ŷ^{(2)}, the sample as the worked key writes it."""
    drawn = sheet(count=1, seed=2, batch=2, ask=("prediction", "w"))
    text = drawn.documents("md")["sheet.md"]
    assert r"$\hat{y}^{(2)}$ = " in text and r"\hat{y}_{2}" not in text
    assert r"\hat{y}^{(2)} = " in drawn.documents("md")["key.md"]


def test_student_variants_are_reproducible_and_differ():
    """The same seed and student ID give the same variant; two students get different ones;
    a student's sheet is not the plain sheet of that seed."""
    from symgrad.assess.sheets import class_sheets

    first = class_sheets(["ada", "alan"], count=3, seed=5)
    again = class_sheets(["alan"], count=3, seed=5)
    plain = sheet(count=3, seed=5)
    assert first[1].to_data() == again[0].to_data()
    assert first[0].to_data()["problems"] != first[1].to_data()["problems"]
    assert first[0].to_data()["problems"] != plain.to_data()["problems"]
    assert [s.student for s in first] == ["ada", "alan"]


def test_class_documents_hold_every_student(tmp_path):
    """A class writes a sheet and a key per student, one key with every student's answers
    (as asked, to their places) and class.json with every student's sheet data."""
    from symgrad.assess.sheets import class_sheets, save_class

    sheets = class_sheets(["s1", "s2"], count=2, seed=1)
    paths = save_class(sheets, tmp_path, "md")
    names = sorted(str(p.relative_to(tmp_path)) for p in paths)
    assert names == ["class.json", "key.md", "keys/s1.md", "keys/s2.md", "sheets/s1.md",
                     "sheets/s2.md"]
    key = (tmp_path / "key.md").read_text()
    data = json.loads((tmp_path / "class.json").read_text())
    assert [s["student"] for s in data["students"]] == ["s1", "s2"]
    for one in sheets:
        assert f"## Student {one.student}" in key
        for p in one.problems:
            for a in p.answers:
                assert a.rounded in key
    assert "## Problem 1" not in key  # worked solutions are in each student's own key
    assert "## Problem 1" in (tmp_path / "keys" / "s1.md").read_text()


def test_a_class_is_the_same_for_any_number_of_jobs(tmp_path):
    """symgrad sheet --students writes byte-identical files with --jobs 1 and --jobs 2
    (forked workers, roster order kept), tex and md, and class_files equals
    class_documents of the same students' sheets."""
    from symgrad.assess.sheets import class_documents, class_files, class_sheets

    (tmp_path / "roster.csv").write_text("student\n" + "".join(f"s{i}\n" for i in range(7)))
    written = {}
    for jobs in (1, 2):
        for fmt in ("md", "tex"):
            out = tmp_path / f"{fmt}{jobs}"
            result = run(sys.executable, "-m", "symgrad", "sheet", "--students", "roster.csv",
                         "--count", "2", "--difficulty", "medium", "--format", fmt, "--jobs",
                         str(jobs), "--out", out.name, cwd=tmp_path)
            assert result.returncode == 0, result.stderr
            written[fmt, jobs] = {str(p.relative_to(out)): p.read_bytes()
                                  for p in out.rglob("*") if p.is_file()}
    for fmt in ("md", "tex"):
        assert written[fmt, 1] == written[fmt, 2]
        assert len(written[fmt, 1]) == 2 * 7 + 2
    students = [f"s{i}" for i in range(3)]
    assert class_files(students, count=2, jobs=2) == class_documents(
        class_sheets(students, count=2))


@pytest.mark.parametrize("arguments, message", [
    (["--jobs", "2"], "--jobs is for a class"),
    (["--students", "roster.csv", "--jobs", "0"], "jobs must be"),
    (["--students", "roster.csv", "--jobs", "65"], "jobs must be"),
])
def test_bad_jobs_are_one_line(tmp_path, arguments, message):
    """--jobs without a roster, or out of 1 to 64, is refused in one line (exit 2)."""
    (tmp_path / "roster.csv").write_text("ada\n")
    result = run(sys.executable, "-m", "symgrad", "sheet", *arguments, "--out", "out",
                 cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_student_ids_follow_one_rule_in_rosters_and_answer_sheets():
    """An e-mail-like ID is a student ID for a roster and for symgrad mark alike; one
    starting with '@', '_' or '.' is refused by both."""
    from symgrad.assess.mark import read_answers
    from symgrad.assess.sheets import student_id

    drawn = sheet(count=1, seed=1, ask=("loss",))
    assert student_id("ada@uni.edu") == "ada@uni.edu"
    rows = read_answers("student,problem,loss\nada@uni.edu,1,0.81\n", drawn.problems)
    assert rows[0][0] == "ada@uni.edu"
    for bad in ("@ada", "_ada", ".ada"):
        with pytest.raises(SymgradError, match="1 to 64"):
            student_id(bad)
        with pytest.raises(SymgradError, match="1 to 64"):
            read_answers(f"student,problem,loss\n{bad},1,0.81\n", drawn.problems)


@pytest.mark.parametrize("roster, message", [
    ("student\n", "names no student"),
    ("ada\nada\n", "is in the roster twice"),
    ("../etc\n", "must be 1 to 64 letters"),
    ("a" * 65 + "\n", "must be 1 to 64 letters"),
])
def test_bad_roster_is_one_line_and_writes_nothing(tmp_path, roster, message):
    """A roster with no student, a repeated ID or an ID that cannot name a file is refused
    in one line, exit code 2, and nothing is written."""
    (tmp_path / "roster.csv").write_text(roster)
    result = run(sys.executable, "-m", "symgrad", "sheet", "--students", "roster.csv",
                 "--out", "out", cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


SOFTMAX_SHEET = ("--network", "2-2-3", "--activation", "relu,softmax", "--loss",
                 "cross_entropy", "--count", "1")


def test_cli_softmax_sheet_every_format(tmp_path):
    """symgrad sheet draws a softmax classifier (one-hot targets, the softmax on the output
    layer only) and writes md, tex, moodle and qti."""
    for fmt, names in (("md", ("sheet.md", "key.md")), ("tex", ("sheet.tex", "key.tex")),
                       ("moodle", ("quiz.xml",)), ("qti", ("quiz-qti.zip",))):
        out = run(sys.executable, "-m", "symgrad", "sheet", *SOFTMAX_SHEET, "--format", fmt,
                  "--out", str(tmp_path / fmt))
        assert out.returncode == 0, out.stderr
        assert all((tmp_path / fmt / name).stat().st_size for name in names)
    assert "softmax" in (tmp_path / "md" / "sheet.md").read_text()
    # The Moodle statement says a = f(z) of the ReLU layer only; the softmax has its formula.
    quiz = html.unescape((tmp_path / "moodle" / "quiz.xml").read_text())
    assert (r"\(a^{(l)}_j = f(z^{(l)}_j)\) (layer 1), \(a^{(2)}_{k} = \frac{e^{z^{(2)}_{k}}}"
            r"{\sum_{j=1}^{3} e^{z^{(2)}_{j}}}\) (layer 2)") in quiz
    p = sheet(count=1, network="2-2-3", activations=["relu", "softmax"],
              losses=["cross_entropy"]).problems[0]
    assert [layer.activation for layer in p.derivation.network.layers] == ["relu", "softmax"]
    assert sorted(p.derivation.samples[0].targets) == [0, 0, 1]


@pytest.mark.parametrize("options, message", [
    ({"network": "2-2-1", "activations": ["relu", "softmax"], "losses": ["cross_entropy"]},
     "softmax needs an output layer of at least 2 neurons"),
    ({"activations": ["softmax"], "losses": ["cross_entropy"]}, "at least 2 neurons"),
    ({"network": "2-2-3", "activations": ["relu"], "losses": ["cross_entropy"]},
     "cross_entropy needs a softmax output layer"),
    ({"network": "2-2-3", "activations": ["relu", "softmax"], "losses": ["squared"]},
     "draws softmax with cross_entropy"),
    ({"network": "2-2-3", "activations": ["softmax"], "losses": ["cross_entropy"]},
     "add an activation for the hidden layers"),
])
def test_softmax_sheet_refusals(options, message):
    """A softmax on a width-1 output, cross-entropy without softmax, softmax without
    cross-entropy or with no hidden activation: one-line errors."""
    with pytest.raises(SymgradError, match=message) as error:
        sheet(count=1, **options)
    assert "\n" not in str(error.value)


OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")
TRAINING_ASK = ("loss", "J", "w", "dJ", "state", "update")


def _training_sheet(name: str, count: int, seed: int):
    """A sheet of ``count`` problems stepped by optimizer ``name``: with an L2 penalty
    (none for adamw, which decays itself; the biases too for rmsprop), asking everything."""
    l2 = None if name == "adamw" else "0.1"
    ask = [k for k in TRAINING_ASK if (l2 or k not in ("J", "dJ"))
           and (name != "sgd" or k != "state")]
    return sheet(count=count, seed=seed, optimizer=name, l2=l2 or 0, l2_biases=name == "rmsprop",
                 difficulty="medium" if name in ("rmsprop", "adam", "adamw") else "easy", ask=ask)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_sheets_pass_their_self_test(name):
    """Over 40 problems an optimizer: every part passes its self-test (the model answer
    accepted; 0 for a state or ∂J/∂p, and each mistake of the step refused and traced);
    the state, J and ∂J/∂p are asked; easy sheets keep every value a short decimal (the
    step's at most 4 places);
    sheet.json carries the optimizer and the penalty, and Moodle and QTI exports mark it."""
    drawn = _training_sheet(name, 40, 21)
    kinds, names = set(), set()
    for p in drawn.problems:
        assert p.self_test.passed and p.derivation.optimizer.name == name
        for a in p.answers:
            kinds.add(a.quantity.kind)
            names |= {m.name for m in a.mistakes}
            assert not a.accepts(a.start) if a.start is not None else True
            if drawn.difficulty == "easy":  # the step's numbers: one place more
                step = a.quantity.kind in ("objective", "objective_gradient", "state",
                                           "update", "loss_after")
                assert decimal_places(a.quantity.value) <= 3 + step, (p.number, a.quantity.key)
    assert {"update", "gradient"} | ({"state"} if name != "sgd" else set()) | (
        {"objective", "objective_gradient"} if name != "adamw" else set()) <= kinds
    expected = {"sgd": "l2_without_half", "momentum": "l2_forgotten",
                "nesterov": "velocity_unused", "rmsprop": "divided_by_v",
                "adam": "no_bias_correction", "adamw": "decay_as_l2"}[name]
    assert expected in names
    data = json.loads(drawn.to_json())["problems"][0]
    assert (data.get("optimizer") or {"name": "sgd"})["name"] == name
    assert ("l2" in data) == (name != "adamw")
    assert "optimizer" not in json.loads(sheet(count=1).to_json())["problems"][0]
    # Moodle and Canvas can mark every part (none asked past a double's digits).
    assert drawn.documents("moodle")["quiz.xml"] and drawn.documents("qti")["quiz-qti.zip"]


def test_optimizer_sheet_states_the_rule_and_penalty_in_every_format():
    """A Nesterov sheet with L2 states the rule and λ in md, tex, Moodle and QTI; a plain
    sheet says nothing of an optimizer."""
    drawn = sheet(count=2, seed=3, optimizer="nesterov", l2="0.1", ask=("J", "state"))
    assert "Nesterov momentum keeps" in drawn.documents("md")["sheet.md"]
    assert r"\lambda = 0.1" in drawn.documents("tex")["sheet.tex"]
    quiz = html.unescape(drawn.documents("moodle")["quiz.xml"])
    assert "the optimizer nesterov" in quiz and r"\(\mu = 0.9\)" in quiz
    assert r"\(v_{w,1}\)" in quiz and "the L2 penalty left out" in quiz
    assert "optimizer" not in sheet(count=2, seed=3).documents("md")["sheet.md"]


@pytest.mark.parametrize("flags, message", [
    ("--optimizer adam", "easy problems keep every value a short decimal, which adam's"),
    ("--optimizer momentum --exact-step", "--exact-step picks α so that plain gradient"),
    ("--l2 0.1 --exact-step", "--exact-step picks α so that plain gradient"),
    ("--optimizer adamw --l2 0.1 --difficulty medium", "adamw already decays the weights"),
    ("--l2 -0.1", "the L2 strength λ must not be negative"),
    ("--l2-biases", "--l2-biases penalises the biases too: give the penalty --l2"),
    ("--ask J,loss", "J and dJ (the loss with its penalty and its gradients) are asked"),
    ("--ask state --l2 0.1", "state (the optimizer's v, m, ...) is asked with an optimizer"),
])
def test_optimizer_sheet_refusals_are_one_line(tmp_path, capsys, flags, message):
    """What makes no sense on a sheet is refused in one line naming it (exit 2)."""
    from symgrad.cli import main

    assert main(["sheet", "--count", "1", "--out", str(tmp_path / "s"), *flags.split()]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error and not (tmp_path / "s").exists()
