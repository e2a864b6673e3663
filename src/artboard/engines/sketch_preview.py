"""Previews of the sketch styles: one photograph drawn in every style and method, as a labelled JPEG grid.

The photograph ships with the package (``preview/chelsea.jpg``, see ``preview/README.md``: CC0), so the server
can show what a style does without anyone's image, and the documentation's sheet is this module's output:

    python -m artboard.engines.sketch_preview docs/sketch-styles.jpg

Rendering is deterministic, so the sheet in ``docs/`` is the one ``GET /api/sketch/styles/preview.jpg`` serves.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from artboard.engines.sketch import METHODS, STYLES, Style, render_sketch

PHOTO = Path(__file__).with_name("preview") / "chelsea.jpg"
CELL_EDGE = 300  # long edge of each drawing, px
GAP = 6
LABEL_WIDTH = 150
HEADER_HEIGHT = 36
PAPER = (248, 246, 240)
INK = (40, 40, 40)
QUALITY = 80
CREDIT = "Photo: Chelsea the cat, by Stefan van der Walt (CC0), from scikit-image's sample data."


def contact_sheet(photo: bytes, styles: Sequence[Style] = STYLES, *, cell_edge: int = CELL_EDGE) -> bytes:
    """A JPEG grid: the photo on top, then one row per style with a column per method, each labelled."""
    # Strength 0 is the photo itself, decoded, turned upright and sized exactly as every drawing is.
    original = _decoded(render_sketch(photo, "PENCIL", "basic", max_edge=cell_edge, strength=0.0).data)
    cell_w, cell_h = original.size
    width = LABEL_WIDTH + len(METHODS) * (cell_w + GAP) + GAP
    height = GAP + cell_h + HEADER_HEIGHT + len(styles) * (cell_h + GAP)
    sheet = Image.new("RGB", (width, height), PAPER)
    draw = ImageDraw.Draw(sheet)
    font, small = ImageFont.load_default(18), ImageFont.load_default(13)

    def column(index: int) -> int:
        return LABEL_WIDTH + GAP + index * (cell_w + GAP)

    sheet.paste(original, (column(0), GAP))
    draw.text((GAP * 2, GAP + cell_h // 2), "Photo", font=font, fill=INK, anchor="lm")
    draw.text((column(1), GAP + cell_h - 4), CREDIT, font=small, fill=INK, anchor="ld")
    header_middle = GAP + cell_h + HEADER_HEIGHT // 2
    for index, method in enumerate(METHODS):
        draw.text((column(index) + cell_w // 2, header_middle), method.display_name, font=font, fill=INK, anchor="mm")
    for row, style in enumerate(styles):
        top = GAP + cell_h + HEADER_HEIGHT + row * (cell_h + GAP)
        draw.text((GAP * 2, top + cell_h // 2 - 10), style.display_name, font=font, fill=INK, anchor="lm")
        draw.text((GAP * 2, top + cell_h // 2 + 12), style.name, font=small, fill=INK, anchor="lm")
        for index, method in enumerate(METHODS):
            drawing = render_sketch(photo, style.name, method.name, max_edge=cell_edge)
            sheet.paste(_decoded(drawing.data).convert("RGB"), (column(index), top))
    buffer = io.BytesIO()
    sheet.save(buffer, "JPEG", quality=QUALITY, optimize=True, progressive=True)
    return buffer.getvalue()


def _decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@cache
def style_preview(style_name: str | None = None) -> bytes:
    """The packaged photo's sheet: every style, or the one named (as ``STYLES`` names it). Cached per process."""
    styles = [style for style in STYLES if style_name is None or style.name == style_name]
    if not styles:
        raise ValueError(f"Unknown sketch style {style_name!r}.")
    return contact_sheet(PHOTO.read_bytes(), styles)


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/sketch-styles.jpg")
    target.write_bytes(style_preview())
    print(f"{target}: {target.stat().st_size // 1024} KB")
