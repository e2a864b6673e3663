"""The sketch engine: every style in every method on real photographs, sized, upright, cancelable, refusing junk."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from functools import cache

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from artboard.engines.sketch import METHODS, STYLES, Method, SketchCanceled, SketchResult, Style, render_sketch
from artboard.media.validation import ImageRejected
from tests import photos

STYLE_NAMES = [style.name for style in STYLES]
METHOD_NAMES = [method.name for method in METHODS]
DRAWING_STYLES = {"PENCIL", "CHARCOAL", "INK"}


@cache
def sketch(style: str, method: str) -> SketchResult:
    """The flower photograph (480x360 JPEG) as a sketch; cached, rendering is deterministic."""
    return render_sketch(photos.flower(), style, method)


def pixels(data: bytes) -> npt.NDArray[np.int16]:
    return np.asarray(photos.decode(data).convert("RGB"), dtype=np.int16)


def difference(a: bytes, b: bytes) -> float:
    """Mean absolute difference of two images of the same size, 0..255."""
    return float(np.abs(pixels(a) - pixels(b)).mean())


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def flower() -> Image.Image:
    return photos.decode(photos.flower()).convert("RGB")


def test_the_catalog_lists_seven_styles_and_three_methods_each_with_a_name_and_a_description() -> None:
    assert STYLE_NAMES == ["PENCIL", "CHARCOAL", "WATERCOLOR", "INK", "PASTEL", "OIL", "ACRYLIC"]
    assert METHOD_NAMES == ["basic", "advanced", "artistic"]
    entries: list[Style | Method] = [*STYLES, *METHODS]
    for entry in entries:
        assert entry.display_name and entry.description.endswith(".")


@pytest.mark.parametrize(("style", "method"), list(itertools.product(STYLE_NAMES, METHOD_NAMES)))
def test_every_style_and_method_gives_a_jpeg_of_the_photos_size(style: str, method: str) -> None:
    result = sketch(style, method)
    image = photos.decode(result.data)
    assert (result.width, result.height) == image.size == (480, 360)
    assert result.content_type == "image/jpeg" and image.format == "JPEG"


@pytest.mark.parametrize(("style", "method"), list(itertools.product(STYLE_NAMES, METHOD_NAMES)))
def test_drawing_media_come_out_grey_and_paints_in_colour(style: str, method: str) -> None:
    image = photos.decode(sketch(style, method).data)
    if style in DRAWING_STYLES:
        assert image.mode == "L"
    else:
        saturation = np.asarray(image.convert("HSV"))[:, :, 1]
        assert image.mode == "RGB" and saturation.mean() > 40


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_styles_differ_from_each_other_in_every_method(method: str) -> None:
    for first, second in itertools.combinations(STYLE_NAMES, 2):
        apart = difference(sketch(first, method).data, sketch(second, method).data)
        assert apart > 8, (first, second, apart)


@pytest.mark.parametrize("style", STYLE_NAMES)
def test_methods_differ_from_each_other_in_every_style(style: str) -> None:
    for first, second in itertools.combinations(METHOD_NAMES, 2):
        apart = difference(sketch(style, first).data, sketch(style, second).data)
        assert apart > 4, (first, second, apart)


def test_the_same_photo_gives_the_same_bytes_every_time() -> None:
    assert render_sketch(photos.flower(), "OIL", "artistic").data == sketch("OIL", "artistic").data


@pytest.mark.parametrize(
    ("source_size", "max_edge", "expected"),
    [
        ((480, 360), 2048, (480, 360)),  # smaller than the cap: the source's own size, never enlarged
        ((1600, 1200), 2048, (1600, 1200)),
        ((1600, 1200), 800, (800, 600)),  # decoded at 1/2 exactly
        ((1600, 1200), 500, (500, 375)),  # decoded at 1/2, then shrunk
        ((1600, 1200), 410, (410, 308)),  # decoded at 1/4 (400 px), 2.5% short: stretched back
        ((1200, 1600), 800, (600, 800)),  # portrait: the long edge is the height
        ((480, 360), 100, (100, 75)),
    ],
)
def test_the_long_edge_is_capped_at_max_edge_keeping_the_aspect_ratio(
    source_size: tuple[int, int], max_edge: int, expected: tuple[int, int]
) -> None:
    data = encode(flower().resize(source_size, Image.Resampling.LANCZOS), "JPEG", quality=90)
    result = render_sketch(data, "PENCIL", "basic", max_edge=max_edge)
    assert (result.width, result.height) == photos.decode(result.data).size == expected


# Stored pixels that a viewer turns upright by the EXIF orientation: 3 is upside down, 6 and 8 are sideways.
STORED_SIDEWAYS = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


@pytest.mark.parametrize(("orientation", "fmt"), list(itertools.product(STORED_SIDEWAYS, ["JPEG", "PNG", "WEBP"])))
def test_exif_rotated_photos_come_out_upright(orientation: int, fmt: str) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored = flower().transpose(STORED_SIDEWAYS[orientation])
    upright = encode(flower(), fmt, quality=95)
    rotated = encode(stored, fmt, quality=95, exif=exif)
    result = render_sketch(rotated, "WATERCOLOR", "basic")
    assert (result.width, result.height) == (480, 360)
    assert difference(result.data, render_sketch(upright, "WATERCOLOR", "basic").data) < 3


def test_pillows_rotated_camera_photo_matches_the_upright_one() -> None:
    upright = render_sketch(photos.photo("hopper.jpg"), "OIL", "basic").data
    rotated = render_sketch(photos.photo("hopper_orientation_6.jpg"), "OIL", "basic").data
    sideways = encode(photos.decode(upright).transpose(Image.Transpose.ROTATE_90), "PNG")
    assert difference(rotated, upright) < 5 < difference(sideways, upright)


def half_transparent_flower() -> Image.Image:
    """The flower with its left half fully transparent; the photo's colours stay hidden under the alpha."""
    image = flower().convert("RGBA")
    alpha = np.full((360, 480), 255, np.uint8)
    alpha[:, :240] = 0
    alpha[:, 240:300] = np.linspace(0, 255, 60, dtype=np.uint8)  # a soft edge
    image.putalpha(Image.fromarray(alpha))
    return image


def on_white(image: Image.Image) -> Image.Image:
    page = Image.new("RGB", image.size, "white")
    page.paste(image, mask=image.getchannel("A"))
    return page


@pytest.mark.parametrize("style", STYLE_NAMES)
@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_transparency_is_composited_onto_white_paper(style: str, fmt: str) -> None:
    transparent = half_transparent_flower()
    result = render_sketch(encode(transparent, fmt, lossless=True), style, "advanced")
    flattened = render_sketch(encode(on_white(transparent), "PNG"), style, "advanced")
    assert difference(result.data, flattened.data) < 1.5
    blank = render_sketch(encode(Image.new("RGB", (480, 360), "white"), "PNG"), style, "advanced")
    left = np.s_[:, :200]
    assert float(np.abs(pixels(result.data)[left] - pixels(blank.data)[left]).mean()) < 1.5


@pytest.mark.parametrize(
    ("name", "source", "size"),
    [
        ("palette PNG with a transparent colour", lambda: photos.photo("transparent.png"), (200, 150)),
        ("transparent GIF", lambda: photos.photo("transparent.gif"), (200, 150)),
        ("CMYK JPEG", photos.cmyk_jpeg, (480, 360)),
        ("16-bit grey PNG", photos.png_16bit, (128, 128)),
        ("grey JPEG", lambda: photos.photo("hopper_gray.jpg"), (128, 128)),
        ("multi-picture (MPO) camera photo", lambda: photos.photo("frozenpond.mpo"), (640, 480)),
        ("animated GIF: its first frame", lambda: photos.photo("dispose_bgnd.gif"), (100, 100)),
        ("JPEG with a script appended", photos.polyglot_jpeg, (480, 360)),
    ],
)
def test_other_kinds_of_source_render_at_their_size(
    name: str, source: Callable[[], bytes], size: tuple[int, int]
) -> None:
    result = render_sketch(source(), "ACRYLIC", "advanced")
    assert (result.width, result.height) == photos.decode(result.data).size == size


def test_a_16bit_photo_keeps_its_tones() -> None:
    low, high = photos.decode(render_sketch(photos.png_16bit(), "CHARCOAL", "basic").data).getextrema()
    assert isinstance(low, int) and isinstance(high, int) and high - low > 100  # not clipped to one grey


@pytest.mark.parametrize(("style", "method"), [("PENCIL", "basic"), ("WATERCOLOR", "advanced"), ("OIL", "artistic")])
def test_progress_rises_from_zero_to_one_with_a_message_at_each_step(style: str, method: str) -> None:
    reports: list[tuple[float, str]] = []
    render_sketch(
        photos.flower(), style, method, on_progress=lambda fraction, message: reports.append((fraction, message))
    )
    fractions = [fraction for fraction, _ in reports]
    assert len(reports) >= 3 and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions) and len(set(fractions)) == len(fractions)
    assert all(message for _, message in reports)


@pytest.mark.parametrize("checks_before_stop", [0, 1, 2])
def test_should_stop_cancels_at_the_next_checkpoint(checks_before_stop: int) -> None:
    checks: list[None] = []
    reports: list[float] = []

    def should_stop() -> bool:
        checks.append(None)
        return len(checks) > checks_before_stop

    with pytest.raises(SketchCanceled):
        render_sketch(
            photos.flower(),
            "PASTEL",
            "artistic",
            should_stop=should_stop,
            on_progress=lambda fraction, _: reports.append(fraction),
        )
    assert len(checks) == checks_before_stop + 1 and len(reports) == checks_before_stop
    assert 1.0 not in reports


def test_a_stop_check_that_never_says_stop_changes_nothing() -> None:
    assert render_sketch(photos.flower(), "INK", "artistic", should_stop=lambda: False) == sketch("INK", "artistic")


def test_names_are_matched_regardless_of_case() -> None:
    assert render_sketch(photos.flower(), "pencil", "BASIC") == sketch("PENCIL", "basic")


@pytest.mark.parametrize(
    ("style", "method", "message"),
    [
        ("CRAYON", "basic", "Unknown sketch style 'CRAYON'; the styles are PENCIL, CHARCOAL"),
        ("", "basic", "Unknown sketch style ''"),
        ("PENCIL", "deluxe", "Unknown sketch method 'deluxe'; the methods are basic, advanced, artistic."),
    ],
)
def test_unknown_styles_and_methods_are_refused_with_the_known_names(style: str, method: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        render_sketch(photos.flower(), style, method)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty", lambda: b"", "not an image"),
        ("text", lambda: b"just some words, no pixels", "not an image"),
        ("script named .png", lambda: b"<?php system($_GET['c']); ?>", "not an image"),
        ("truncated JPEG", photos.truncated_jpeg, "truncated or corrupt"),
        ("PNG cut after its header", lambda: photos.photo("hopper.png")[:200], "truncated or corrupt"),
        ("pixel bomb: 100 MP in a few KB", photos.pixel_bomb_png, "limit is 100 megapixels"),
    ],
)
def test_bytes_that_are_not_a_decodable_image_are_refused(name: str, data: Callable[[], bytes], message: str) -> None:
    with pytest.raises(ImageRejected, match=message):
        render_sketch(data(), "PENCIL", "basic")


@pytest.mark.parametrize("style", ["PENCIL", "OIL"])
def test_strength_blends_the_sketch_over_the_photo(style: str) -> None:
    """Seed 000's img2img `strength`: 0 keeps the photo, 1 is the sketch alone, between lies between."""
    blends = {s: render_sketch(photos.flower(), style, "basic", strength=s).data for s in (0.0, 0.5, 1.0)}
    apart = difference(blends[0.0], blends[1.0])
    assert difference(blends[0.0], encode(flower(), "JPEG", quality=90)) < apart / 4  # 0: the photo itself
    assert difference(blends[0.5], blends[0.0]) < apart
    assert difference(blends[0.5], blends[1.0]) < apart
    with pytest.raises(ValueError, match="strength"):
        render_sketch(photos.flower(), style, "basic", strength=1.5)
