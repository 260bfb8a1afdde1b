"""Tests for the Moodle Cloze export (symgrad sheet --format moodle) and the numerical one.

The files are read the way Moodle's import reads them, with code ported from moodle/moodle
(Moodle 4.x; each port names its file and function or constant):
- question/format/xml/format.php: readquestions dispatches <question type="cloze"> to
  import_multianswer, which takes the question text with import_text_with_files (the <text>
  trimmed, its format through trans_format), extracts and validates it, and reads name,
  idnumber, generalfeedback and penalty, but no defaultgrade (the mark is the sum of the
  fields' marks); import_numerical reads each <answer>'s text, <tolerance> and fraction.
- question/type/multianswer/questiontype.php: the regular expressions below (the constants
  ANSWER_ALTERNATIVE_FRACTION_REGEX, ANSWER_ALTERNATIVE_ANSWER_REGEX,
  ANSWER_ALTERNATIVE_FEEDBACK_REGEX, ANSWER_ALTERNATIVE_REGEX, NUMBER_REGEX,
  NUMERICAL_ALTERNATIVE_REGEX, ANSWER_TYPE_DEF_REGEX, ANSWER_START_REGEX, ANSWER_REGEX and
  their group positions), qtype_multianswer_extract_question (a NUMERICAL field's
  ``answer:tolerance`` split by NUMERICAL_ALTERNATIVE_REGEX, groups NUMERICAL_CORRECT_ANSWER
  and NUMERICAL_ABS_ERROR_MARGIN; feedback through html_entity_decode(ENT_QUOTES, 'UTF-8'),
  then ``\\}`` and ``\\#`` unescaped) and qtype_multianswer_validate_question.
- question/type/numerical/question.php: qtype_numerical_question::get_matching_answer (the
  first answer, in order, whose interval holds the response) and
  qtype_numerical_answer::get_tolerance_interval (nominal tolerance, in doubles, widened by
  10^-precision).
The moodle/moodle snapshot is too large to fetch here, so the ports follow the 4.x copies of
these files in the code index, which names no commit.
"""

import dataclasses
import html
import html.entities
import re
import xml.etree.ElementTree as ET

import pytest
from sympy import Rational

from symgrad.assess.answers import fixed
from symgrad.assess.sheets import Sheet, sheet
from symgrad.errors import SymgradError

# --- ported from question/type/multianswer/questiontype.php ---------------------------
# PHP's (?<!\\\\|&|&amp;) has branches of unequal length, which Python's re refuses in one
# lookbehind: three lookbehinds in a row say the same.
ANSWER_ALTERNATIVE_FRACTION_REGEX = r"=|%(-?[0-9]+(?:[.,][0-9]*)?)%"
ANSWER_ALTERNATIVE_ANSWER_REGEX = r".+?(?<!\\)(?<!&)(?<!&amp;)(?=[~#}]|$)"
ANSWER_ALTERNATIVE_FEEDBACK_REGEX = r".*?(?<!\\)(?=[~}]|$)"
ANSWER_ALTERNATIVE_REGEX = (f"({ANSWER_ALTERNATIVE_FRACTION_REGEX})?"
                            f"({ANSWER_ALTERNATIVE_ANSWER_REGEX})"
                            f"(#({ANSWER_ALTERNATIVE_FEEDBACK_REGEX}))?")
ANSWER_ALTERNATIVE_REGEX_FRACTION = 1
ANSWER_ALTERNATIVE_REGEX_PERCENTILE_FRACTION = 2
ANSWER_ALTERNATIVE_REGEX_ANSWER = 3
ANSWER_ALTERNATIVE_REGEX_FEEDBACK = 5
NUMBER_REGEX = r"-?(([0-9]+[.,]?[0-9]*|[.,][0-9]+)([eE][-+]?[0-9]+)?)"
NUMERICAL_ALTERNATIVE_REGEX = f"^({NUMBER_REGEX})(:{NUMBER_REGEX})?$"
NUMERICAL_CORRECT_ANSWER = 1
NUMERICAL_ABS_ERROR_MARGIN = 6
ANSWER_TYPE_DEF_REGEX = (
    "(NUMERICAL|NM)|(MULTICHOICE|MC)|(MULTICHOICE_V|MCV)|(MULTICHOICE_H|MCH)|"
    "(SHORTANSWER|SA|MW)|(SHORTANSWER_C|SAC|MWC)|"
    "(MULTICHOICE_S|MCS)|(MULTICHOICE_VS|MCVS)|(MULTICHOICE_HS|MCHS)|"
    "(MULTIRESPONSE|MR)|(MULTIRESPONSE_H|MRH)|(MULTIRESPONSE_S|MRS)|(MULTIRESPONSE_HS|MRHS)")
ANSWER_START_REGEX = r"\{([0-9]*):(" + ANSWER_TYPE_DEF_REGEX + "):"
ANSWER_REGEX = (ANSWER_START_REGEX + "(" + ANSWER_ALTERNATIVE_REGEX
                + "(~" + ANSWER_ALTERNATIVE_REGEX + r")*)\}")
ANSWER_REGEX_NORM = 1
ANSWER_REGEX_ANSWER_TYPE_NUMERICAL = 3
ANSWER_REGEX_ALTERNATIVES = 16
# qtype_numerical::is_valid_number accepts what NUMBER_REGEX reads, whole.
VALID_NUMBER = re.compile(f"^{NUMBER_REGEX}$")


# PHP's html_entity_decode($text, ENT_QUOTES, 'UTF-8'): the HTML 4.01 entities (Python's
# name2codepoint is that table: no &apos;) and numeric references, each only with its ";",
# numeric ones only for characters HTML 4.01 allows (PHP's unicode_cp_is_allowed).
def html_entity_decode(text):
    """What html_entity_decode(..., ENT_QUOTES, 'UTF-8') returns (HTML 4.01 document type)."""
    def allowed(code):
        return (code in (0x09, 0x0A, 0x0D) or 0x20 <= code <= 0x7E
                or 0xA0 <= code <= 0xD7FF or 0xE000 <= code <= 0x10FFFF)

    def one(found):
        ref = found.group(1)
        if ref.startswith("#"):
            code = int(ref[2:], 16) if ref[1:2] in ("x", "X") else int(ref[1:])
            return chr(code) if allowed(code) else found.group(0)
        code = html.entities.name2codepoint.get(ref)
        return chr(code) if code is not None else found.group(0)

    return re.sub(r"&(#[xX][0-9a-fA-F]+|#[0-9]+|[A-Za-z][A-Za-z0-9]*);", one, text)


def extract_question(text):
    """Moodle's qtype_multianswer_extract_question for NUMERICAL fields: the subquestions,
    each a dict of mark and answers (fraction, answer, tolerance, feedback HTML), and the
    question text with each field replaced by {#N}."""
    subquestions = []
    position = 1
    while (found := re.search(ANSWER_REGEX, text, re.S)) is not None:
        assert found.group(ANSWER_REGEX_ANSWER_TYPE_NUMERICAL), "not a NUMERICAL field"
        norm = found.group(ANSWER_REGEX_NORM) or "1"
        answers = []
        remaining = found.group(ANSWER_REGEX_ALTERNATIVES)
        while (alt := re.search("~?" + ANSWER_ALTERNATIVE_REGEX, remaining, re.S)) is not None:
            if alt.group(ANSWER_ALTERNATIVE_REGEX_FRACTION) == "=":
                fraction = Rational(1)
            elif alt.group(ANSWER_ALTERNATIVE_REGEX_PERCENTILE_FRACTION):
                fraction = Rational(alt.group(ANSWER_ALTERNATIVE_REGEX_PERCENTILE_FRACTION)
                                    .replace(",", ".")) / 100
            else:
                fraction = Rational(0)
            feedback = alt.group(ANSWER_ALTERNATIVE_REGEX_FEEDBACK)
            if feedback is not None:
                feedback = html_entity_decode(feedback).replace("\\}", "}").replace("\\#", "#")
            number = re.search(NUMERICAL_ALTERNATIVE_REGEX,
                               alt.group(ANSWER_ALTERNATIVE_REGEX_ANSWER), re.S)
            assert number is not None, f"not a number: {alt.group(0)!r}"
            answers.append({"fraction": fraction, "answer": number.group(NUMERICAL_CORRECT_ANSWER),
                            "tolerance": number.group(NUMERICAL_ABS_ERROR_MARGIN) or "0",
                            "feedback": feedback or ""})
            remaining = remaining.split(alt.group(0), 1)[1]
        subquestions.append({"mark": int(norm), "answers": answers})
        text = text.replace(found.group(0), f"{{#{position}}}", 1)
        position += 1
    return subquestions, text


def validate_question(subquestions):
    """qtype_multianswer_validate_question for NUMERICAL fields: each has answers, every
    answer is a number, and one answer earns full marks."""
    assert subquestions, "questionsmissing"
    for sub in subquestions:
        assert sub["answers"], "notenoughanswers"
        for answer in sub["answers"]:
            assert VALID_NUMBER.match(answer["answer"].strip()), "answermustbenumberorstar"
        assert any(answer["fraction"] == 1 for answer in sub["answers"]), "fractionsnomax"


# question/format/xml/format.php trans_format: the formats the import knows.
FORMAT_MOODLE, FORMAT_HTML, FORMAT_PLAIN, FORMAT_WIKI, FORMAT_MARKDOWN = 0, 1, 2, 3, 4
TRANS_FORMAT = {"moodle_auto_format": FORMAT_MOODLE, "html": FORMAT_HTML,
                "plain_text": FORMAT_PLAIN, "wiki_like": FORMAT_WIKI, "markdown": FORMAT_MARKDOWN}
# php.ini precision, whose 10^-precision widens every numerical interval.
PHP_PRECISION = 14


def tolerance_interval(answer, tolerance):
    """qtype_numerical_answer::get_tolerance_interval, nominal (tolerancetype 2, the
    default): answer ∓ (tolerance + ε·max(tolerance, |answer|, ε)), ε = 10^-precision, in
    doubles as PHP computes it."""
    epsilon = 10.0 ** -PHP_PRECISION
    value, tolerance = float(answer), abs(float(tolerance))
    tolerance += epsilon * max(tolerance, abs(value), epsilon)
    return value - tolerance, value + tolerance


def matching_answer(answers, response):
    """qtype_numerical_question::get_matching_answer with no units: the first answer, in the
    order written, whose interval holds the response (read as a double)."""
    value = float(response)
    for answer in answers:
        low, high = tolerance_interval(answer["answer"], answer["tolerance"])
        if low <= value <= high:
            return answer
    return None


def shown(feedback_html):
    """What a learner reads of a feedback's HTML."""
    return html.unescape(re.sub(r"<[^>]+>", "", feedback_html))


def cloze_questions(drawn):
    root = ET.fromstring(drawn.documents("moodle")["quiz.xml"].encode())
    category, *questions = root.findall("question")
    assert category.get("type") == "category"
    return questions


# The elements Moodle's XML export writes for a Cloze question, in its order
# (question/format/xml/format.php writequestion: no <defaultgrade> for multianswer, whose
# mark is the sum of its fields' marks).
CLOZE_ELEMENTS = ["name", "questiontext", "generalfeedback", "penalty", "hidden", "idnumber"]


@pytest.mark.parametrize("kwargs", [
    {"difficulty": "medium", "seed": 6},
    {"difficulty": "hard", "seed": 2, "ask": ("prediction", "loss", "w", "b", "update",
                                              "loss_after")},
    {"difficulty": "medium", "seed": 3, "network": "2-2-1"},
    {"seed": 3, "network": "2-2-3", "activations": ("relu", "softmax"),
     "losses": ("cross_entropy",), "ask": ("prediction", "loss", "delta", "w")},
    {"difficulty": "medium", "seed": 5, "optimizer": "adam", "l2": "0.1",
     "ask": ("J", "dJ", "state", "update")},
    {"seed": 5, "optimizer": "nesterov", "l2": "0.05", "l2_biases": True,
     "ask": ("w", "dJ", "state", "update")},
    {"difficulty": "easy", "seed": 4, "batch": 2},
    {"difficulty": "hard", "seed": 7, "digits": 2},
    {"difficulty": "medium", "seed": 8, "digits": 9},
])
def test_each_field_is_the_answer_as_moodle_reads_it(kwargs):
    """Read with Moodle's own Cloze regexes, each problem's question has one NUMERICAL field
    per asked number, in order: its full-mark answer lies within the Answer's tolerance,
    which it states exactly, and its 0% answers are the mistakes with their feedback."""
    drawn = sheet(count=5, **kwargs)
    questions = cloze_questions(drawn)
    assert len(questions) == len(drawn.problems)
    for question, p in zip(questions, drawn.problems):
        assert question.get("type") == "cloze"
        assert [child.tag for child in question] == CLOZE_ELEMENTS
        text = question.find("questiontext/text").text
        subquestions, rest = extract_question(text)
        validate_question(subquestions)
        assert len(subquestions) == len(p.answers)
        assert sum(sub["mark"] for sub in subquestions) == len(p.answers)
        assert re.findall(r"\{#(\d+)\}", rest) == [str(k) for k in range(1, len(p.answers) + 1)]
        for sub, a in zip(subquestions, p.answers):
            right, *wrong = sub["answers"]
            assert right["fraction"] == 1 and a.accepts(right["answer"])
            assert Rational(right["tolerance"]) == a.tolerance
            assert shown(right["feedback"]) == "Correct."
            expected = drawn.moodle_mistakes(a)
            assert len(wrong) == len(expected)
            for answer, mistake in zip(wrong, expected):
                assert answer["fraction"] == 0
                assert Rational(answer["tolerance"]) == a.tolerance
                assert mistake in a.gives(answer["answer"]) and not a.accepts(answer["answer"])
                assert shown(answer["feedback"]) == f"Not quite: this is {mistake.description}."
            assert f"to {a.places} decimal places" in rest


def assert_moodle_marks(answers, a, mistakes):
    """Marked as Moodle marks a numerical part (``answers`` in the order written): the
    model answer as a learner rounds it earns full marks, and its neighbours one unit of
    the last asked place away do not, unless the sheet accepts them too (a value halfway
    between them); each known mistake, rounded the same way, earns none,
    and a mistake the export lists meets its own answer and feedback; the unchanged
    starting value earns none."""
    right = matching_answer(answers, a.rounded)
    assert right is not None and right["fraction"] == 1
    unit = Rational(1, 10 ** a.places)
    for neighbour in (Rational(a.rounded) - unit, Rational(a.rounded) + unit):
        found = matching_answer(answers, fixed(neighbour, a.places))
        full = found is not None and found["fraction"] == 1
        assert full == a.accepts(neighbour), neighbour
    for mistake in a.mistakes:
        found = matching_answer(answers, fixed(mistake.value, a.places))
        assert found is None or found["fraction"] == 0
        if mistake in mistakes:
            assert found is not None and mistake.description in shown(found["feedback"])
    if a.start is not None:
        found = matching_answer(answers, fixed(a.start, a.places))
        assert found is None or found["fraction"] == 0


@pytest.mark.parametrize("kwargs", [
    {"difficulty": "easy", "seed": 3},
    {"difficulty": "hard", "seed": 2, "ask": ("prediction", "loss", "w", "b", "update",
                                              "loss_after")},
    {"difficulty": "medium", "seed": 3, "network": "2-2-1"},
    {"seed": 3, "network": "2-2-3", "activations": ("relu", "softmax"),
     "losses": ("cross_entropy",), "ask": ("prediction", "loss", "delta", "w")},
    {"difficulty": "hard", "seed": 5, "optimizer": "adamw", "ask": ("state", "update")},
    {"difficulty": "hard", "seed": 7, "digits": 2},
    {"difficulty": "medium", "seed": 8, "digits": 9},
    {"difficulty": "medium", "seed": 8, "digits": 11},
])
def test_moodle_marks_each_field_as_the_sheet_does(kwargs):
    """Each Cloze part, extracted as the import extracts it and marked as
    qtype_numerical marks (first matching interval, in doubles), gives full marks to the
    model answer rounded as asked and none to the start or a known mistake."""
    drawn = sheet(count=3, **kwargs)
    for question, p in zip(cloze_questions(drawn), drawn.problems):
        subquestions, _ = extract_question(question.find("questiontext/text").text)
        for sub, a in zip(subquestions, p.answers):
            assert_moodle_marks(sub["answers"], a, drawn.moodle_mistakes(a))


def test_marking_catches_a_field_that_accepts_a_mistake(monkeypatch):
    """The marking check is not vacuous: with a tolerance wide enough to hold the known
    mistakes, Moodle would give them the first (full-mark) answer, and the check fails."""
    monkeypatch.setattr(Sheet, "tolerance_text", staticmethod(lambda answer: "1000"))
    drawn = sheet(count=1, seed=3, difficulty="easy")
    question, = cloze_questions(drawn)
    subquestions, _ = extract_question(question.find("questiontext/text").text)
    sub, a = next((sub, a) for sub, a in zip(subquestions, drawn.problems[0].answers)
                  if a.mistakes)
    assert Rational(sub["answers"][0]["tolerance"]) == 1000
    with pytest.raises(AssertionError):
        assert_moodle_marks(sub["answers"], a, drawn.moodle_mistakes(a))


@pytest.mark.parametrize("fmt", ["moodle", "moodle-numerical"])
def test_more_places_than_moodle_can_mark_are_refused(fmt):
    """Moodle compares in doubles and widens each interval by 10^-14 of the answer, so from
    13 decimal places on it would accept a neighbour of the model answer (the check above
    fails there); such a sheet is refused for an LMS export, and kept for md and json."""
    drawn = sheet(count=2, seed=8, difficulty="medium", digits=13)
    with pytest.raises(SymgradError, match="more than Moodle and Canvas can mark"):
        drawn.documents(fmt)
    assert drawn.documents("json")


def test_question_text_is_cdata_in_a_format_the_import_knows():
    """The question text and the general feedback of every Cloze question are CDATA
    sections (the HTML and the field syntax reach the import verbatim), in the html format
    that format.php trans_format knows; the text the import trims holds every field."""
    drawn = sheet(count=3, seed=4, difficulty="medium")
    raw = drawn.documents("moodle")["quiz.xml"]
    for element in ("questiontext", "generalfeedback"):
        opened = re.findall(rf'<{element} format="(\w+)">\s*<text><!\[CDATA\[', raw)
        assert opened == ["html"] * len(drawn.problems)
        assert all(TRANS_FORMAT[name] == FORMAT_HTML for name in opened)
    for question, p in zip(cloze_questions(drawn), drawn.problems):
        text = question.find("questiontext/text").text.strip()  # getpath(..., true) trims
        subquestions, _ = extract_question(text)
        assert len(subquestions) == len(p.answers)


def test_the_solution_is_general_feedback_only():
    """The worked solution is the general feedback (shown after the attempt), never in the
    question text, so answering one part reveals nothing of the others."""
    drawn = sheet(count=3, seed=1, difficulty="medium")
    for question, p in zip(cloze_questions(drawn), drawn.problems):
        text = question.find("questiontext/text").text
        solution = question.find("generalfeedback/text").text
        assert question.find("generalfeedback").get("format") == "html"
        assert "Forward pass" in solution and "Forward pass" not in text
        assert "update" in solution and r"\(" in text
        assert question.find("idnumber").text == f"symgrad-1-{p.number}"
        assert float(question.find("penalty").text) == pytest.approx(1 / 3, abs=1e-6)


# Descriptions are gettext messages in python-format, where %% is a literal %.
HOSTILE = r"""x} ~%%0%%1:0.5#y {1:NUMERICAL:=5} \} \# # / "q" 'a' \(z\) <b>&amp; ]]> é"""


def test_hostile_feedback_is_escaped(monkeypatch):
    """A mistake description full of Cloze, HTML and CDATA syntax neither ends its field nor
    adds one, and a learner reads it exactly as written."""
    original = Sheet.moodle_mistakes

    def hostile(self, answer):
        return tuple(dataclasses.replace(m, description=HOSTILE)
                     for m in original(self, answer))

    monkeypatch.setattr(Sheet, "moodle_mistakes", hostile)
    drawn = sheet(count=3, seed=2, difficulty="medium", ask=("w", "update"))
    seen = 0
    for question, p in zip(cloze_questions(drawn), drawn.problems):
        subquestions, rest = extract_question(question.find("questiontext/text").text)
        validate_question(subquestions)
        assert len(subquestions) == len(p.answers) and "NUMERICAL" not in rest
        for sub, a in zip(subquestions, p.answers):
            right, *wrong = sub["answers"]
            assert a.accepts(right["answer"]) and len(wrong) == len(drawn.moodle_mistakes(a))
            for answer in wrong:
                assert shown(answer["feedback"]) == (
                    f"Not quite: this is {HOSTILE.replace('%%', '%')}.")
                assert "<b>" not in answer["feedback"] and "\\" not in answer["feedback"]
                seen += 1
    assert seen


def test_german_cloze_reads_the_same():
    """In German the words change and the fields are the same numbers."""
    english = sheet(count=2, seed=5, difficulty="medium")
    german = sheet(count=2, seed=5, difficulty="medium", lang="de")
    for en, de in zip(cloze_questions(english), cloze_questions(german)):
        en_subs, _ = extract_question(en.find("questiontext/text").text)
        de_subs, de_rest = extract_question(de.find("questiontext/text").text)
        strip = [[{k: v for k, v in answer.items() if k != "feedback"} for answer in s["answers"]]
                 for s in en_subs]
        assert strip == [[{k: v for k, v in answer.items() if k != "feedback"}
                          for answer in s["answers"]] for s in de_subs]
        assert "Nachkommastellen" in de_rest
        assert all(shown(s["answers"][0]["feedback"]) == "Richtig." for s in de_subs)


def import_numerical(question):
    """question/format/xml/format.php import_numerical: each <answer>'s <text> (trimmed),
    <tolerance> (0 when missing), fraction (its attribute / 100) and feedback."""
    return [{"answer": answer.find("text").text.strip(),
             "tolerance": (answer.findtext("tolerance") or "0").strip(),
             "fraction": Rational(answer.get("fraction", "0")) / 100,
             "feedback": html.unescape(answer.findtext("feedback/text") or "")}
            for answer in question.findall("answer")]


def test_numerical_export_is_marked_as_the_sheet_does():
    """--format moodle-numerical writes one numerical question per asked number as
    quiz-numerical.xml; read by import_numerical and marked by qtype_numerical, each gives
    full marks to the model answer rounded as asked and none to the start or a mistake."""
    drawn = sheet(count=2, seed=6, difficulty="medium")
    root = ET.fromstring(drawn.documents("moodle-numerical")["quiz-numerical.xml"].encode())
    questions = root.findall("question")[1:]
    answers = [a for p in drawn.problems for a in p.answers]
    assert [q.get("type") for q in questions] == ["numerical"] * len(answers)
    for question, a in zip(questions, answers):
        read = import_numerical(question)
        assert all(VALID_NUMBER.match(answer["answer"]) for answer in read)
        assert all(VALID_NUMBER.match(answer["tolerance"]) for answer in read)
        assert_moodle_marks(read, a, drawn.moodle_mistakes(a))
