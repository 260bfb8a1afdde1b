"""Tests of the languages: every word of a lesson is in each catalog, translated, and the
compiled catalogs are current; a German lesson holds no English sentence."""

import gettext
import io
import re
import shutil

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from conftest import ROOT, run
from symgrad import Neuron, Sample, worked_example
from symgrad.maths.model import Layer, Network
from symgrad.views.render import LANGUAGES
from symgrad.assess.sheets import sheet

LOCALE = ROOT / "templates" / "locale"
TRANSLATED = [lang for lang in LANGUAGES if lang != "en"]


def _messages() -> set:
    """Every message the templates and the marked Python words hold, as Babel extracts them
    with the project's own mapping (templates/locale/babel.cfg)."""
    with open(LOCALE / "babel.cfg", encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    return {message for _, _, message, *_ in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords)}


def _catalog(lang: str):
    with open(LOCALE / lang / "LC_MESSAGES" / "symgrad.po", "rb") as po:
        return read_po(po, locale=lang)


@pytest.fixture(scope="module")
def messages():
    return _messages()


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_message_is_translated(messages, lang):
    """Each message of the templates is in the catalog, translated, not fuzzy, and keeps the
    message's placeholders; the catalog holds no message that is no longer used."""
    catalog = _catalog(lang)
    ids = {message.id for message in catalog if message.id}
    wanted = {m if isinstance(m, str) else tuple(m) for m in messages}
    missing = sorted(str(m) for m in wanted if m not in ids)
    assert not missing, f"{len(missing)} messages missing from {lang}: {missing[:5]}"
    unused = sorted(str(m) for m in ids if m not in wanted)
    assert not unused, f"{len(unused)} messages of {lang} are no longer used: {unused[:5]}"
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings) and not message.fuzzy, f"untranslated: {message.id!r}"
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        for string in strings:
            wanted_names = set(re.findall(r"%\((\w+)\)", ids[-1])) - {"num"}
            assert wanted_names <= set(re.findall(r"%\((\w+)\)", string)), message.id
    assert not [error for *_, errors in catalog.check() for error in errors]


@pytest.mark.parametrize("lang", TRANSLATED)
def test_compiled_catalog_is_current(lang):
    """The shipped .mo file is the compilation of the .po file (run ``pybabel compile``)."""
    compiled = io.BytesIO()
    write_mo(compiled, _catalog(lang))
    compiled.seek(0)
    with open(LOCALE / lang / "LC_MESSAGES" / "symgrad.mo", "rb") as shipped:
        # Every message as gettext reads it; the header ("") names Babel's version, which
        # differs between machines, so the plural rule is compared on its own.
        read = [gettext.GNUTranslations(file) for file in (shipped, compiled)]
    messages = [{k: v for k, v in t._catalog.items() if k != ""} for t in read]
    assert messages[0] == messages[1], "run: pybabel compile -d templates/locale -D symgrad"
    assert read[0].plural(1) == read[1].plural(1) and read[0].plural(2) == read[1].plural(2)


def _english_fragments(messages) -> set[str]:
    """Stretches of English text of the messages between their placeholders, long enough
    (four words or more) that finding one in a translated lesson means it was not
    translated."""
    fragments = set()
    for message in messages:
        for text in ([message] if isinstance(message, str) else message):
            for piece in re.split(r"%\(\w+\)[sd]|\$[^$]*\$", text):
                piece = piece.strip(" .,:;()")
                if len(piece.split()) >= 4:
                    fragments.add(piece)
    return fragments


NETWORK = Network(layers=[Layer([["0.15", "0.2"], ["0.25", "0.3"]], ["0.35", "0.35"], "sigmoid"),
                          Layer([["0.4", "0.45"], ["0.5", "0.55"]], ["0.6", "0.6"], "sigmoid")],
                  loss="half_squared")
EXAMPLES = {
    "neuron": (Neuron(weights="0.5", bias="0.1"), [Sample(x="2", y="1.5")],
               {"steps": 3, "mistakes": True}),
    "relu at its kink": (Neuron(weights="0.5", bias="-1", activation="relu"),
                         [Sample(x="2", y="1.5")], {}),
    "sigmoid and cross-entropy in a batch": (
        Neuron(weights=("0.5", "-1"), bias="0.1", activation="sigmoid", loss="bce"),
        [Sample(x=("1", "2"), y="1"), Sample(x=("2", "-1"), y="0"),
         Sample(x=("0", "1"), y="1")], {"tolerance": "0.9", "steps": 2}),
    "network": (NETWORK, [Sample(x=["0.05", "0.1"], y=["0.01", "0.99"])],
                {"matrix": True, "finite_differences": True, "learning_rate": "0.5",
                 "show": ("w1_1_1",)}),
    "gelu at its turning point, rule by rule": (
        Neuron(weights="0.5", bias="-1.25", activation="gelu"), [Sample(x="1", y="0")],
        {"derive_steps": True}),
    "silu, elu and softsign layers": (
        Network(layers=[Layer([["0.5", "-1"], ["1", "0.25"]], ["-1.5", "0"], "elu"),
                        Layer([["0.3", "0.2"], ["1", "0.5"]], ["0", "0.1"], "silu"),
                        Layer([["0.5", "-0.5"]], ["0.1"], "softsign")], loss="mse"),
        [Sample(x=["1", "2"], y="0.5")], {}),
}


@pytest.mark.parametrize("lang", TRANSLATED)
@pytest.mark.parametrize("name", EXAMPLES)
def test_translated_lesson_holds_no_english(messages, lang, name):
    """A lesson in another language, in Markdown and LaTeX, holds no English sentence of
    the templates: every word it prints went through the catalog."""
    model, samples, options = EXAMPLES[name]
    example = worked_example(model, samples, lang=lang, graph=True, **options)
    fragments = _english_fragments(messages)
    for text in (example.to_markdown(), example.to_latex()):
        left = sorted(f for f in fragments if f in text)
        assert not left, f"English left in the {lang} lesson: {left[:3]}"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_translated_sheet_and_key_hold_no_english(messages, lang):
    """A sheet and its key in another language hold no English sentence of the templates."""
    documents = sheet(count=2, seed=3, lang=lang).documents("md")
    documents |= sheet(count=1, seed=3, network="2-2-1", lang=lang).documents("tex")
    fragments = _english_fragments(messages)
    for name, text in documents.items():
        left = sorted(f for f in fragments if f in text)
        assert not left, f"English left in the {lang} {name}: {left[:3]}"


def test_german_latex_compiles(pdflatex, tmp_path):
    """A German lesson, umlauts and all, compiles with pdflatex."""
    tex = worked_example(Neuron(weights="0.5", bias="0.1", activation="sigmoid"),
                         [Sample(x="2", y="1")], lang="de", mistakes=True).to_latex()
    assert "ä" in tex or "ü" in tex or "ö" in tex
    (tmp_path / "de.tex").write_text(tex, encoding="utf-8")
    result = run(pdflatex, "-interaction=nonstopmode", "-halt-on-error", "de.tex", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:]


def test_unknown_language_is_refused(tmp_path):
    """An unknown language is a one-line error naming the languages there are."""
    result = run("symgrad", "example", "--lang", "xx", cwd=tmp_path)
    assert result.returncode == 2 and "de" in result.stderr and "Traceback" not in result.stderr
