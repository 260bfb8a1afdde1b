"""The committed gallery in output/ must equal what symgrad generates now."""

from gallery import OUTPUT, render_all


def test_gallery_is_current():
    """Regenerating every gallery example reproduces output/ byte for byte."""
    stale = [path.name for path, text in render_all().items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    assert not stale, f"stale gallery files (run python tests/gallery.py): {stale}"
    expected = {path.relative_to(OUTPUT) for path in render_all()}
    extra = {p.relative_to(OUTPUT) for p in OUTPUT.rglob("*") if p.is_file()} - expected
    assert not extra, f"files in output/ that no example generates: {sorted(extra)}"
