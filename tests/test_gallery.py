"""The committed gallery in output/ must equal what symgrad generates now."""

import re

from gallery import OUTPUT, SCREENSHOTS, render_all


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
    expected = {path.relative_to(OUTPUT) for path in render_all()}
    found = {p.relative_to(OUTPUT) for p in OUTPUT.rglob("*")
             if p.is_file() and p.parent != SCREENSHOTS}
    assert not found - expected, f"files in output/ no example generates: {found - expected}"
