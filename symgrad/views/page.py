"""Self-contained HTML pages: our Markdown turned into HTML, with KaTeX inlined.

The page is the Markdown worked example (so the lesson's words live in one set of
templates) converted by markdown-it-py, whose dollarmath plugin keeps ``$…$`` maths
intact.  Maths is typeset in the browser by KaTeX, whose script, stylesheet and fonts
are inlined, so the page needs no network when it is viewed.  KaTeX comes from the
npm registry when symgrad is built (see ``hatch_build.py``) and ships as package data
in ``symgrad/_katex``; ``SYMGRAD_KATEX_DIR`` may point at another copy.
"""

from __future__ import annotations

import base64
import html
import os
import re
from functools import lru_cache
from pathlib import Path

from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

from ..errors import SymgradError

__all__ = ["markdown_to_html", "katex_assets", "katex_folder"]

_FONT = re.compile(r"url\(fonts/(?P<name>[\w-]+)\.woff2\) format\(\"woff2\"\)(,url\([^)]*\) "
                   r"format\(\"[a-z]+\"\))*")


def _math(content: str, options: dict) -> str:
    """Maths between ``\\(…\\)`` or ``\\[…\\]``: KaTeX on the page reads it, and Jupyter's
    MathJax typesets the same delimiters in a notebook."""
    opening, closing = (r"\[", r"\]") if options["display_mode"] else (r"\(", r"\)")
    return html.escape(opening + content + closing)


@lru_cache(maxsize=1)
def _converter() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable("table").use(
        dollarmath_plugin, renderer=_math, allow_labels=False, double_inline=True)


def markdown_to_html(text: str) -> str:
    """HTML of our Markdown, maths kept for KaTeX or MathJax.

    >>> markdown_to_html("The loss is $0.16$.")
    '<p>The loss is <span class="math inline">\\\\(0.16\\\\)</span>.</p>\\n'
    """
    return _converter().render(text)


def katex_folder() -> Path:
    """Where KaTeX's ``katex.min.js``, ``katex.min.css`` and ``fonts/`` are."""
    chosen = os.environ.get("SYMGRAD_KATEX_DIR")
    candidates = [Path(chosen), Path(chosen) / "dist"] if chosen else [
        Path(__file__).resolve().parent.parent / "_katex"]
    for folder in candidates:
        if (folder / "katex.min.js").is_file() and (folder / "fonts").is_dir():
            return folder
    where = f"SYMGRAD_KATEX_DIR={chosen!r} holds no katex.min.js" if chosen else \
        "symgrad was built without it (npm was missing or offline)"
    raise SymgradError(f"the HTML page needs KaTeX and {where}; reinstall symgrad with "
                       "Node.js's npm on PATH, or set SYMGRAD_KATEX_DIR to a folder from "
                       "'npm install katex' (node_modules/katex)")


@lru_cache(maxsize=1)
def katex_assets() -> tuple[str, str]:
    """KaTeX's stylesheet, fonts inlined as woff2 data, and its script."""
    folder = katex_folder()

    def inline(match: re.Match) -> str:
        font = (folder / "fonts" / f"{match['name']}.woff2").read_bytes()
        return f'url(data:font/woff2;base64,{base64.b64encode(font).decode()}) format("woff2")'

    css = _FONT.sub(inline, (folder / "katex.min.css").read_text(encoding="utf-8"))
    if "url(fonts/" in css:
        raise SymgradError(f"KaTeX's stylesheet in {folder} names fonts this version of "
                           "symgrad cannot inline; use KaTeX 0.16")
    return css, (folder / "katex.min.js").read_text(encoding="utf-8")
