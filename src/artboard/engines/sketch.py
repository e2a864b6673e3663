"""The sketch engine's image core: a photo's bytes in, a sketch's JPEG bytes out, in one of 7 styles x 3 methods.

``render_sketch`` is what a job worker calls, in a thread or process of its own: it is synchronous and CPU-bound,
reports progress through ``on_progress`` and stops at the next checkpoint once ``should_stop`` says so.

Output size: the source's own size, upright, unless its long edge exceeds ``max_edge`` (default 2048 px), in
which case it is scaled down to that long edge, aspect ratio kept. Sources are never enlarged.

Output format: JPEG at quality 90, one channel for the drawing media (pencil, charcoal, ink) and colour for the
paints. A sketch has no transparency to keep, and JPEG encodes a 3 MP sketch in a few ms where PNG takes tens.

Transparency is composited onto white: the paper a sketch is drawn on, so a transparent area comes out blank
rather than as a dark patch the drawing styles would outline.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from PIL import ExifTags, Image, UnidentifiedImageError

from artboard.media.validation import ImageRejected

MAX_SOURCE_PIXELS = 100_000_000
# OpenCV reads this once, when cv2 is first imported: it refuses to allocate a larger image (a pixel bomb).
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_SOURCE_PIXELS))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from cv2.typing import MatLike  # noqa: E402

from artboard.engines.sketch_styles import RECIPES, Frame  # noqa: E402

DEFAULT_MAX_EDGE = 2048
JPEG_QUALITY = 90
# A JPEG decoded at 1/2, 1/4 or 1/8 (libjpeg's DCT scaling) may fall this much short of the output size and
# be stretched back: invisible in a sketch, and a 4000 px photo decodes at 1/2 for a 2048 px sketch.
MAX_STRETCH = 0.05


@dataclass(frozen=True)
class Style:
    """A sketch style as the API lists it: ``name`` is what a request sends, the rest is for people."""

    name: str
    display_name: str
    description: str


@dataclass(frozen=True)
class Method:
    """A processing method, applied alike to every style: basic (fastest), advanced, artistic."""

    name: str
    display_name: str
    description: str


STYLES: tuple[Style, ...] = (
    Style("PENCIL", "Pencil", "Fine graphite lines and light shading on white paper."),
    Style("CHARCOAL", "Charcoal", "Dark, smudged strokes with strong contrast and a grainy texture."),
    Style("WATERCOLOR", "Watercolor", "Soft washes of colour that pool at their edges on textured paper."),
    Style("INK", "Ink", "Sharp black lines and solid shadows, with no grey in between."),
    Style("PASTEL", "Pastel", "Light, chalky colours with soft edges."),
    Style("OIL", "Oil painting", "Thick daubs of rich colour with the relief of the paint."),
    Style("ACRYLIC", "Acrylic", "Bold, flat fields of vivid colour with crisp outlines."),
)

METHODS: tuple[Method, ...] = (
    Method("basic", "Basic", "Simple edge detection and tone mapping: the fastest."),
    Method("advanced", "Advanced", "Edge-preserving smoothing and the medium's own texture, for a cleaner result."),
    Method("artistic", "Artistic", "Sharpened, enhanced details and the medium's effects: hatching, strokes, relief."),
)


@dataclass(frozen=True)
class SketchResult:
    """The encoded sketch and what a caller stores beside it."""

    data: bytes
    width: int
    height: int
    content_type: str


class SketchCanceled(Exception):
    """``should_stop`` returned true at a checkpoint; the partial work was discarded."""


ProgressCallback = Callable[[float, str], None]
StopCheck = Callable[[], bool]


def render_sketch(
    data: bytes,
    style: str,
    method: str,
    *,
    max_edge: int = DEFAULT_MAX_EDGE,
    strength: float = 1.0,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
) -> SketchResult:
    """Render the photo in ``data`` as a sketch in ``style`` and ``method`` (names from ``STYLES``/``METHODS``).

    ``strength`` (0..1, seed 000's img2img field) blends the sketch over the photo: 1 is the sketch alone.
    Progress goes to ``on_progress(fraction, message)``, fractions rising from 0.0 to 1.0. ``should_stop`` is
    asked before each step; when it answers true, ``SketchCanceled`` is raised. Raises ``ValueError`` for an
    unknown style or method and ``ImageRejected`` for bytes that are not a decodable image.
    """
    recipe = RECIPES.get((style.upper(), method.lower()))
    if recipe is None:
        _refuse(style, method)
    if max_edge < 1:
        raise ValueError(f"max_edge must be a positive number of pixels, not {max_edge}.")
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be between 0 and 1, not {strength}.")

    def checkpoint(fraction: float, message: str) -> None:
        if should_stop is not None and should_stop():
            raise SketchCanceled(f"The sketch was canceled before {message[0].lower()}{message[1:]}.")
        if on_progress is not None:
            on_progress(fraction, message)

    checkpoint(0.0, "Decoding the photo")
    photo = decode(data, max_edge)
    checkpoint(0.2, "Drawing the sketch")
    sketch = recipe(Frame(photo))
    if strength < 1.0:
        drawn = cv2.cvtColor(sketch, cv2.COLOR_GRAY2BGR) if sketch.ndim == 2 else sketch
        sketch = cv2.addWeighted(photo, 1.0 - strength, drawn, strength, 0.0)
    checkpoint(0.9, "Encoding the sketch")
    ok, encoded = cv2.imencode(".jpg", sketch, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("OpenCV could not encode the sketch as JPEG.")
    if on_progress is not None:
        on_progress(1.0, "Done")
    height, width = sketch.shape[:2]
    return SketchResult(encoded.tobytes(), width, height, "image/jpeg")


def _refuse(style: str, method: str) -> NoReturn:
    if style.upper() not in {known.name for known in STYLES}:
        names = ", ".join(known.name for known in STYLES)
        raise ValueError(f"Unknown sketch style {style!r}; the styles are {names}.")
    names = ", ".join(known.name for known in METHODS)
    raise ValueError(f"Unknown sketch method {method!r}; the methods are {names}.")


def decode(data: bytes, max_edge: int) -> MatLike:
    """The photo upright as 8-bit BGR, its long edge at most ``max_edge``, transparency composited onto white.

    The header is read first (Pillow, no pixels) to refuse what is not an image or is too large, to learn the
    orientation and to pick a JPEG's DCT-scaled decode. The pixels are decoded by OpenCV, without its own
    orientation handling: Pillow's reading of it also covers XMP and matches the gallery's thumbnails.
    """
    image_format, (width, height), orientation = _read_header(data)
    target = min(max(width, height), max_edge)
    buffer = np.frombuffer(data, np.uint8)
    if image_format in ("JPEG", "MPO"):
        pixels = cv2.imdecode(buffer, _jpeg_flags(max(width, height), target))
    else:
        pixels = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)  # keeps alpha, 16-bit and grey as they are
    if pixels is None or pixels.size == 0:
        raise ImageRejected("The image data is truncated or corrupt and cannot be decoded.")
    return _upright(_fit(_to_bgr(pixels), target), orientation)


def _read_header(data: bytes) -> tuple[str, tuple[int, int], int]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the pixel cap below decides
            probe = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageRejected("The data is not an image in a format Artboard can read.") from None
    except Image.DecompressionBombError:
        raise ImageRejected("The image has too many pixels to be processed safely.") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"The image header is corrupt ({exc}).") from None
    with probe:
        width, height = probe.size
        if width * height > MAX_SOURCE_PIXELS:
            raise ImageRejected(f"The image has {width}x{height} pixels; the limit is 100 megapixels.")
        # The base class reads only what the header gave; PNG's own getexif() would decode every pixel to look
        # for an EXIF chunk after them.
        orientation = Image.Image.getexif(probe).get(ExifTags.Base.Orientation, 1)
        return str(probe.format), (width, height), orientation if isinstance(orientation, int) else 1


def _jpeg_flags(long_edge: int, target: int) -> int:
    """The smallest DCT-scaled decode that still covers ``target`` (within ``MAX_STRETCH``)."""
    for factor, flag in (
        (8, cv2.IMREAD_REDUCED_COLOR_8),
        (4, cv2.IMREAD_REDUCED_COLOR_4),
        (2, cv2.IMREAD_REDUCED_COLOR_2),
    ):
        if -(-long_edge // factor) >= target * (1 - MAX_STRETCH):
            return flag | cv2.IMREAD_IGNORE_ORIENTATION
    return cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION


def _to_bgr(pixels: MatLike) -> MatLike:
    """8-bit BGR from what OpenCV decoded: 16-bit scaled down, grey expanded, alpha composited onto white."""
    if pixels.dtype == np.uint16:
        pixels = cv2.convertScaleAbs(pixels, alpha=1 / 257)
    elif pixels.dtype != np.uint8:
        raise ImageRejected(f"Images with {pixels.dtype} samples are not supported.")
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    if channels == 1:
        return cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR)
    if channels == 4:
        alpha = cv2.cvtColor(cv2.extractChannel(pixels, 3), cv2.COLOR_GRAY2BGR)
        colour = cv2.multiply(cv2.cvtColor(pixels, cv2.COLOR_BGRA2BGR), alpha, scale=1 / 255)
        return cv2.add(colour, cv2.bitwise_not(alpha))  # colour x alpha + white x (1 - alpha)
    return pixels


def _fit(pixels: MatLike, target: int) -> MatLike:
    """Scaled so the long edge is ``target``: area averaging down, bilinear for a reduced decode's stretch."""
    height, width = pixels.shape[:2]
    if max(width, height) == target:
        return pixels
    scale = target / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


_ORIENTATIONS: dict[int, Callable[[MatLike], MatLike]] = {
    2: lambda image: cv2.flip(image, 1),
    3: lambda image: cv2.rotate(image, cv2.ROTATE_180),
    4: lambda image: cv2.flip(image, 0),
    5: cv2.transpose,
    6: lambda image: cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE),
    7: lambda image: cv2.flip(cv2.transpose(image), -1),
    8: lambda image: cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE),
}


def _upright(image: MatLike, orientation: int) -> MatLike:
    """Apply the EXIF orientation, after shrinking (rotating a small image is cheaper)."""
    transform = _ORIENTATIONS.get(orientation)
    return image if transform is None else transform(image)
