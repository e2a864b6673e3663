"""The one gate every upload passes: what the bytes are (never the name or header), how big, how many pixels.

Pillow reads only the header here; decoding happens once, shrunk, when derivatives are made, and a file
that fails to decode there (truncated, corrupt) is rejected the same way.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from artboard.errors import ValidationFailed

# Pillow format name -> the content type Artboard stores and serves.
# MPO is the multi-picture JPEG some cameras write: a JPEG to every viewer.
FORMATS = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}
MAX_ASPECT_RATIO = 50


class ImageRejected(ValidationFailed):
    """The file is not an image Artboard accepts; the message says why in one sentence."""


@dataclass(frozen=True)
class ImageInfo:
    content_type: str
    width: int
    height: int


def inspect_image(source: BinaryIO, allowed_types: frozenset[str], max_pixels: int) -> ImageInfo:
    """Identify the image from its header, and refuse what Artboard will not decode."""
    source.seek(0, io.SEEK_END)
    if source.tell() == 0:
        raise ImageRejected("The file is empty.")
    source.seek(0)
    # Pillow's JPEG opener returns MPO files itself; "MPO" is not an opener of its own.
    allowed_formats = [name for name, mime in FORMATS.items() if mime in allowed_types and name != "MPO"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(source, formats=allowed_formats)
    except UnidentifiedImageError:
        raise ImageRejected(f"The file is not an image of an accepted type ({accepted(allowed_types)}).") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected("The image has too many pixels to be processed safely.") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"The image header is corrupt ({exc}).") from None
    with image:
        width, height = image.size
        content_type = FORMATS[str(image.format)]
    if width < 1 or height < 1:
        raise ImageRejected("The image has no pixels.")
    if width * height > max_pixels:
        raise ImageRejected(
            f"The image has {width}x{height} pixels; the limit is {max_pixels // 1_000_000} megapixels."
        )
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise ImageRejected("The image is too narrow for its length (aspect ratio over 50:1).")
    return ImageInfo(content_type, width, height)


def accepted(allowed_types: frozenset[str]) -> str:
    return ", ".join(sorted(allowed_types))
