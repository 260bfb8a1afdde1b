"""Tests for the Canvas QTI 1.2 package (symgrad sheet --format qti).

Two sources of rules. The structure Canvas imports is the one Canvas's own QTI export
writes (instructure/canvas-lms lib/cc/qti/qti_generator.rb: generate_assessment,
add_group; lib/cc/qti/qti_items.rb: add_question, calculated_response_str,
numerical_resprocessing). The content models are those of the QTI ASI 1.2 DTD
(ims_qtiasiv1p2.dtd); the ones for item, section, assessment, resprocessing,
respcondition and conditionvar are as Pyslet's qtiv1 module and the IMS migration tool
quote them, the rest transcribed from the same DTD. No copy of the XSD is at hand offline,
so the package is checked against these content models, not by a schema validator.
"""

import io
import re
import zipfile
import xml.etree.ElementTree as ET

import pytest
from sympy import Rational

from symgrad.assess.sheets import sheet
from symgrad.maths.model import numeric
from symgrad.cli import main

QTI = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"
CP = "{http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1}"
CONDITIONS = ("not|and|or|unanswered|other|varequal|varlt|varlte|vargt|vargte|varsubset|"
              "varinside|varsubstring|durequal|durlt|durlte|durgt|durgte|var_extension")
# Content models of ims_qtiasiv1p2.dtd as regexes over the children's names, one a line.
CONTENT = {
    "questestinterop": r"(qticomment\n)?(objectbank\n|assessment\n|((section|item)\n)+)",
    "assessment": r"(qticomment\n)?(duration\n)?(qtimetadata\n)*(objectives\n)*"
                  r"(assessmentcontrol\n)*(rubric\n)*(presentation_material\n)?"
                  r"(outcomes_processing\n)*(assessproc_extension\n)?(assessfeedback\n)*"
                  r"(selection_ordering\n)?(reference\n)?((sectionref|section)\n)+",
    "section": r"(qticomment\n)?(duration\n)?(qtimetadata\n)*(objectives\n)*"
               r"(sectioncontrol\n)*(sectionprecondition\n)*(sectionpostcondition\n)*"
               r"(rubric\n)*(presentation_material\n)?(outcomes_processing\n)*"
               r"(sectionproc_extension\n)?(sectionfeedback\n)*(selection_ordering\n)?"
               r"(reference\n)?((itemref|item|sectionref|section)\n)*",
    "item": r"(qticomment\n)?(duration\n)?(itemmetadata\n)?(objectives\n)*(itemcontrol\n)*"
            r"(itemprecondition\n)*(itempostcondition\n)*((itemrubric|rubric)\n)*"
            r"(presentation\n)?(resprocessing\n)*(itemproc_extension\n)?(itemfeedback\n)*"
            r"(reference\n)?",
    "itemmetadata": r"(qtimetadata\n)*",  # then optional qmd_* fields symgrad leaves out
    "qtimetadata": r"(vocabulary\n)?(qtimetadatafield\n)+",
    "qtimetadatafield": r"fieldlabel\nfieldentry\n",
    "selection_ordering": r"(qticomment\n)?(sequence_parameter\n)*(selection\n)*(order\n)?",
    "selection": r"(sourcebank_ref\n)?(selection_number\n)?(selection_metadata\n)?"
                 r"((and_selection|or_selection|not_selection|selection_extension)\n)?",
    "presentation": r"(qticomment\n)?(flow\n|((material|response_lid|response_xy|response_str"
                    r"|response_num|response_grp|response_extension)\n)+)",
    "material": r"(qticomment\n)?((mattext|matemtext|matimage|mataudio|matvideo|matapplet|"
                r"matapplication|matref|matbreak|mat_extension)\n)+(altmaterial\n)*",
    "response_str": r"(material\n)?(render_choice|render_hotspot|render_slider|render_fib|"
                    r"render_extension)\n(material\n)?",
    "render_fib": r"((material|material_ref|response_label|flow_label)\n)*",
    "resprocessing": r"(qticomment\n)?outcomes\n((respcondition|itemproc_extension)\n)+",
    "outcomes": r"(qticomment\n)?(decvar\n(interpretvar\n)*)+",
    "respcondition": r"(qticomment\n)?conditionvar\n(setvar\n)*(displayfeedback\n)*"
                     r"(respcond_extension\n)?",
    "conditionvar": f"(({CONDITIONS})\n)+",
    "or": f"(({CONDITIONS})\n)+",
    "and": f"(({CONDITIONS})\n)+",
    "itemfeedback": r"((flow_mat|material|solution|hint)\n)+",
    "flow_mat": r"(qticomment\n)?((flow_mat|material|material_ref)\n)+",
}
EMPTY = {"response_label", "decvar", "other", "displayfeedback", "mattext", "fieldlabel",
         "fieldentry", "selection_number", "setvar", "varequal", "vargte", "varlte"}


def check_content(element):
    """Every element's children follow its DTD content model; returns the elements seen."""
    name = element.tag.removeprefix(QTI)
    children = [child.tag.removeprefix(QTI) for child in element]
    if name in CONTENT:
        sequence = "".join(child + "\n" for child in children)
        assert re.fullmatch(CONTENT[name], sequence), f"<{name}> holds {children}"
    elif name in EMPTY:
        assert not children, f"<{name}> holds {children}"
    elif name not in ("selection_extension", "points_per_item"):  # extensions: any content
        raise AssertionError(f"<{name}> is not an element symgrad means to write")
    return 1 + sum(check_content(child) for child in element)


def package(drawn):
    data = drawn.documents("qti")["quiz-qti.zip"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return data, {info.filename: (info, archive.read(info)) for info in archive.infolist()}


def meta(item):
    return {field.find(QTI + "fieldlabel").text: field.find(QTI + "fieldentry").text
            for field in item.iter(QTI + "qtimetadatafield")}


@pytest.mark.parametrize("kwargs", [
    {"difficulty": "medium", "seed": 6},
    {"difficulty": "hard", "seed": 2, "ask": ("loss", "w", "b", "update", "loss_after")},
    {"difficulty": "medium", "seed": 3, "network": "2-2-1"},
])
def test_package_holds_a_group_per_problem_and_a_numerical_item_per_number(kwargs):
    """The zip holds the manifest and the assessment it names; the assessment follows the
    QTI 1.2 content models, has one question group per problem picking all its items, and
    each item is a Canvas numerical_question whose range is the Answer's value ∓ its
    tolerance, which holds the model answer and none of the start or the mistakes."""
    drawn = sheet(count=4, **kwargs)
    _, files = package(drawn)
    assert list(files) == ["imsmanifest.xml", "symgrad-quiz/symgrad-quiz.xml"]
    manifest = ET.fromstring(files["imsmanifest.xml"][1])
    resource, = manifest.iter(CP + "resource")
    assert resource.get("type") == "imsqti_xmlv1p2"
    assert resource.find(CP + "file").get("href") == "symgrad-quiz/symgrad-quiz.xml"
    root = ET.fromstring(files["symgrad-quiz/symgrad-quiz.xml"][1])
    assert root.tag == QTI + "questestinterop" and check_content(root) > 0
    assessment = root.find(QTI + "assessment")
    groups = assessment.find(QTI + "section").findall(QTI + "section")
    assert len(groups) == len(drawn.problems)
    for group, p in zip(groups, drawn.problems):
        items = group.findall(QTI + "item")
        assert len(items) == len(p.answers)
        assert group.find(f"{QTI}selection_ordering/{QTI}selection/{QTI}selection_number"
                          ).text == str(len(items))
        for item, a in zip(items, p.answers):
            assert meta(item) == {"question_type": "numerical_question",
                                  "points_possible": "1.0"}
            text = item.find(f"{QTI}presentation/{QTI}material/{QTI}mattext")
            assert text.get("texttype") == "text/html"
            assert f"Give it to {a.places} decimal places." in text.text
            fib = item.find(f"{QTI}presentation/{QTI}response_str/{QTI}render_fib")
            assert fib.get("fibtype") == "Decimal"
            decvar = item.find(f"{QTI}resprocessing/{QTI}outcomes/{QTI}decvar")
            assert (decvar.get("varname"), decvar.get("maxvalue")) == ("SCORE", "100")
            scoring = [c for c in item.iter(QTI + "respcondition")
                       if c.find(QTI + "setvar") is not None]
            assert len(scoring) == 1 and scoring[0].find(QTI + "setvar").text == "100"
            exact = Rational(scoring[0].find(f".//{QTI}varequal").text)
            low = Rational(scoring[0].find(f".//{QTI}vargte").text)
            high = Rational(scoring[0].find(f".//{QTI}varlte").text)
            assert a.accepts(exact) and (exact - low, high - exact) == (a.tolerance,) * 2
            for wrong in [m.value for m in a.mistakes] + ([a.start] if a.start is not None
                                                          else []):
                assert not low <= numeric(wrong, 30) <= high
            for bound in ("varequal", "vargte", "varlte"):
                assert "e" not in scoring[0].find(f".//{QTI}{bound}").text.lower()
            solution = item.find(f"{QTI}itemfeedback[@ident='general_fb']//{QTI}mattext")
            assert "Forward pass" in solution.text


def test_same_sheet_same_bytes(tmp_path):
    """The zip's files carry a fixed date, so the same seed gives the same bytes, and the
    CLI writes quiz-qti.zip."""
    data, files = package(sheet(count=2, seed=5))
    assert data == package(sheet(count=2, seed=5))[0]
    assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info, _ in files.values())
    assert main(["sheet", "--count", "2", "--seed", "5", "--format", "qti",
                 "--out", str(tmp_path)]) == 0
    assert (tmp_path / "quiz-qti.zip").read_bytes() == data
