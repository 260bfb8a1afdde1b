"""Tests for the Moodle Cloze export (symgrad sheet --format moodle).

The Cloze text is read here the way Moodle's import reads it: the regular expressions
below are ported from moodle/moodle question/type/multianswer/questiontype.php (the
constants ANSWER_ALTERNATIVE_FRACTION_REGEX, ANSWER_ALTERNATIVE_ANSWER_REGEX,
ANSWER_ALTERNATIVE_FEEDBACK_REGEX, ANSWER_ALTERNATIVE_REGEX, NUMBER_REGEX,
NUMERICAL_ALTERNATIVE_REGEX, ANSWER_TYPE_DEF_REGEX, ANSWER_START_REGEX, ANSWER_REGEX and
their group positions), and :func:`extract_question` follows that file's
qtype_multianswer_extract_question and qtype_multianswer_validate_question, which
question/format/xml/format.php import_multianswer calls on a <question type="cloze">.
"""

import dataclasses
import html
import re
import xml.etree.ElementTree as ET

import pytest
from sympy import Rational

from symgrad.assess.sheets import Sheet, sheet

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
                feedback = html.unescape(feedback).replace("\\}", "}").replace("\\#", "#")
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
    {"difficulty": "easy", "seed": 4, "batch": 2},
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


def test_numerical_export_is_kept():
    """--format moodle-numerical writes the one-question-per-number export as
    quiz-numerical.xml, beside the Cloze quiz.xml."""
    drawn = sheet(count=2, seed=6, difficulty="medium")
    root = ET.fromstring(drawn.documents("moodle-numerical")["quiz-numerical.xml"].encode())
    questions = root.findall("question")[1:]
    assert [q.get("type") for q in questions] == ["numerical"] * sum(
        len(p.answers) for p in drawn.problems)
