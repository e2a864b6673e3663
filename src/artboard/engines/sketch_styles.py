"""The sketch recipes: seven styles in three methods each, as OpenCV operations on 8-bit images.

A recipe takes a ``Frame`` (the photo upright at output size, BGR) and returns an 8-bit image of that size: one
channel for the drawing media (pencil, charcoal, ink), BGR for the paints. The methods differ alike in every
style: ``basic`` uses only cheap operations (blurs, colour dodge, lookup tables, thresholds); ``advanced`` starts
from an edge-preserving smoothing and adds the medium's texture; ``artistic`` adds sharpened details and an
effect of the medium (hatching, strokes, relief).

Blur radii and line spacings are fractions of the long edge, so a sketch looks alike at every output size;
textures (paper, canvas, strokes) keep a fixed grain in pixels, like real paper. The slow filters run on a copy at
most ``WORK_EDGE`` px long and are upscaled after: their output is smooth, the upscale does not show, and they
cost about a tenth of what they cost on a 12 MP photo. Every recipe is deterministic: same photo, same bytes.

Import this module through ``artboard.engines.sketch``, which caps OpenCV's decoder before cv2 loads.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, cached_property

import cv2
import numpy as np
from cv2.typing import MatLike

Recipe = Callable[["Frame"], MatLike]

WORK_EDGE = 1536  # long edge at which the slow filters run
TILE = 512  # side of the texture tiles (paper, canvas, strokes): repeated, never stretched


class Frame:
    """The photo at output size, with the intermediates recipes share, each computed once on first use."""

    def __init__(self, bgr: MatLike) -> None:
        self.bgr = bgr
        self.height: int = bgr.shape[0]
        self.width: int = bgr.shape[1]
        self.long_edge: int = max(self.width, self.height)

    def px(self, fraction: float) -> int:
        """A length given as a fraction of the long edge, at least one pixel."""
        return max(1, round(self.long_edge * fraction))

    def odd(self, fraction: float) -> int:
        """Like ``px``, for kernel sizes, which must be odd and at least 3."""
        return max(3, self.px(fraction) | 1)

    @cached_property
    def grey(self) -> MatLike:
        return cv2.cvtColor(self.bgr, cv2.COLOR_BGR2GRAY)

    @cached_property
    def smooth(self) -> MatLike:
        """Edge-preserving smoothing: flat areas lose noise and fine texture, outlines stay.

        Small-kernel bilateral passes on a copy at the working size, then upscaled: several small passes flatten
        more than one large pass, at a fraction of its cost.
        """
        small = shrink(self.bgr, WORK_EDGE)
        for _ in range(3):
            small = cv2.bilateralFilter(small, 5, 30, 5)
        return enlarge(small, self.width, self.height)

    @cached_property
    def smooth_grey(self) -> MatLike:
        return cv2.cvtColor(self.smooth, cv2.COLOR_BGR2GRAY)

    @cached_property
    def painted(self) -> MatLike:
        """Daubs of paint (Kuwahara filter) at the working size, upscaled."""
        small = shrink(self.bgr, WORK_EDGE)
        return enlarge(kuwahara(small, max(2, round(max(small.shape[:2]) / 256))), self.width, self.height)

    def texture(self, tile: MatLike) -> MatLike:
        """A seamless tile repeated over the whole frame."""
        rows = -(-self.height // tile.shape[0])
        cols = -(-self.width // tile.shape[1])
        return np.ascontiguousarray(np.tile(tile, (rows, cols))[: self.height, : self.width])


# Building blocks


def shrink(image: MatLike, edge: int) -> MatLike:
    """The image with its long edge at most ``edge`` (area averaging; never enlarged)."""
    height, width = image.shape[:2]
    scale = edge / max(width, height)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def enlarge(image: MatLike, width: int, height: int) -> MatLike:
    """The image stretched to exactly ``width`` x ``height`` (bilinear: what is enlarged here is smooth)."""
    if image.shape[1] == width and image.shape[0] == height:
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


def soft_blur(image: MatLike, sigma: float) -> MatLike:
    """A wide Gaussian blur, computed on a reduced copy: a wide blur has no detail a reduction could lose."""
    factor = int(min(4, sigma // 3))
    if factor < 2:
        return cv2.GaussianBlur(image, (0, 0), sigma)
    height, width = image.shape[:2]
    small = cv2.resize(image, (max(1, width // factor), max(1, height // factor)), interpolation=cv2.INTER_AREA)
    return enlarge(cv2.GaussianBlur(small, (0, 0), sigma / factor), width, height)


def dodge(grey: MatLike, sigma: float) -> MatLike:
    """Colour dodge of the grey by its own blur: flat areas turn white, edges stay as dark pencil lines."""
    return cv2.divide(grey, soft_blur(grey, sigma), scale=256)


def edge_strength(grey: MatLike, gain: float) -> MatLike:
    """Gradient magnitude (Scharr, the most rotation-even 3x3 derivative), times ``gain``, as 0..255."""
    dx = cv2.convertScaleAbs(cv2.Scharr(grey, cv2.CV_16S, 1, 0), alpha=gain / 16)
    dy = cv2.convertScaleAbs(cv2.Scharr(grey, cv2.CV_16S, 0, 1), alpha=gain / 16)
    return cv2.add(dx, dy)


def levels(image: MatLike, black: float, white: float, exponent: float = 1.0) -> MatLike:
    """Map ``black``..``white`` (0..1) onto black..white, clipping outside, then apply a gamma ``exponent``.

    An exponent above 1 darkens the mid-tones; ``black`` above ``white`` inverts.
    """
    return cv2.LUT(image, _levels_table(black, white, exponent))


@cache
def _levels_table(black: float, white: float, exponent: float) -> MatLike:
    values = np.arange(256, dtype=np.float32) / 255
    return np.round(np.clip((values - black) / (white - black), 0, 1) ** exponent * 255).astype(np.uint8)


def sharpen(image: MatLike, sigma: float, amount: float) -> MatLike:
    """Unsharp mask: adds ``amount`` times the detail finer than ``sigma``."""
    return cv2.addWeighted(image, 1 + amount, cv2.GaussianBlur(image, (0, 0), sigma), -amount, 0)


def multiply(image: MatLike, layer: MatLike) -> MatLike:
    """Multiply blend (darkens): a one-channel ``layer`` applies to every channel of a colour image."""
    if image.ndim == 3 and layer.ndim == 2:
        layer = cv2.cvtColor(layer, cv2.COLOR_GRAY2BGR)
    return cv2.multiply(image, layer, scale=1 / 255)


def lighten(image: MatLike, layer: MatLike) -> MatLike:
    """Lighten blend: the lighter of the two, a one-channel ``layer`` applying to every channel."""
    if image.ndim == 3 and layer.ndim == 2:
        layer = cv2.cvtColor(layer, cv2.COLOR_GRAY2BGR)
    return cv2.max(image, layer)


def fade(layer: MatLike, strength: float) -> MatLike:
    """A darkening layer made fainter: ``strength`` 0 gives white (no effect), 1 the layer unchanged."""
    return cv2.convertScaleAbs(layer, alpha=strength, beta=255 * (1 - strength))


def colourise(bgr: MatLike, saturation: float, floor: float = 0.0, ceiling: float = 1.0, steps: int = 0) -> MatLike:
    """Scale the saturation, map brightness into ``floor``..``ceiling`` and, when ``steps`` is given, flatten
    saturation and brightness to that many levels (hues kept): one lookup table in HSV."""
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
    return cv2.cvtColor(cv2.LUT(hsv, _hsv_table(saturation, floor, ceiling, steps)), cv2.COLOR_HSV2BGR)


@cache
def _hsv_table(saturation: float, floor: float, ceiling: float, steps: int) -> MatLike:
    values = np.arange(256, dtype=np.float32) / 255
    if steps:
        values = (np.minimum(np.floor(values * steps), steps - 1) + 0.5) / steps
    hue = np.arange(256, dtype=np.float32)
    sat = np.clip(values * saturation, 0, 1) * 255
    val = np.clip(floor + values * (ceiling - floor), 0, 1) * 255
    return np.round(np.dstack([hue, sat, val])).astype(np.uint8)


def threshold(grey: MatLike, level: int) -> MatLike:
    """White where ``grey`` is above ``level``, black elsewhere."""
    return cv2.threshold(grey, level, 255, cv2.THRESH_BINARY)[1]


def ink_lines(grey: MatLike, block: int, offset: int) -> MatLike:
    """Black lines where a pixel is darker than its neighbourhood's mean by more than ``offset``."""
    return cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, offset)


def shade_with(pattern: MatLike, grey: MatLike, level: int) -> MatLike:
    """``pattern`` where ``grey`` is at or below ``level``, white elsewhere."""
    return cv2.max(pattern, threshold(grey, level))


def emboss(bgr: MatLike, strength: float) -> MatLike:
    """Relief lit from the top left: paint ridges catch light on one side and shade on the other."""
    kernel = np.array([[-1, -1, 0], [-1, 0, 1], [0, 1, 1]], np.float32) * strength
    kernel[1, 1] += 1
    return cv2.filter2D(bgr, -1, kernel)


def kuwahara(bgr: MatLike, radius: int) -> MatLike:
    """Kuwahara filter: each pixel takes the mean colour of the least varied of its four corner squares.

    Flat patches with sharp borders, like strokes of thick paint. Box filters make it O(1) per pixel.
    """
    side = radius + 1
    padded = cv2.copyMakeBorder(bgr, radius, radius, radius, radius, cv2.BORDER_REFLECT)
    grey = cv2.cvtColor(padded, cv2.COLOR_BGR2GRAY).astype(np.float32)
    means = cv2.blur(padded, (side, side), anchor=(0, 0), borderType=cv2.BORDER_REFLECT)
    grey_mean = cv2.blur(grey, (side, side), anchor=(0, 0), borderType=cv2.BORDER_REFLECT)
    variance = cv2.blur(grey * grey, (side, side), anchor=(0, 0), borderType=cv2.BORDER_REFLECT) - grey_mean**2
    height, width = bgr.shape[:2]
    best = means[:height, :width].copy()
    least = variance[:height, :width].copy()
    for dy, dx in ((0, radius), (radius, 0), (radius, radius)):
        candidate = variance[dy : dy + height, dx : dx + width]
        better = candidate < least
        best[better] = means[dy : dy + height, dx : dx + width][better]
        least = np.minimum(least, candidate)
    return best


# Textures: seamless tiles, made once per process


def _wrap_blur(tile: MatLike, kernel: MatLike) -> MatLike:
    """Filter a tile as if it repeated on every side, so the repeated tile shows no seams."""
    pad = max(kernel.shape) // 2 + 1
    wrapped = cv2.copyMakeBorder(tile, pad, pad, pad, pad, cv2.BORDER_WRAP)
    return cv2.filter2D(wrapped, -1, kernel)[pad:-pad, pad:-pad]


def _normalised(values: MatLike, low: int, high: int) -> MatLike:
    """Stretched so the smallest value becomes ``low`` and the largest ``high``, as 8 bits."""
    least, most = float(values.min()), float(values.max())
    return np.round(low + (values - least) * ((high - low) / (most - least))).astype(np.uint8)


@cache
def paper_tile() -> MatLike:
    """Paper grain: fine mottling, mostly near white, to multiply over a drawing."""
    noise = np.random.default_rng(1).normal(0, 1, (TILE, TILE)).astype(np.float32)
    blurred = _wrap_blur(noise, cv2.getGaussianKernel(5, 1.0) @ cv2.getGaussianKernel(5, 1.0).T)
    return _normalised(blurred, 200, 255)


@cache
def stroke_tile(length: int = 21) -> MatLike:
    """Diagonal streaks of a stick dragged over paper (charcoal, chalk), near white with darker streaks."""
    noise = np.random.default_rng(2).normal(0, 1, (TILE, TILE)).astype(np.float32)
    kernel = np.eye(length, dtype=np.float32)[::-1] / length  # a bottom-left to top-right line
    return _normalised(_wrap_blur(noise, kernel), 120, 255)


@cache
def canvas_tile(period: int = 6) -> MatLike:
    """Canvas weave: crossing threads every ``period`` px, with a little irregularity."""
    side = TILE - TILE % period
    x = np.arange(side, dtype=np.float32) * 2 * np.pi / period
    weave = np.sin(x)[None, :] * np.sin(x)[:, None]
    noise = np.random.default_rng(3).normal(0, 0.35, (side, side)).astype(np.float32)
    return _normalised(weave + noise, 190, 255)


@cache
def hatch_tile(spacing: int, rising: bool) -> MatLike:
    """Parallel diagonal ink lines, black on white, ``spacing`` px apart; the tile repeats seamlessly."""
    side = spacing * max(1, 256 // spacing)
    y, x = np.mgrid[0:side, 0:side]
    diagonal = (x + y) if rising else (x - y)
    width = max(1, spacing // 4)
    return np.where(diagonal % spacing < width, 0, 255).astype(np.uint8)


# The recipes, by style.
# Pencil: the grey dodged by its blur leaves thin lines on white; shading and hatching only in the shadows.


def pencil_basic(f: Frame) -> MatLike:
    return levels(dodge(f.grey, f.px(1 / 200)), 0, 1, 1.6)


def pencil_advanced(f: Frame) -> MatLike:
    lines = levels(dodge(f.smooth_grey, f.px(1 / 150)), 0, 1, 1.8)
    shading = fade(levels(f.smooth_grey, 0, 0.6), 0.3)  # graphite in the shadows only
    return multiply(multiply(lines, shading), f.texture(paper_tile()))


def pencil_artistic(f: Frame) -> MatLike:
    lines = levels(dodge(sharpen(f.grey, f.px(1 / 300), 1.0), f.px(1 / 300)), 0, 1, 2.2)
    spacing = max(4, f.px(1 / 180))
    hatched = shade_with(fade(f.texture(hatch_tile(spacing, rising=True)), 0.45), f.smooth_grey, 110)
    return multiply(multiply(lines, hatched), f.texture(paper_tile()))


# Charcoal: dark, contrasty tones smudged, strong edges drawn over them, diagonal streaks of the stick.


def charcoal_basic(f: Frame) -> MatLike:
    smudged = soft_blur(f.grey, f.px(1 / 600))
    return cv2.subtract(levels(smudged, 0.1, 0.85, 1.4), edge_strength(smudged, 1.5))


def charcoal_strokes(grey: MatLike, gain: float) -> MatLike:
    """Outlines for the stick: strong edges only, so fine texture (foliage, noise) does not blacken the page."""
    return levels(edge_strength(grey, gain), 0.3, 1.0)


def charcoal_advanced(f: Frame) -> MatLike:
    drawn = cv2.subtract(levels(f.smooth_grey, 0.08, 0.85, 1.5), charcoal_strokes(f.smooth_grey, 2.0))
    return soft_blur(multiply(drawn, f.texture(stroke_tile())), 1.0)


def charcoal_artistic(f: Frame) -> MatLike:
    detail = sharpen(f.smooth_grey, f.px(1 / 250), 1.5)
    strokes = cv2.dilate(charcoal_strokes(detail, 1.8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
    highlights = levels(detail, 0.1, 0.75, 1.3)  # the eraser lifts the lights back to white paper
    return multiply(cv2.subtract(highlights, strokes), f.texture(stroke_tile(31)))


# Ink: black or white only. Lines from an adaptive threshold, shadows filled solid or hatched.


def ink_basic(f: Frame) -> MatLike:
    return ink_lines(cv2.medianBlur(f.grey, 5), f.odd(1 / 120), 8)


def ink_advanced(f: Frame) -> MatLike:
    lines = ink_lines(f.smooth_grey, f.odd(1 / 100), 6)
    return cv2.min(lines, threshold(f.smooth_grey, 55))


def ink_artistic(f: Frame) -> MatLike:
    lines = cv2.erode(ink_lines(sharpen(f.smooth_grey, 2, 1.0), f.odd(1 / 90), 5), np.ones((2, 2), np.uint8))
    spacing = max(4, f.px(1 / 220))
    light = shade_with(f.texture(hatch_tile(spacing, rising=True)), f.smooth_grey, 120)
    dark = shade_with(f.texture(hatch_tile(spacing, rising=False)), f.smooth_grey, 75)
    return cv2.min(cv2.min(lines, light), cv2.min(dark, threshold(f.smooth_grey, 35)))


# Watercolor: light, soft washes of colour, darker where the pigment pools at edges, on grainy paper.


def watercolor_basic(f: Frame) -> MatLike:
    wash = enlarge(cv2.medianBlur(shrink(f.bgr, 192), 5), f.width, f.height)
    wash = colourise(wash, 1.2, 0.2)
    return multiply(wash, fade(dodge(f.grey, f.px(1 / 300)), 0.6))


def watercolor_advanced(f: Frame) -> MatLike:
    wash = colourise(f.smooth, 1.25, 0.15)
    pooled = fade(cv2.bitwise_not(soft_blur(edge_strength(f.smooth_grey, 3.0), 1.5)), 0.5)
    return multiply(multiply(wash, pooled), f.texture(paper_tile()))


def watercolor_artistic(f: Frame) -> MatLike:
    wash = colourise(soft_blur(f.smooth, f.px(1 / 700)), 1.45, 0.12)
    pooled = fade(cv2.bitwise_not(soft_blur(edge_strength(f.smooth_grey, 3.0), 1.5)), 0.6)
    underdrawing = fade(dodge(sharpen(f.grey, 1.5, 1.0), f.px(1 / 400)), 0.7)
    return multiply(multiply(multiply(wash, pooled), underdrawing), f.texture(paper_tile()))


# Pastel: pale, desaturated colour with soft outlines; the paper shows through the chalk's gaps.


def pastel_basic(f: Frame) -> MatLike:
    chalk = colourise(soft_blur(f.bgr, f.px(1 / 600)), 0.55, 0.4, 0.98)
    return multiply(chalk, fade(dodge(f.grey, f.px(1 / 250)), 0.5))


def pastel_advanced(f: Frame) -> MatLike:
    chalk = multiply(colourise(f.smooth, 0.6, 0.38, 0.98), fade(dodge(f.smooth_grey, f.px(1 / 200)), 0.45))
    return lighten(multiply(chalk, fade(f.texture(stroke_tile(15)), 0.4)), chalk_gaps(f))


def chalk_gaps(f: Frame) -> MatLike:
    """Where the paper shows through a chalk layer: its pits and the grooves between strokes, light grey."""
    pits = levels(f.texture(paper_tile()), 0.93, 0.8)
    grooves = levels(f.texture(stroke_tile(15)), 0.7, 0.47)
    return cv2.convertScaleAbs(cv2.max(pits, grooves), alpha=0.85)


def pastel_artistic(f: Frame) -> MatLike:
    chalk = colourise(sharpen(f.smooth, f.px(1 / 300), 0.8), 0.75, 0.35, 0.98)
    strokes = fade(f.texture(stroke_tile(15)), 0.5)
    outlines = fade(dodge(f.grey, f.px(1 / 350)), 0.8)
    return lighten(multiply(multiply(chalk, strokes), outlines), chalk_gaps(f))


# Oil: saturated daubs of paint (median or Kuwahara) with the relief of the paint lit from the top left.


def oil_basic(f: Frame) -> MatLike:
    daubs = enlarge(cv2.medianBlur(shrink(f.bgr, 600), 5), f.width, f.height)
    return emboss(colourise(daubs, 1.3, 0.05), 0.4)


def oil_advanced(f: Frame) -> MatLike:
    paint = colourise(f.painted, 1.3, 0.05)
    return emboss(multiply(paint, f.texture(canvas_tile())), 0.6)


def oil_artistic(f: Frame) -> MatLike:
    paint = colourise(sharpen(f.painted, f.px(1 / 400), 1.0), 1.5, 0.05)
    return emboss(multiply(paint, f.texture(stroke_tile(11))), 1.0)


# Acrylic: flat fields of vivid colour (saturation and brightness in few steps, hues kept), crisp dark outlines.


def acrylic_basic(f: Frame) -> MatLike:
    return colourise(cv2.medianBlur(f.bgr, 5), 1.5, steps=5)


def acrylic_advanced(f: Frame) -> MatLike:
    fields = colourise(f.smooth, 1.5, steps=6)
    return cv2.min(fields, cv2.cvtColor(ink_lines(f.smooth_grey, f.odd(1 / 80), 7), cv2.COLOR_GRAY2BGR))


def acrylic_artistic(f: Frame) -> MatLike:
    fields = colourise(sharpen(f.smooth, f.px(1 / 300), 1.2), 1.7, steps=6)
    outlined = cv2.min(fields, cv2.cvtColor(ink_lines(f.smooth_grey, f.odd(1 / 80), 7), cv2.COLOR_GRAY2BGR))
    return multiply(outlined, f.texture(canvas_tile()))


RECIPES: dict[tuple[str, str], Recipe] = {
    ("PENCIL", "basic"): pencil_basic,
    ("PENCIL", "advanced"): pencil_advanced,
    ("PENCIL", "artistic"): pencil_artistic,
    ("CHARCOAL", "basic"): charcoal_basic,
    ("CHARCOAL", "advanced"): charcoal_advanced,
    ("CHARCOAL", "artistic"): charcoal_artistic,
    ("WATERCOLOR", "basic"): watercolor_basic,
    ("WATERCOLOR", "advanced"): watercolor_advanced,
    ("WATERCOLOR", "artistic"): watercolor_artistic,
    ("INK", "basic"): ink_basic,
    ("INK", "advanced"): ink_advanced,
    ("INK", "artistic"): ink_artistic,
    ("PASTEL", "basic"): pastel_basic,
    ("PASTEL", "advanced"): pastel_advanced,
    ("PASTEL", "artistic"): pastel_artistic,
    ("OIL", "basic"): oil_basic,
    ("OIL", "advanced"): oil_advanced,
    ("OIL", "artistic"): oil_artistic,
    ("ACRYLIC", "basic"): acrylic_basic,
    ("ACRYLIC", "advanced"): acrylic_advanced,
    ("ACRYLIC", "artistic"): acrylic_artistic,
}
