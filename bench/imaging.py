"""Imaging benchmark: Artboard's thumbnail and 512 px square pipelines against the decode floor.

Inputs are made from real photographs (Pillow's test images, fetched by ./scripts/test): 12 MP JPEGs and
1024 px PNGs. Everything runs on one core, one thread; variants are interleaved round by round so machine
noise hits them alike. The anchors, run in the same process: Pillow's DCT-scaled decode alone at 1/8 (the
floor for a thumbnail) and at 1/4 (the floor for a 512 square), naive Pillow (full decode + LANCZOS), and
pyvips ``thumbnail_buffer``.

Targets: thumbnail >= 0.9 of the 1/8 floor, 512 letterbox >= 0.8 of the 1/4 floor (12 MP JPEG).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).parents[1] / "src"))
from artboard.media.derivatives import make_square, make_thumbnail

IMAGES = Path(os.environ.get("ARTBOARD_TEST_IMAGES", "ARTBOARD_TEST_IMAGES is not set"))
SOURCES = ["flower.jpg", "frozenpond.mpo", "flower2.jpg", "hopper.jpg"]
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "9"))
RESULTS = Path(__file__).parent / "results"


def make_inputs() -> dict[str, list[bytes]]:
    missing = [name for name in SOURCES if not (IMAGES / name).exists()]
    if missing:
        sys.exit(f"bench/imaging: {IMAGES} lacks {missing}; run it through bench/run, which fetches them")
    jpegs, pngs = [], []
    for name in SOURCES:
        photo = Image.open(IMAGES / name).convert("RGB")
        for buffer, size, fmt, options in (
            (io.BytesIO(), (4000, 3000), "JPEG", {"quality": 90}),
            (io.BytesIO(), (1024, 768), "PNG", {}),
        ):
            photo.resize(size, Image.Resampling.LANCZOS).save(buffer, fmt, **options)
            (jpegs if fmt == "JPEG" else pngs).append(buffer.getvalue())
    return {"12 MP JPEG": jpegs, "1024 px PNG": pngs}


def floor(scale: int) -> Callable[[bytes], object]:
    def decode(data: bytes) -> object:
        image = Image.open(io.BytesIO(data))
        image.draft("RGB", (image.width // scale, image.height // scale))
        image.load()
        return image

    return decode


def naive_thumbnail(data: bytes) -> object:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    image.load()
    return image.resize((128, 96), Image.Resampling.LANCZOS)


def vips_thumbnail(data: bytes) -> object:
    import pyvips

    return pyvips.Image.thumbnail_buffer(data, 128, size="down").write_to_buffer(".jpg[Q=85,keep=none]")


VARIANTS: dict[str, Callable[[bytes], object]] = {
    "floor: decode at 1/8": floor(8),
    "floor: decode at 1/4": floor(4),
    "artboard thumbnail 128": lambda data: make_thumbnail(io.BytesIO(data)),
    "artboard square 512": lambda data: make_square(io.BytesIO(data)),
    "naive Pillow thumbnail": naive_thumbnail,
    "pyvips thumbnail": vips_thumbnail,
}


def measure(inputs: list[bytes]) -> dict[str, float]:
    """Seconds per image, the median over interleaved rounds."""
    samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for function in VARIANTS.values():
        function(inputs[0])  # warm caches and lazy imports
    for _ in range(ROUNDS):
        for name, function in VARIANTS.items():
            started = time.perf_counter()
            for data in inputs:
                function(data)
            samples[name].append((time.perf_counter() - started) / len(inputs))
    return {name: statistics.median(values) for name, values in samples.items()}


def verdict(ratio: float, target: float) -> str:
    return "met" if ratio >= target else "NOT met"


def main() -> None:
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    report: dict[str, dict[str, float]] = {}
    for label, inputs in make_inputs().items():
        timings = measure(inputs)
        report[label] = timings
        print(f"\n{label} ({len(inputs)} images x {ROUNDS} rounds, one core)")
        print(f"{'pipeline':28} {'ms/image':>9} {'images/s':>9} {'vs 1/8 floor':>13} {'vs 1/4 floor':>13}")
        for name, seconds in timings.items():
            eighth = timings["floor: decode at 1/8"] / seconds
            quarter = timings["floor: decode at 1/4"] / seconds
            print(f"{name:28} {seconds * 1000:9.1f} {1 / seconds:9.1f} {eighth:13.2f} {quarter:13.2f}")
    jpeg = report["12 MP JPEG"]
    thumb_ratio = jpeg["floor: decode at 1/8"] / jpeg["artboard thumbnail 128"]
    square_ratio = jpeg["floor: decode at 1/4"] / jpeg["artboard square 512"]
    print(f"\nthumbnail: {thumb_ratio:.2f} of the 1/8 floor (target >= 0.90): {verdict(thumb_ratio, 0.9)}")
    print(f"512 square: {square_ratio:.2f} of the 1/4 floor (target >= 0.80): {verdict(square_ratio, 0.8)}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "imaging.json").write_text(
        json.dumps(
            {"seconds_per_image": report, "thumbnail_vs_floor": thumb_ratio, "square_vs_floor": square_ratio}, indent=2
        )
    )


if __name__ == "__main__":
    main()
