"""Tests of follow-through marking: symgrad.mark over drawn problems and `symgrad mark`."""

import csv
import json

import pytest
from sympy import Rational

from symgrad import mark, sheet
from symgrad.assess.answers import fixed
from symgrad.assess.mark import problems_from_json
from symgrad.cli import main
from symgrad.errors import SymgradError
from symgrad.maths.quantities import MISTAKES, depends_on, quantities, recompute

ASK = ["prediction", "loss", "w", "update"]


@pytest.fixture(scope="module", params=["easy", "medium", "hard"])
def problems(request):
    """200 drawn single-neuron problems of one difficulty."""
    # One input and one sample, so that the scripted answer sets below name dL/dw, w_new.
    return sheet(count=200, seed=13, difficulty=request.param, ask=ASK, inputs=1,
                 batch=1).problems


def _model(problem):
    return {a.quantity.key: a.rounded for a in problem.answers}


def _wrong_prediction(problem):
    """A scripted answer set: ŷ off by a clear amount, every later part worked from it
    exactly and rounded as asked (the new w from the learner's own rounded gradient)."""
    d, by_key = problem.derivation, {a.quantity.key: a for a in problem.answers}
    y = d.samples[0].y
    for offset in ("0.5", "-0.5", "0.25", "-0.25", "0.1", "-0.1"):
        guess = Rational(by_key["prediction"].rounded) + Rational(offset)
        if abs(guess - y) < Rational(1, 10) or by_key["prediction"].accepts(guess):
            continue
        given = {"prediction": fixed(guess, by_key["prediction"].places)}
        for key in ("loss", "dL/dw"):
            value = recompute(d, key, {"prediction": Rational(given["prediction"])})
            if value is None or by_key[key].near(value, 0):
                break
            given[key] = fixed(value, by_key[key].places)
        else:
            for a in problem.answers:
                if a.quantity.kind == "update":
                    depends = f"dL/d{a.quantity.key[:-4]}"
                    given[a.quantity.key] = (fixed(recompute(d, a.quantity.key, {
                        depends: Rational(given[depends])}), a.places)
                        if depends in given else a.rounded)
            return given
    return None


def test_model_answers_get_full_marks(problems):
    """Each problem's own rounded answers earn every mark, all of them correct."""
    for p in problems:
        m = mark(p, _model(p))
        assert m.score == m.max_score == len(p.answers)
        assert {part.status for part in m.parts} == {"correct"}


def test_blank_answers_get_nothing(problems):
    """A blank answer set (no keys, or empty texts) earns no marks."""
    for p in problems:
        for given in ({}, {a.quantity.key: " " for a in p.answers}):
            m = mark(p, given)
            assert m.score == 0 and {part.status for part in m.parts} == {"blank"}


def test_wrong_prediction_carries_forward(problems):
    """A wrong ŷ scores 0 and the loss, gradient and update worked from it are carried
    forward (or correct, when they happen to agree with the true values)."""
    carried = 0
    for p in problems:
        given = _wrong_prediction(p)
        assert given is not None, p.number
        m = mark(p, given)
        parts = {part.key: part for part in m.parts}
        assert parts["prediction"].status == "wrong" and parts["prediction"].score == 0
        for a in p.answers[1:]:
            part, value = parts[a.quantity.key], given[a.quantity.key]
            trivial = a.start is not None and a.near(value, a.start)
            if trivial:  # a step too small to see at the asked places is not credited
                assert part.status == "wrong" and "no credit" in part.feedback, part
                continue
            assert part.status in ("correct", "carried_forward") and part.score == 1, (
                p.number, part)
            if a.accepts(value) or a.quantity.key == "b_new":  # dL/db was not asked
                assert part.status == "correct"
            carried += part.status == "carried_forward"
    assert carried >= len(problems)  # most later parts really were carried


def test_gaming_answers_earn_no_carry_forward(problems):
    """ŷ = y with L = 0 and a zero gradient, or a zero gradient with an unchanged w, earn
    nothing after the prediction."""
    for p in problems:
        d = p.derivation
        w, b = (str(v) for v in d.parameters)
        at_target = {"prediction": str(d.samples[0].y), "loss": "0", "dL/dw": "0",
                     "w_new": w, "b_new": b}
        unchanged = _model(p) | {"dL/dw": "0", "w_new": w}
        for given in (at_target, unchanged):
            m = mark(p, given)
            for part in m.parts:
                if given[part.key] != _model(p)[part.key]:
                    assert part.status == "wrong" and part.score == 0, (p.number, part)
        parts = {part.key: part for part in mark(p, unchanged).parts}
        assert "no credit carried forward" in parts["w_new"].feedback


def test_mistakes_are_tagged(problems):
    """The value of each known mistake, rounded as asked, scores 0 and is tagged with it."""
    tagged = 0
    for p in problems:
        for a in p.answers:
            for mistake in a.mistakes:
                part = mark(p, {a.quantity.key: fixed(mistake.value, a.places)}).parts[
                    p.answers.index(a)]
                assert part.status == "wrong" and part.score == 0
                assert mistake.name in part.mistakes
                tagged += 1
    assert tagged > 0


def test_unreadable_and_unknown_answers():
    """Text that is not a number scores 0 with feedback; a key not asked is refused."""
    p = sheet(count=1, seed=1, ask=ASK).problems[0]
    part = mark(p, {"loss": "1,5"}).parts[1]
    assert part.status == "unreadable" and part.score == 0 and "could not read" in part.feedback
    # A decimal comma is named as one, not as "a tuple", and no empty list of names.
    assert part.feedback == ("could not read '1,5': write decimals with a point (1.5) and "
                             "no thousands separators")
    # An answer is a number: a formula would have the reader work out the sum asked for.
    for text in ("[0.81]", "0.9**2", "tanh(0.65)", "1,000.5"):
        part = mark(p, {"loss": text}).parts[1]
        assert part.status == "unreadable" and part.feedback == (
            f"could not read {text!r}: write a number, such as -0.25, 1.5e-3 or 3/4; a "
            "formula is not an answer here"), part
    assert mark(p, {"loss": "1/0"}).parts[1].feedback == ("could not read '1/0': the "
                                                         "fraction divides by zero")
    # A decimal, a fraction, a typeset minus and a space after the sign are numbers.
    model = _model(p)
    for prediction in (model["prediction"], "29/10", "29 / 10", f" {model['prediction']} "):
        assert mark(p, {"prediction": prediction}).parts[0].status == "correct"
    flipped = fixed(-p.answers[2].quantity.value, p.answers[2].places)
    for text in (f"-{flipped}", f"\u2212{flipped}", f"- {flipped}"):
        assert mark(p, {"dL/dw": text}).parts[2].status == "correct", text
    assert mark(p, {"loss": "__import__('os')"}).parts[1].status == "unreadable"
    with pytest.raises(ValueError, match="does not ask for 'dL/db'"):
        mark(p, {"dL/db": "1"})


def test_carry_forward_share_and_batch():
    """A carried part earns the share asked for; in a batch the loss follows every ŷ."""
    s = sheet(count=1, seed=2, difficulty="medium", inputs=1, batch=2, ask=["prediction", "loss"])
    p = s.problems[0]
    d = p.derivation
    guess = Rational(p.answers[0].rounded) + Rational("0.5")
    loss = recompute(d, "loss", {"prediction1": guess})
    given = {"prediction1": str(guess), "prediction2": p.answers[1].rounded,
             "loss": fixed(loss, p.answers[2].places)}
    m = mark(p, given, carry_forward=0.5)
    assert [part.status for part in m.parts] == ["wrong", "correct", "carried_forward"]
    assert m.score == 1.5
    assert m.parts[2].feedback.endswith(": credit carried forward")
    # With no share carried, the feedback does not speak of credit it does not give.
    part = mark(p, given, carry_forward=0).parts[2]
    assert (part.status, part.score) == ("carried_forward", 0)
    assert part.feedback.endswith(", but this sheet carries no credit forward")


def test_a_refusal_is_given_only_for_what_follows():
    """"No credit carried forward: your prediction is the target y" is said of a later part
    only when it does follow from that prediction (L = 0 for ŷ = y); a later part that
    does not follow is wrong, and its known mistake is named (the sign flipped)."""
    p = sheet(count=1, seed=1, ask=ASK).problems[0]
    d, model = p.derivation, _model(p)
    y = str(d.samples[0].y)
    flipped = fixed(-p.answers[2].quantity.value, p.answers[2].places)
    parts = {part.key: part for part in mark(p, {"prediction": y, "loss": "0",
                                                 "dL/dw": flipped}).parts}
    assert parts["loss"].feedback == f"no credit carried forward: your prediction = {y} is " \
                                     "the target y"
    assert parts["dL/dw"].feedback == "wrong: " + MISTAKES["flipped_sign"]
    assert parts["dL/dw"].mistakes == ("flipped_sign",) and parts["dL/dw"].score == 0
    assert mark(p, {"prediction": y, "loss": "7"}).parts[1].feedback == "wrong"
    assert model["loss"] != "7"


def test_answers_to_many_places_are_read_exactly():
    """A sheet asking for 17 or more digits is marked on the digits as written, not on
    Python's float of them (about 16 digits): its own model answers are all correct."""
    s = sheet(count=3, seed=4, difficulty="medium", digits=17, ask=["prediction", "loss", "w"])
    places = [a.places for p in s.problems for a in p.answers]
    assert max(places) >= 17
    for p in s.problems:
        assert [part.status for part in mark(p, _model(p)).parts] == ["correct"] * len(
            p.answers)


def _class(tmp_path):
    s = sheet(count=2, seed=1, ask=ASK)
    (tmp_path / "sheet.json").write_text(s.to_json())
    return s


def test_cli_marks_a_class(tmp_path, capsys):
    """`symgrad mark` writes marks.csv, summary.md with shares of the class and a
    Gradescope results.json per student."""
    s = _class(tmp_path)
    p = s.problems[0]
    model = _model(p)
    wrong_input = next(m for m in p.answers[2].mistakes if m.name == "missing_input")
    rows = [["ada", 1, *model.values()], ["bo", 1, *model.values()],
            ["cy", 1, model["prediction"], model["loss"], fixed(wrong_input.value, 3), "", ""],
            ["dee", 1, "", "", "", "", ""]]
    with open(tmp_path / "answers.csv", "w", newline="") as f:
        csv.writer(f).writerows([["student", "problem", *model], *rows])
    out = tmp_path / "out"
    assert main(["mark", "--sheet", str(tmp_path / "sheet.json"), "--answers",
                 str(tmp_path / "answers.csv"), "--out", str(out)]) == 0
    assert "4 students" in capsys.readouterr().out
    marks = list(csv.DictReader(open(out / "marks.csv")))
    assert len(marks) == 4 * len(model)
    summary = (out / "summary.md").read_text()
    assert "| 1.3 | dL/dw | 4 | 50% | 0% | 25% | 25% |" in summary
    assert "- 25% missing_input in 1.3: " in summary
    result = json.loads((out / "gradescope" / "cy" / "results.json").read_text())
    assert result["score"] == 2 and len(result["tests"]) == len(model)
    assert {"name", "score", "max_score", "output"} <= set(result["tests"][2])
    assert result["tests"][2]["score"] == 0 and result["tests"][2]["max_score"] == 1
    # Marking another answers file into the same folder would leave bo's, cy's and dee's
    # results beside ada's new one, as if they were this class's: refused, nothing written.
    (tmp_path / "ada.csv").write_text(f"student,problem,loss\nada,1,{model['loss']}\n")
    before = (out / "marks.csv").read_text()
    capsys.readouterr()
    assert main(["mark", "--sheet", str(tmp_path / "sheet.json"), "--answers",
                 str(tmp_path / "ada.csv"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "holds results of students not in this answers file (bo, cy, dee)" in err
    assert err.count("\n") == 1 and (out / "marks.csv").read_text() == before


@pytest.mark.parametrize("answers, message", [
    ("student,problem,loss\nada,3,1\n", "problem '3' is not on the sheet"),
    ("name,loss\nada,1\n", "header row student,problem"),
    ("student,problem,dL/dq\nada,1,1\n", "column 'dL/dq'"),
    ("student,problem,loss\nada,1,1\nada,1,2\n", "a second time"),
    ("student,problem,loss\n../x,1,1\n", "student ID"),
    ("student,problem,loss\nAda,1,1\nada,2,1\n", "students 'Ada' and 'ada' differ only in case"),
])
def test_cli_bad_answers_exit_2_no_files(tmp_path, capsys, answers, message):
    """A bad answers CSV is one line on stderr, exit code 2, and nothing is written."""
    _class(tmp_path)
    (tmp_path / "answers.csv").write_text(answers)
    out = tmp_path / "out"
    assert main(["mark", "--sheet", str(tmp_path / "sheet.json"), "--answers",
                 str(tmp_path / "answers.csv"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_cli_sheet_that_does_not_match(tmp_path, capsys):
    """A sheet.json whose answers this symgrad rounds otherwise, or that is no sheet, is
    refused in one line."""
    s = _class(tmp_path)
    data = s.to_data()
    data["problems"][0]["answers"][1]["rounded"] = "9.999"
    (tmp_path / "edited.json").write_text(json.dumps(data))
    (tmp_path / "answers.csv").write_text("student,problem,loss\nada,1,1\n")
    for name, message in (("edited.json", "sheet.json does not match this symgrad"),
                          ("answers.csv", "sheet.json is not a symgrad sheet")):
        assert main(["mark", "--sheet", str(tmp_path / name), "--answers",
                     str(tmp_path / "answers.csv"), "--out", str(tmp_path / "out")]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# Words of the English feedback and summary that a German one must not hold.
ENGLISH = ("correct", "wrong", "blank", "carried forward", "credit", "your ", "answer",
           "students", "mean score", "Mistakes", "quantity", "the chain", "used instead",
           "could not read", "decimals")


def test_feedback_and_summary_in_the_sheets_language(tmp_path, capsys):
    """A German sheet is marked in German: sheet.json records its language, `symgrad mark`
    gives every feedback line, the summary and the Gradescope output in it (the names of
    quantities and mistakes stay as the CSV writes them), and --lang en marks it in
    English; a file from before sheet.json recorded a language is marked in English."""
    s = sheet(count=2, seed=1, ask=ASK, lang="de")
    data = s.to_data()
    assert data["lang"] == "de"
    (tmp_path / "sheet.json").write_text(s.to_json())
    p = s.problems[0]
    model = _model(p)
    wrong_input = next(m for m in p.answers[2].mistakes if m.name == "missing_input")
    target = str(p.derivation.samples[0].y)
    rows = [["ada", 1, *model.values()],
            ["bo", 1, target, "0", "0", model["w_new"], "1,26"],
            ["cy", 1, model["prediction"], model["loss"], fixed(wrong_input.value, 3), "", "x"]]
    with open(tmp_path / "answers.csv", "w", newline="") as f:
        csv.writer(f).writerows([["student", "problem", *model], *rows])
    marked = {}
    for lang in (None, "en"):
        out = tmp_path / f"out-{lang}"
        assert main(["mark", "--sheet", str(tmp_path / "sheet.json"), "--answers",
                     str(tmp_path / "answers.csv"), "--out", str(out)]
                    + (["--lang", lang] if lang else [])) == 0
        marked[lang] = ({(r["student"], r["quantity"]): r["feedback"]
                         for r in csv.DictReader(open(out / "marks.csv"))},
                        (out / "summary.md").read_text(),
                        json.loads((out / "gradescope" / "bo" / "results.json").read_text()))
    feedback, summary, result = marked[None]
    assert feedback[("ada", "loss")] == "richtig"
    assert feedback[("bo", "loss")] == ("keine Folgepunkte: Ihre Antwort prediction = "
                                        f"{target} ist das Ziel y")
    assert feedback[("bo", "b_new")] == ("'1,26' ist nicht lesbar: Dezimalzahlen mit Punkt "
                                         "schreiben (1.26), ohne Tausendertrennzeichen")
    # x = 2 here: without x and without the square's 2 give the same number.
    assert feedback[("cy", "dL/dw")] == ("falsch: die Kette ohne dz/dw = x, die Eingabe, "
                                         "mit der das Gewicht multipliziert wird; oder die "
                                         "Ableitung des Quadrats ohne ihren Faktor 2")
    assert feedback[("cy", "w_new")] == "keine Antwort"
    assert "| Teil | Größe | Studierende | richtig | Folgepunkte | falsch |" in summary
    assert "3 Personen; mittlere Punktzahl" in summary
    assert "- 33% missing_input in 1.3: die Kette ohne dz/dw = x" in summary
    assert result["tests"][1]["output"].startswith("Ihre Antwort: 0; keine Folgepunkte")
    assert feedback[("cy", "b_new")] == ("'x' ist nicht lesbar: eine Zahl schreiben, etwa "
                                         "-0.25, 1.5e-3 oder 3/4; eine Formel ist hier keine "
                                         "Antwort")
    for text in [*feedback.values(), summary, *(t["output"] for t in result["tests"])]:
        english = [word for word in ENGLISH if word in text.replace("'x'", "")]
        assert not english, (english, text)
    feedback, summary, result = marked["en"]
    assert feedback[("bo", "loss")] == ("no credit carried forward: your prediction = "
                                        f"{target} is the target y")
    assert "| part | quantity | students | correct |" in summary
    data.pop("lang")
    (tmp_path / "old.json").write_text(json.dumps(data))
    assert main(["mark", "--sheet", str(tmp_path / "old.json"), "--answers",
                 str(tmp_path / "answers.csv"), "--out", str(tmp_path / "old")]) == 0
    assert "| part | quantity |" in (tmp_path / "old" / "summary.md").read_text()
    capsys.readouterr()
    data["lang"] = "xx"
    (tmp_path / "bad.json").write_text(json.dumps(data))
    assert main(["mark", "--sheet", str(tmp_path / "bad.json"), "--answers",
                 str(tmp_path / "answers.csv"), "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "language 'xx'" in err and "en, de" in err and err.count("\n") == 1
    assert not (tmp_path / "bad").exists()


def _edited(data, change):
    data = json.loads(json.dumps(data))
    change(data)
    return json.dumps(data)


def _class_json(s):
    return {"symgrad": "x", "students": [{**s.to_data(), "student": "ada"}]}


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["problems"][0].update(number="1"), "a problem's number is '1'"),
    (lambda d: d["problems"][1].update(number=1), "two problems numbered 1"),
    (lambda d: d["problems"][0]["answers"].append(d["problems"][0]["answers"][1]),
     "problem 1 asks for 'loss' twice"),
    (lambda d: d.update(problems=[]), "sheet.json has no problems"),
    (lambda d: d["problems"][0].update(answers=[]), "problem 1 asks for nothing"),
    (None, "nested too deeply"),
])
def test_cli_hand_edited_sheet_is_refused(tmp_path, capsys, edit, message):
    """A sheet.json edited so that an answer would be marked against another problem's,
    counted twice, or that cannot be read is one line on stderr, exit 2, nothing written."""
    s = _class(tmp_path)
    text = "[" * 100_000 + "]" * 100_000 if edit is None else _edited(s.to_data(), edit)
    (tmp_path / "edited.json").write_text(text)
    model = _model(s.problems[0])
    (tmp_path / "answers.csv").write_text(f"student,problem,loss\nada,1,{model['loss']}\n")
    assert main(["mark", "--sheet", str(tmp_path / "edited.json"), "--answers",
                 str(tmp_path / "answers.csv"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["students"][0].update(student=None), "student ID 'None'"),
    (lambda d: d["students"].append(d["students"][0]), "lists student 'ada' twice"),
    (lambda d: d["students"][0].update(problems=[]), "class.json (ada) has no problems"),
    (lambda d: d.update(students=[]), "class.json has no students"),
])
def test_cli_hand_edited_class_is_refused(tmp_path, capsys, edit, message):
    """A class.json whose students cannot be told apart (a student without an ID would
    make its problems everyone's) or hold nothing is refused in one line."""
    s = _class(tmp_path)
    (tmp_path / "class.json").write_text(_edited(_class_json(s), edit))
    (tmp_path / "answers.csv").write_text("student,problem,loss\nbob,1,1\n")
    assert main(["mark", "--sheet", str(tmp_path / "class.json"), "--answers",
                 str(tmp_path / "answers.csv"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


NETWORK_ASK = ["prediction", "loss", "delta", "w", "update"]


@pytest.fixture(scope="module", params=["2-2-1", "2-2-2"])
def network_problems(request):
    """Drawn network problems (read back from JSON, as symgrad mark reads them)."""
    drawn = sheet(count=25, seed=7, network=request.param, difficulty="medium",
                  ask=NETWORK_ASK)
    return problems_from_json(drawn.to_json())


def _worked_from(problem, wrong: dict, through_output=False):
    """A scripted answer set: the ``wrong`` answers, then every other part worked exactly
    from them (backpropagation again, with f' through the outputs when asked) and rounded
    as asked, in an order a learner can work them."""
    from symgrad.assess.mark import _Chains, _worked_order

    d, given = problem.derivation, dict(wrong)
    asked = {a.quantity.key for a in problem.answers}
    for a in _worked_order(_Chains(d, asked), problem.answers):
        key = a.quantity.key
        if key in given:
            continue
        value = recompute(d, key, {k: Rational(v) for k, v in given.items()},
                          through_output=through_output)
        if value is None:
            return None  # the wrong answers leave this undefined (a log of a negative)
        given[key] = fixed(value, a.places)
    return given


def test_network_model_answers_get_full_marks(network_problems):
    """A network's own rounded answers earn every mark, all correct; a blank set none."""
    for p in network_problems:
        m = mark(p, _model(p))
        assert m.score == len(p.answers) and {part.status for part in m.parts} == {"correct"}
        assert mark(p, {}).score == 0


@pytest.mark.parametrize("through_output", [False, True])
def test_a_wrong_network_output_carries_forward(network_problems, through_output):
    """A wrong output a2_1 scores 0; the loss, every δ, gradient and update worked from it
    (f' from z, or through the learner's own output as a(1 - a)) are carried forward or
    correct, unless that work leaves a value trivial (no credit then)."""
    carried = 0
    for p in network_problems:
        output = next(a for a in p.answers if a.quantity.key.startswith("a2_1"))
        target = p.derivation.samples[0].targets[0]
        given = next(filter(None, (
            _worked_from(p, {output.quantity.key: fixed(guess, output.places)},
                         through_output)
            for guess in (Rational(output.rounded) + Rational(o)
                          for o in ("0.2", "-0.2", "0.3", "-0.3"))
            if abs(guess - target) > Rational(1, 10))))
        parts = {part.key: part for part in mark(p, given).parts}
        assert parts[output.quantity.key].status == "wrong"
        for a in p.answers:
            part = parts[a.quantity.key]
            if a is output or a.quantity.kind == "activation" and a.quantity.key[1] == "1":
                continue  # hidden outputs do not depend on the output
            if part.status == "wrong":
                assert "no credit carried forward" in part.feedback, (p.number, part)
                continue
            assert part.score == 1, (p.number, part)
            carried += part.status == "carried_forward"
    assert carried >= 3 * len(network_problems)


def test_a_wrong_output_delta_carries_into_the_hidden_layer(network_problems):
    """A wrong output δ (its sign flipped) scores 0 and is tagged; the hidden δ and the
    gradients worked from it are carried forward, though they are marked after it only
    because they depend on it (the parts come back in the order asked)."""
    for p in network_problems:
        delta = next(a for a in p.answers if a.quantity.key.startswith("delta2_1"))
        given = _worked_from(p, {delta.quantity.key: fixed(-delta.quantity.value,
                                                           delta.places)})
        m = mark(p, given)
        assert [part.key for part in m.parts] == [a.quantity.key for a in p.answers]
        parts = {part.key: part for part in m.parts}
        assert parts[delta.quantity.key].status == "wrong"
        assert "flipped_sign" in parts[delta.quantity.key].mistakes
        hidden = [k for k in parts if k.startswith("delta1_")]
        assert any(parts[k].status == "carried_forward" for k in hidden), p.number


def test_a_new_bias_follows_through_a_gradient_not_asked(network_problems):
    """∂L/∂b is not asked (only w's gradients are): a new b worked from the learner's own
    wrong ŷ (a neuron) or wrong output δ (a network), through the gradient the learner
    worked without writing it, is carried forward all the same."""
    carried = 0
    neurons = sheet(count=20, seed=5, ask=ASK, inputs=1, batch=1).problems
    for p in (*neurons, *network_problems):
        d, asked = p.derivation, {a.quantity.key: a for a in p.answers}
        if d.is_network:
            delta = next(a for a in p.answers if a.quantity.key.startswith("delta2_1"))
            given = _worked_from(p, {delta.quantity.key: fixed(-delta.quantity.value,
                                                               delta.places)})
            wrong = {k: Rational(v) for k, v in given.items() if k.startswith(("a", "delta"))}
        else:
            given = _wrong_prediction(p)
            wrong = {"prediction": Rational(given["prediction"])}
        if given is None:
            continue
        for key in [k for k in asked if k.startswith("b") and k.endswith("_new")]:
            gradient = recompute(d, f"dL/d{key[:-4]}", wrong)
            value = recompute(d, key, {f"dL/d{key[:-4]}": gradient})
            given[key] = fixed(value, asked[key].places)
            part = next(part for part in mark(p, given).parts if part.key == key)
            if asked[key].start is None or not asked[key].near(value, asked[key].start):
                # Correct when it is, or follows from right answers as rounded (a network's
                # other output δ); else carried forward from the wrong ones.
                assert part.status in ("correct", "carried_forward") and part.score == 1, (
                    p.number, key, part)
                carried += part.status == "carried_forward"
    assert carried >= 20


def test_chains_are_worked_once_per_quantity(monkeypatch):
    """Marking a deep network walks its chains once per quantity: the paths through the
    quantities not asked multiply with depth (a 4-4-4-4 sheet took 50 s a student), so
    each quantity's dependencies are asked for once per marking, not once per path."""
    import symgrad.assess.mark as marking
    p = sheet(count=1, seed=3, network="4-4-4-4", difficulty="medium",
              ask=["prediction", "w", "update"]).problems[0]
    given = _model(p)
    first = next(iter(given))
    given[first] = str(Rational(given[first]) + Rational(1, 10))  # a wrong output
    asked = []
    monkeypatch.setattr(marking, "depends_on", lambda d, key: asked.append(key) or
                        depends_on(d, key))
    m = mark(p, given)
    assert m.parts[0].status == "wrong" and m.score == len(p.answers) - 1
    assert len(asked) == len(set(asked)) <= len(quantities(p.derivation))


@pytest.fixture(scope="module")
def softmax_problems():
    """50 drawn softmax classifiers (2-2-3, relu then softmax, cross-entropy); the first
    two read back from JSON, as symgrad mark reads them."""
    drawn = sheet(count=50, seed=11, network="2-2-3", activations=["relu", "softmax"],
                  losses=["cross_entropy"], ask=["prediction", "loss", "delta", "w"])
    first = problems_from_json(json.dumps(drawn.to_data() | {
        "problems": drawn.to_data()["problems"][:2]}))
    return first + drawn.problems[2:]


def test_softmax_sheet_answers_are_marked(softmax_problems):
    """Over 50 softmax problems: the model answers earn full marks; the first part each
    mistake is listed for, answered with that mistake's value, scores 0 and is tagged with
    it (softmax_diagonal_only and one_hot_shifted among them); the starting value 0 of
    every δ and gradient is refused."""
    tagged = set()
    for p in softmax_problems:
        model = _model(p)
        m = mark(p, model)
        assert m.score == m.max_score == len(p.answers) and p.self_test.passed
        first = {}
        for a in p.answers:
            for mistake in a.mistakes:
                first.setdefault(mistake.name, (a, mistake))
            if a.start is not None:
                assert not a.accepts(fixed(a.start, a.places)), (p.number, a.quantity.key)
        for name, (a, mistake) in first.items():
            part = next(part for part in mark(p, model | {
                a.quantity.key: fixed(mistake.value, a.places)}).parts
                if part.key == a.quantity.key)
            assert part.status == "wrong" and name in part.mistakes, (p.number, name, part)
            tagged.add(name)
    assert {"softmax_diagonal_only", "one_hot_shifted", "flipped_sign",
            "z_for_prediction"} <= tagged


def test_a_wrong_softmax_output_carries_forward(softmax_problems):
    """A wrong probability a2_1 scores 0; the loss, each δ (through the Jacobian at the
    learner's own probabilities) and the gradients worked from it are carried forward."""
    carried = 0
    for p in softmax_problems:
        output = next(a for a in p.answers if a.quantity.key == "a2_1")
        guess = Rational(output.rounded) + Rational("0.1" if Rational(output.rounded) < Rational(
            1, 2) else "-0.1")
        given = _worked_from(p, {"a2_1": fixed(guess, output.places)})
        parts = {part.key: part for part in mark(p, given).parts}
        assert parts["a2_1"].status == "wrong"
        assert parts["loss"].score == 1 and parts["delta2_1"].score == 1, p.number
        for a in p.answers:
            part = parts[a.quantity.key]
            if a is not output and part.status == "wrong":
                assert "no credit carried forward" in part.feedback, (p.number, part)
            carried += part.status == "carried_forward"
    assert carried >= 3 * len(softmax_problems)


def test_network_gaming_earns_no_carry_forward(network_problems):
    """Outputs equal to their targets with every δ 0 (so every gradient is 0 and nothing
    moves) earn nothing after the outputs."""
    for p in network_problems:
        d = p.derivation
        given = {}
        for a in p.answers:
            q = a.quantity
            if q.kind == "activation" and q.key.startswith("a2_"):
                given[q.key] = str(d.samples[0].targets[int(q.key[3]) - 1])
            elif q.kind in ("delta", "gradient", "loss"):
                given[q.key] = "0"
            elif q.kind == "update":
                given[q.key] = str(d.parameters[d.parameter_symbols.index(q.symbol)])
        for part in mark(p, given).parts:
            if given.get(part.key) is not None and not by_accepts(p, part.key, given):
                assert part.status == "wrong" and part.score == 0, (p.number, part)


def by_accepts(problem, key, given):
    return next(a for a in problem.answers if a.quantity.key == key).accepts(given[key])


def test_a_sigmoid_gradient_through_the_learners_prediction_carries_forward():
    """A wrong ŷ of a sigmoid neuron, then dL/dw worked with f' = ŷ(1 − ŷ) at that ŷ (as
    the lesson writes σ'), is carried forward, as the gradient with σ'(z) is."""
    drawn = sheet(count=40, seed=3, difficulty="medium", activations=["sigmoid"],
                  ask=["prediction", "loss", "w"], inputs=1, batch=1)
    for p in drawn.problems:
        prediction = p.answers[0]
        guess = Rational(prediction.rounded) + (Rational("0.2") if Rational(
            prediction.rounded) < Rational("0.5") else Rational("-0.2"))
        if abs(guess - p.derivation.samples[0].y) < Rational(1, 10):
            continue
        given = _worked_from(p, {"prediction": fixed(guess, prediction.places)},
                             through_output=True)
        parts = {part.key: part for part in mark(p, given).parts}
        assert parts["dL/dw"].status in ("carried_forward", "correct"), (p.number, parts)


def test_a_class_is_marked_against_each_students_own_variant(tmp_path):
    """With class.json (symgrad sheet --students), each row is marked against that
    student's own problems: model answers of each variant score full marks, and a
    student who is not in the class is refused in one line."""
    from symgrad.assess.mark import class_from_json, mark_class, read_answers
    from symgrad.assess.sheets import class_sheets, class_documents

    text = class_documents(class_sheets(["ada", "alan"], count=2, seed=4), "md")["class.json"]
    problems = class_from_json(text)
    assert set(problems) == {"ada", "alan"}
    keys = [a.quantity.key for a in problems["ada"][0].answers]
    lines = ["student,problem," + ",".join(keys)]
    for student, mine in problems.items():
        for p in mine:
            lines.append(f"{student},{p.number}," + ",".join(a.rounded for a in p.answers))
    marks = mark_class(problems, read_answers("\n".join(lines) + "\n", problems))
    assert all(m.score == m.max_score for _, ms in marks.students for m in ms)
    assert sorted(s for s, _ in marks.students) == ["ada", "alan"]
    with pytest.raises(SymgradError, match="bob is not in the class$"):
        read_answers("student,problem," + keys[0] + "\nbob,1,1\n", problems)
    # An ID written in other case is named as class.json writes it.
    with pytest.raises(SymgradError, match="Ada is not in the class \\(class.json writes 'ada'"):
        read_answers("student,problem," + keys[0] + "\nAda,1,1\n", problems)


@pytest.fixture(scope="module", params=["momentum", "nesterov", "rmsprop", "adam", "adamw"])
def optimizer_problems(request):
    """12 problems stepped by an optimizer (with an L2 penalty but for adamw), asking the
    gradients, J, ∂J/∂p, the state and the update; the first two read back from JSON."""
    name = request.param
    drawn = sheet(count=12, seed=13, optimizer=name, l2=0 if name == "adamw" else "0.1",
                  difficulty="medium" if name in ("rmsprop", "adam", "adamw") else "easy",
                  ask=["loss", "w", "b", "state", "update"] + (
                      [] if name == "adamw" else ["J", "dJ"]))
    first = problems_from_json(json.dumps(drawn.to_data() | {
        "problems": drawn.to_data()["problems"][:2]}))
    assert [p.derivation.optimizer for p in first] == [
        p.derivation.optimizer for p in drawn.problems[:2]]
    return first + drawn.problems[2:]


def test_optimizer_sheet_answers_are_marked(optimizer_problems):
    """The model answers earn full marks; each part answered with a mistake's value
    scores 0 and is tagged with that mistake; a state or ∂J/∂p of 0 (nothing done) is
    refused."""
    tagged = set()
    for p in optimizer_problems:
        model = _model(p)
        m = mark(p, model)
        assert m.score == m.max_score == len(p.answers) and p.self_test.passed
        for a in p.answers:
            for mistake in a.mistakes:
                part = next(part for part in mark(p, model | {
                    a.quantity.key: fixed(mistake.value, a.places)}).parts
                    if part.key == a.quantity.key)
                assert part.status == "wrong" and mistake.name in part.mistakes, (
                    p.number, a.quantity.key, mistake.name, part)
                tagged.add(mistake.name)
            if a.quantity.kind in ("state", "objective_gradient"):
                part = mark(p, model | {a.quantity.key: "0"}).parts
                assert next(x for x in part if x.key == a.quantity.key).status == "wrong"
    name = optimizer_problems[0].derivation.optimizer.name
    assert {"momentum": {"l2_forgotten", "l2_bias_penalised"},
            "nesterov": {"velocity_unused", "l2_lambda_only"},
            "rmsprop": {"divided_by_v", "l2_as_decay"},
            "adam": {"no_bias_correction", "l2_half_kept"},
            "adamw": {"decay_as_l2", "no_bias_correction"}}[name] <= tagged, tagged


def test_a_wrong_gradient_carries_into_the_state_and_update(optimizer_problems):
    """∂L/∂w with its sign flipped scores 0 and is tagged; ∂J/∂w, the velocity or moments
    and the new w worked from it (each rounded as asked) are carried forward, unless the
    flipped gradient makes them trivial (∂J/∂w about 0: 'no credit carried forward') or
    leaves them right (Adam's step is about α·sign(g), and g² is the same)."""
    carried = 0
    for p in optimizer_problems:
        gradient = next(a for a in p.answers if a.quantity.key.startswith("dL/dw"))
        parameter = gradient.quantity.key[4:]
        wrong = fixed(-Rational(gradient.rounded), gradient.places)
        parts = {part.key: part for part in mark(p, _worked_from(
            p, {gradient.quantity.key: wrong})).parts}
        assert parts[gradient.quantity.key].status == "wrong"
        assert "flipped_sign" in parts[gradient.quantity.key].mistakes
        later = [k for k in parts if k.endswith("_" + parameter) or k in (
            f"dJ/d{parameter}", f"{parameter}_new")]
        assert f"{parameter}_new" in later and len(later) >= 2
        for key in later:
            assert parts[key].status in ("carried_forward", "correct") or (
                "no credit carried forward" in parts[key].feedback), (p.number, key, parts[key])
            carried += parts[key].status == "carried_forward"
    assert carried >= 2 * len(optimizer_problems)


def test_a_penalty_slip_is_tagged_and_carried_forward(optimizer_problems):
    """A learner who leaves the penalty out of ∂J/∂w (for adamw: who adds its decay to the
    gradient, so m is wrong) is refused there, tagged l2_forgotten (decay_as_l2), and
    carried forward into the state worked from it; the update too with momentum, while
    RMSprop's and Adam's first step is about α·sign(g) whatever the gradient's size, so
    theirs may even round to the right one."""
    p = optimizer_problems[0]
    d = p.derivation
    by_key = {a.quantity.key: a for a in p.answers}
    parameter = next(k for k in by_key if k.startswith("dL/dw"))[4:]
    if d.l2:
        slipped, name, later = f"dJ/d{parameter}", "l2_forgotten", f"v_{parameter}"
        value = next(q.value for q in p.asked if q.key == f"dL/d{parameter}")
    else:
        slipped, name, later = f"m_{parameter}", "decay_as_l2", f"m_hat_{parameter}"
        value = next(m.value for m in by_key[slipped].mistakes if m.name == name)
    parts = {part.key: part for part in mark(p, _worked_from(p, {
        slipped: fixed(value, by_key[slipped].places)})).parts}
    assert parts[slipped].status == "wrong" and name in parts[slipped].mistakes
    assert parts[later].status == "carried_forward"
    assert parts[f"{parameter}_new"].status in (
        ("carried_forward",) if d.optimizer.name in ("momentum", "nesterov")
        else ("carried_forward", "correct")), d.optimizer.name


def test_a_wrong_loss_gradient_carries_into_the_state_without_dj():
    """With L2 but ∂J/∂w not asked, the velocity and the update follow from the learner's
    ∂L/∂w plus λw: a flipped ∂L/∂w is tagged, its v and new w carried forward."""
    carried = 0
    for p in sheet(count=6, seed=17, optimizer="momentum", l2="0.1",
                   ask=["w", "state", "update"]).problems:
        given = _worked_from(p, {"dL/dw": fixed(-Rational(_model(p)["dL/dw"]), 3)})
        parts = {part.key: part for part in mark(p, given).parts}
        assert "flipped_sign" in parts["dL/dw"].mistakes
        assert all(parts[k].status == "carried_forward" or "no credit carried forward" in
                   parts[k].feedback for k in ("v_w", "w_new")), p.number
        carried += parts["v_w"].status == "carried_forward"
    assert carried >= 4
