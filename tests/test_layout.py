"""Tests of the LaTeX layout: every gallery document compiles with nothing in the margin."""

import re
import shutil

import pytest
from gallery import OUTPUT
from latex import compile_tex
from symgrad.assess.sheets import sheet

# An overfull line up to this wide is invisible in print; beyond it text runs into the margin.
TOLERATED_PT = 10
IMAGE = re.compile(r"\\includegraphics(?:\[[^\]]*\])?\{([^}]+)\}")


def _overfull(pdflatex, tex: str, folder, images=None) -> list[float]:
    """Compile ``tex`` in ``folder`` (copying the pictures it includes from ``images``) and
    return how far each overfull line of the log runs into the margin, in pt."""
    for name in IMAGE.findall(tex):
        shutil.copyfile(images / name, folder / name)
    (folder / "doc.tex").write_text(tex, encoding="utf-8")
    result = compile_tex(folder / "doc.tex", pdflatex)
    assert result.returncode == 0, result.stdout[-2000:]
    log = (folder / "doc.log").read_text(encoding="latin-1")
    return [float(x) for x in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]


@pytest.mark.parametrize("path", sorted(OUTPUT.rglob("*.tex")), ids=lambda p: p.name)
def test_gallery_tex_has_nothing_in_the_margin(pdflatex, tmp_path, path):
    """Each gallery LaTeX document compiles with no line more than 10 pt too wide."""
    tex = path.read_text(encoding="utf-8")
    wide = [x for x in _overfull(pdflatex, tex, tmp_path, path.parent) if x > TOLERATED_PT]
    assert not wide, f"{path.name}: overfull lines of {wide} pt"


def test_plots_stand_beside_their_words():
    """The plots are placed where the text discusses them ([H]), never floated away."""
    tex = (OUTPUT / "seed001_pictures.tex").read_text(encoding="utf-8")
    assert tex.count(r"\begin{figure}[H]") == 3 and not re.search(r"\\begin\{figure\}\[[^H]", tex)


def test_wide_key_splits_its_answer_table(pdflatex, tmp_path):
    """A network key with 32 asked quantities splits its answers into tables that fit."""
    key = sheet(count=2, seed=1, network="3-4-3", difficulty="hard").documents("tex")["key.tex"]
    answers = key[key.index(r"\section*{Answers}"):key.index(r"\section*{Problem 1}")]
    assert answers.count(r"\begin{longtable}") > 1
    text = _overfull(pdflatex, answers.join([key[:key.index(r"\section*{Answers}")],
                                             r"\end{document}"]), tmp_path)
    assert not [x for x in text if x > TOLERATED_PT]


@pytest.mark.parametrize("options", [
    dict(seed=2, difficulty="hard", inputs=3, batch=3),
    dict(seed=7, difficulty="hard", losses=("huber",)),
    dict(seed=1, difficulty="hard", network="3-4-3"),
], ids=["3-inputs-batch-3", "hard-huber", "network-3-4-3"])
def test_wide_keys_break_their_lines_of_working(pdflatex, tmp_path, options):
    """Keys with long lines of working (three inputs and a batch, Huber's factors, a 3-4-3
    network) break them with the preamble's \\working{} instead of running into the margin."""
    key = sheet(count=2, **options).documents("tex")["key.tex"]
    assert r"\working{" in key
    wide = [x for x in _overfull(pdflatex, key, tmp_path) if x > TOLERATED_PT]
    assert not wide, f"overfull lines of {wide} pt"
