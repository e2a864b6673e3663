"""Thumbnails, 512 px letterboxed squares and archived originals.

Decoding is the cost: a JPEG is decoded already shrunk by libjpeg's DCT scaling (Pillow ``draft``), so a
128 px thumbnail of a 12 MP photo costs about one 1/8-scale decode instead of a full one. Outputs are
re-encoded from pixels, so no metadata or payload of the upload is carried into them.
"""

from __future__ import annotations

import io
import math
import warnings
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, ImageOps

from artboard.media.validation import ImageRejected

THUMB_SIZE = 128
SQUARE_SIZE = 512
JPEG_QUALITY = 85
MAX_STRETCH = 0.05


@dataclass(frozen=True)
class Derivatives:
    thumbnail: bytes
    square: bytes


def make_thumbnail(source: BinaryIO) -> bytes:
    """Fit inside 128x128, aspect ratio kept."""
    return encode_jpeg(_thumbnail(_decode(source, THUMB_SIZE)))


def make_square(source: BinaryIO) -> bytes:
    """512x512, the image fitted inside and centred on black."""
    return encode_jpeg(_letterbox(_decode(source, SQUARE_SIZE)))


def make_derivatives(source: BinaryIO) -> Derivatives:
    """Both derivatives from one decode (at the square's scale)."""
    decoded = _decode(source, SQUARE_SIZE)
    return Derivatives(encode_jpeg(_thumbnail(decoded)), encode_jpeg(_letterbox(decoded)))


def archive_original(data: bytes, member_name: str) -> bytes:
    """A one-member zip of the untouched original. Stored, not deflated: JPEG/PNG do not shrink further."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(member_name, data)
    return buffer.getvalue()


def read_archived(archive_bytes: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(archive_bytes)) as archive:
        return archive.read(archive.namelist()[0])


def _decode(source: BinaryIO, target: int) -> Image.Image:
    """Decode at the smallest scale that still covers ``target`` on both sides, upright, as 8-bit RGB."""
    source.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(source)
            if image.format in ("JPEG", "MPO"):
                # Up to 5% short of the target is fine: the resize stretches it back, and it lets a 12 MP
                # photo decode at 1/8 (500 px) instead of 1/4 for a 512 px square.
                reach = target / max(image.size) * (1 - MAX_STRETCH)
                image.draft("RGB", (math.ceil(image.width * reach), math.ceil(image.height * reach)))
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected("The image data is truncated or corrupt and cannot be decoded.") from None
    # Orientation after shrinking: rotating a small image is cheap (in place: no copy when upright).
    ImageOps.exif_transpose(image, in_place=True)
    return _to_rgb(image)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit grey: scale to 8 bits first, converting directly would clip everything to white.
        image = image.convert("I").point(lambda value: value / 256).convert("L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, (0, 0, 0))
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB") if image.mode != "RGB" else image


def _fitted_size(image: Image.Image, box: int) -> tuple[int, int]:
    """The size with the longer side ``box``, aspect ratio kept."""
    scale = box / max(image.size)
    return max(1, round(image.width * scale)), max(1, round(image.height * scale))


def _thumbnail(image: Image.Image) -> Image.Image:
    """Fit inside 128 px, never enlarged: bicubic after a box pre-reduction (LANCZOS costs 25% more, unseen)."""
    if max(image.size) <= THUMB_SIZE:
        return image
    return image.resize(_fitted_size(image, THUMB_SIZE), Image.Resampling.BICUBIC, reducing_gap=1.0)


def _letterbox(image: Image.Image) -> Image.Image:
    target = _fitted_size(image, SQUARE_SIZE)
    if target != image.size:
        image = _resize(image, target)
    canvas = Image.new("RGB", (SQUARE_SIZE, SQUARE_SIZE), (0, 0, 0))
    canvas.paste(image, ((SQUARE_SIZE - image.width) // 2, (SQUARE_SIZE - image.height) // 2))
    return canvas


def _resize(image: Image.Image, target: tuple[int, int]) -> Image.Image:
    """Resize to ``target`` (larger or smaller).

    When the ratio is within 5% of a whole number k >= 2 (a 1024 px PNG is exactly 2x the square), a k-fold
    box reduction plus at most a 5% stretch costs a fraction of a direct resample and stays within about
    1/255 of LANCZOS on average.
    """
    ratio = image.width / target[0]
    factor = round(ratio)
    if factor >= 2 and ratio >= (1 - MAX_STRETCH) * factor:
        image = image.reduce(factor)
        ratio /= factor
    if image.size == target:
        return image
    if ratio >= 1 - MAX_STRETCH:
        return image.resize(target, Image.Resampling.BILINEAR)  # a reduction, or a stretch of a few percent
    return image.resize(target, Image.Resampling.LANCZOS)


def encode_jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=False)
    return buffer.getvalue()
