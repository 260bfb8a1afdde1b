"""The committed gallery in output/ must equal what symgrad generates now."""

import re
import shutil

import pytest
from gallery import OUTPUT, PRINTABLE, SCREENSHOTS, build_printable, render_all
from latex import compile_tex, page_count, recorded_source, source_hash


def _drawn_by(data) -> str | None:
    """The matplotlib version named inside a plot or a page that inlines plots."""
    text = data.decode("latin-1") if isinstance(data, bytes) else data
    found = re.search(r"Matplotlib v?(?:ersion)?\s*([\d.]+)", text)
    return found.group(1) if found else None


def test_gallery_is_current():
    """Regenerating every gallery example reproduces output/ byte for byte (drawn files
    when drawn by the same matplotlib version), and output/ holds nothing else."""
    import base64
    stale = []
    for path, data in render_all().items():
        if not path.exists():
            stale.append(path.name)
            continue
        old = path.read_bytes() if isinstance(data, bytes) else path.read_text(encoding="utf-8")
        if path.suffix == ".html":  # plots inlined as base64 SVG
            old_svgs = [base64.b64decode(x) for x in re.findall(r"base64,([\w+/=]+)\"", old)]
            version = _drawn_by(b"".join(old_svgs)) if old_svgs else None
        else:
            version = _drawn_by(old) if path.suffix in (".svg", ".png") else None
        current = _drawn_by(data) if path.suffix in (".svg", ".png") else version
        if old != data and (version is None or version == current):
            stale.append(path.name)
    assert not stale, f"stale gallery files (run python tests/gallery.py): {stale}"
    expected = {path.relative_to(OUTPUT) for path in [*render_all(), *PRINTABLE]}
    found = {p.relative_to(OUTPUT) for p in OUTPUT.rglob("*")
             if p.is_file() and p.parent != SCREENSHOTS}
    assert not found - expected, f"files in output/ no example generates: {found - expected}"


@pytest.mark.parametrize("pdf", PRINTABLE, ids=lambda p: p.name)
def test_printable_pdf_is_built_from_the_current_tex(pdf):
    """The gallery's PDF records the SHA-256 of the committed .tex beside it (so this check
    needs no TeX, and holds whatever TeX version built the PDF)."""
    assert pdf.exists(), f"{pdf.name} is missing (run python tests/gallery.py with pdflatex)"
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-1.") and data.rstrip().endswith(b"%%EOF")
    assert recorded_source(data) == source_hash(PRINTABLE[pdf].read_bytes()), \
        f"{pdf.name} was compiled from another {PRINTABLE[pdf].name} (run python tests/gallery.py)"


@pytest.mark.parametrize("pdf", PRINTABLE, ids=lambda p: p.name)
def test_printable_pdf_has_the_pages_compiling_gives(pdflatex, poppler, tmp_path, pdf):
    """The gallery's PDF is one poppler reads, with as many pages as compiling its .tex
    here gives."""
    source = tmp_path / PRINTABLE[pdf].name
    shutil.copyfile(PRINTABLE[pdf], source)
    assert compile_tex(source, pdflatex).returncode == 0
    assert page_count(pdf) == page_count(source.with_suffix(".pdf")) > 1


def test_compiling_is_reproducible(pdflatex, tmp_path):
    """The same .tex compiled twice, in folders of other names and at other times, gives the
    same bytes, which record the source's hash."""
    tex = PRINTABLE[OUTPUT / "sheets" / "sheet.pdf"]
    built = []
    for folder, name in (("one", "sheet.tex"), ("two", "other.tex")):
        (tmp_path / folder).mkdir()
        shutil.copyfile(tex, tmp_path / folder / name)
        assert compile_tex(tmp_path / folder / name, pdflatex).returncode == 0
        built.append((tmp_path / folder / name).with_suffix(".pdf").read_bytes())
    assert built[0] == built[1]
    assert recorded_source(built[0]) == source_hash(tex.read_bytes())
    assert b"/CreationDate" not in built[0] and not re.search(rb"/ID\s*\[", built[0])


def test_gallery_compiles_a_pdf_only_when_its_tex_changed(pdflatex, tmp_path):
    """build_printable compiles a PDF that is missing or whose .tex changed, leaves a current
    one alone, and without pdflatex writes nothing and names the stale PDF."""
    tex, pdf = tmp_path / "doc.tex", tmp_path / "doc.pdf"
    tex.write_text("\\documentclass{article}\\begin{document}One.\\end{document}\n")
    assert build_printable(pdflatex, {pdf: tex}) == [pdf]
    assert recorded_source(pdf.read_bytes()) == source_hash(tex.read_bytes())
    built = pdf.stat().st_mtime_ns
    assert build_printable(pdflatex, {pdf: tex}) == [] and pdf.stat().st_mtime_ns == built
    tex.write_text("\\documentclass{article}\\begin{document}Two.\\end{document}\n")
    assert build_printable(None, {pdf: tex}) == [pdf] and pdf.stat().st_mtime_ns == built
    assert build_printable(pdflatex, {pdf: tex}) == [pdf]
    assert recorded_source(pdf.read_bytes()) == source_hash(tex.read_bytes())
