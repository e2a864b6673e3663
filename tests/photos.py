"""Real photographs for tests, from Pillow's own test images (fetched by scripts/test-images.sh).

Variants a camera or editor would produce (CMYK, 16-bit, truncated, polyglot) are derived from those photos.
"""

from __future__ import annotations

import io
import os
from functools import cache
from pathlib import Path

from PIL import Image

ROOT = Path(os.environ.get("ARTBOARD_TEST_IMAGES", "ARTBOARD_TEST_IMAGES is not set"))


def photo(name: str) -> bytes:
    path = ROOT / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run ./scripts/test, which fetches Pillow's test photographs")
    return path.read_bytes()


def flower() -> bytes:
    """A 480x360 JPEG photograph."""
    return photo("flower.jpg")


@cache
def cmyk_jpeg() -> bytes:
    return _save(Image.open(io.BytesIO(flower())).convert("CMYK"), "JPEG")


@cache
def png_16bit() -> bytes:
    """A 16-bit greyscale PNG of a real photo (Pillow mode I;16)."""
    image = Image.open(io.BytesIO(photo("hopper_16bit.pgm")))
    return _save(image.convert("I;16"), "PNG")


def truncated_jpeg() -> bytes:
    data = flower()
    return data[: len(data) * 2 // 3]


def polyglot_jpeg() -> bytes:
    """A real JPEG with a script appended after its end marker: viewers show the photo, the payload rides along."""
    return flower() + b"\n<?php system($_GET['c']); ?>\n"


@cache
def pixel_bomb_png(pixels: int = 100_000_000) -> bytes:
    """A few kilobytes that decode to ``pixels`` pixels."""
    side = int(pixels**0.5) + 1
    return _save(Image.new("1", (side, side)), "PNG")


def _save(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
