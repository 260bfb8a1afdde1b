"""Tests of the LaTeX layout: every gallery document compiles with nothing in the margin."""

import re
import shutil
import subprocess

import pytest
from gallery import OUTPUT, SHEET
from latex import compile_tex, page_texts
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


def _problem_pages(pages: list[str], problems) -> list[int]:
    """The page (from 1) of each problem, checking that its heading, each of its answer rows
    and its 'Working:' are all on that one page, in the text poppler reads."""
    found = []
    for p in problems:
        heading = re.compile(rf"^Problem {p.number}$", re.M)
        on = [i for i, text in enumerate(pages) if heading.search(text)]
        assert len(on) == 1, f"the heading of problem {p.number} is on pages {on}"
        text = pages[on[0]]
        start = heading.search(text).end()
        after = re.compile(rf"^Problem {p.number + 1}$", re.M).search(text, start)
        own = text[start:after.start() if after else len(text)]
        assert own.count("decimal place") == len(p.answers), \
            f"problem {p.number} is split: not all its answer boxes are on page {on[0] + 1}"
        assert "Working:" in own, f"problem {p.number}'s working is not on page {on[0] + 1}"
        found.append(on[0] + 1)
    return found


def _compile_sheet(pdflatex, tmp_path, drawn):
    """Compile a drawn sheet's sheet.tex; return its pages' text and its log."""
    source = tmp_path / "sheet.tex"
    source.write_text(drawn.documents("tex")["sheet.tex"], encoding="utf-8")
    result = compile_tex(source, pdflatex)
    assert result.returncode == 0, result.stdout[-2000:]
    fonts = subprocess.run(["pdffonts", str(source.with_suffix(".pdf"))], capture_output=True,
                           text=True, check=True).stdout
    assert "Type 3" not in fonts, f"a bitmap font, blurred in print:\n{fonts}"
    return page_texts(source.with_suffix(".pdf")), (tmp_path / "sheet.log").read_text("latin-1")


def test_gallery_sheet_keeps_each_problem_on_one_page(poppler):
    """The gallery's printable sheet has its name and ID field on page 1 above problem 1,
    and each problem with its answer boxes and working on one page of its own."""
    pages = page_texts(OUTPUT / "sheets" / "sheet.pdf")
    first = pages[0]
    assert re.search(r"^Name:$", first, re.M) and re.search(r"^ID:$", first, re.M)
    assert first.index("Name:") < first.index("Problem 1")
    assert _problem_pages(pages, SHEET.problems) == list(range(1, len(SHEET.problems) + 1))


@pytest.mark.parametrize("options", [
    dict(count=12, difficulty="hard"),
    dict(count=6, network="2-2-1", difficulty="medium"),
], ids=["hard-12", "network-2-2-1"])
def test_larger_sheets_keep_each_problem_on_one_page(pdflatex, poppler, tmp_path, options):
    """Twelve hard problems (two inputs, a batch of two) and six 2-2-1 networks with ten
    answers each: no problem is split across pages, none runs past a page's foot, and only
    outline fonts are used."""
    drawn = sheet(seed=1, **options)
    pages, log = _compile_sheet(pdflatex, tmp_path, drawn)
    assert "Overfull \\vbox" not in log
    assert re.search(r"^Name:$", pages[0], re.M) and re.search(r"^ID:$", pages[0], re.M)
    assert len(set(_problem_pages(pages, drawn.problems))) == len(drawn.problems)


def test_problem_taller_than_a_page_breaks_between_its_rows(pdflatex, poppler, tmp_path):
    """A 3-4-3 network asking 39 numbers cannot fit a page: it starts a page and breaks
    between its answer rows, every row printed, none past the page's foot."""
    drawn = sheet(count=2, seed=1, network="3-4-3", difficulty="hard")
    pages, log = _compile_sheet(pdflatex, tmp_path, drawn)
    assert "Overfull \\vbox" not in log
    rows = sum(len(p.answers) for p in drawn.problems)
    assert rows > 60 and "".join(pages).count("decimal place") == rows
    assert pages[[i for i, text in enumerate(pages) if "Problem 2" in text][0]].startswith(
        "Problem 2")
