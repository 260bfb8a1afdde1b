"""Compiling LaTeX with pdflatex and reading the PDF back: one helper for the tests and for
gallery.py.

A compiled PDF is reproducible — the same .tex compiled by the same TeX version gives the
same bytes: ``SOURCE_DATE_EPOCH`` with ``FORCE_SOURCE_DATE=1`` fixes every date TeX could
read, the Info dictionary keeps no date and the trailer no ``/ID`` (made from the time and
the file name). It also records the SHA-256 of the .tex it was compiled from in its Subject,
so a check that the gallery's PDF belongs to its .tex needs no TeX at all, and no TeX of the
version that built it.
"""

import hashlib
import os
import re
import subprocess
from pathlib import Path

SOURCE = re.compile(rb"/Subject \(source SHA-256 ([0-9a-f]{64})\)")


def source_hash(tex: bytes) -> str:
    """The SHA-256 a PDF compiled from ``tex`` records, in hex."""
    return hashlib.sha256(tex).hexdigest()


def compile_tex(source: Path, pdflatex: str = "pdflatex") -> subprocess.CompletedProcess:
    """Compile ``source`` (``NAME.tex``) to ``NAME.pdf`` beside it, reproducibly and
    stamped with the source's hash; the file itself is read unchanged. LaTeX runs again
    while it asks to (a longtable's column widths settle on the second run), at most 3 times."""
    stamp = (r"\pdftrailerid{}\pdfinfoomitdate=1"
             rf"\pdfinfo{{/Subject (source SHA-256 {source_hash(source.read_bytes())})}}"
             rf"\input{{{source.name}}}")
    for _ in range(3):
        result = subprocess.run(
            [pdflatex, "-interaction=nonstopmode", "-halt-on-error", f"-jobname={source.stem}",
             stamp], cwd=source.parent, capture_output=True, text=True, errors="replace",
            env=dict(os.environ, SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1"))
        if result.returncode != 0 or "Rerun" not in result.stdout:
            return result
    return result


def recorded_source(pdf: bytes) -> str | None:
    """The SHA-256 of the .tex a PDF was compiled from, as ``compile_tex`` recorded it."""
    found = SOURCE.search(pdf)
    return found.group(1).decode() if found else None


def page_count(pdf: Path) -> int:
    """The number of pages, as poppler's pdfinfo reads them."""
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    return int(re.search(r"^Pages:\s+(\d+)$", info.stdout, re.M).group(1))


def page_texts(pdf: Path) -> list[str]:
    """The text of each page, as poppler's pdftotext reads it."""
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    return text.split("\f")[:-1]  # each page ends with a form feed
