"""The contact sheet: the packaged photo drawn in every style and method, as in the docs."""

from __future__ import annotations

from pathlib import Path

from artboard.engines.sketch import STYLES
from artboard.engines.sketch_preview import PHOTO, contact_sheet, style_preview
from tests import photos

DOCS_SHEET = Path(__file__).parents[2] / "docs" / "sketch-styles.jpg"


def test_the_sheet_in_the_docs_is_the_generated_one_and_small() -> None:
    generated = photos.decode(style_preview())
    assert photos.decode(DOCS_SHEET.read_bytes()).size == generated.size
    assert DOCS_SHEET.stat().st_size < 400_000


def test_a_styles_preview_is_the_sheet_with_only_its_row() -> None:
    whole, one = photos.decode(style_preview()), photos.decode(style_preview("INK"))
    assert whole.format == one.format == "JPEG" and whole.width == one.width
    row = (whole.height - one.height) // (len(STYLES) - 1)
    assert one.height + (len(STYLES) - 1) * row == whole.height
    assert style_preview("INK") == contact_sheet(PHOTO.read_bytes(), [s for s in STYLES if s.name == "INK"])
