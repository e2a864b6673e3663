"""Sketch benchmark: every style x method of ``render_sketch`` against straightforward OpenCV at full resolution.

Inputs are made from a real camera photograph (Pillow's test image ``fujifilm.mpo``, 3648x2736): a 12 MP JPEG
(4000x3000, quality 90) and a 1024 px JPEG. Everything runs on one core with one OpenCV thread and is timed
in CPU seconds (``time.process_time``), decode and encode included; variants are interleaved round by round so
machine noise hits them alike, and the median round counts.

The anchors, run in the same process: OpenCV's own filter on the full-resolution photo (full decode, the filter,
JPEG encode): ``pencilSketch`` for the drawing media, ``stylization`` for watercolor and pastel,
``edgePreservingFilter`` for oil and acrylic.

Targets (12 MP photo): every style x method < 0.5 s CPU, every ``basic`` < 0.1 s.
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

import cv2
import numpy as np
from cv2.typing import MatLike
from PIL import Image

sys.path.insert(0, str(Path(__file__).parents[1] / "src"))
from artboard.engines.sketch import METHODS, STYLES, render_sketch

IMAGES = Path(os.environ.get("ARTBOARD_TEST_IMAGES", "ARTBOARD_TEST_IMAGES is not set"))
SOURCE = "fujifilm.mpo"
SIZES = {"1024 px": (1024, 768), "12 MP": (4000, 3000)}
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
ANCHOR_ROUNDS = int(os.environ.get("BENCH_ANCHOR_ROUNDS", "3"))  # stylization alone takes ~14 s at 12 MP
TARGET_SECONDS = 0.5
TARGET_BASIC_SECONDS = 0.1
RESULTS = Path(__file__).parent / "results"


def make_inputs() -> dict[str, bytes]:
    if not (IMAGES / SOURCE).exists():
        sys.exit(f"bench/sketch: {IMAGES} lacks {SOURCE}; run it through bench/run, which fetches it")
    photo = Image.open(IMAGES / SOURCE).convert("RGB")
    inputs = {}
    for label, size in SIZES.items():
        buffer = io.BytesIO()
        photo.resize(size, Image.Resampling.LANCZOS).save(buffer, "JPEG", quality=90)
        inputs[label] = buffer.getvalue()
    return inputs


def full_resolution(filter_: Callable[[MatLike], MatLike]) -> Callable[[bytes], bytes]:
    """The straightforward pipeline: decode every pixel, filter, encode."""

    def run(data: bytes) -> bytes:
        photo = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        assert photo is not None
        return cv2.imencode(".jpg", filter_(photo), [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()

    return run


ANCHORS: dict[str, Callable[[bytes], bytes]] = {
    "cv2.pencilSketch": full_resolution(lambda photo: cv2.pencilSketch(photo)[0]),
    "cv2.stylization": full_resolution(lambda photo: cv2.stylization(photo)),
    "cv2.edgePreservingFilter": full_resolution(lambda photo: cv2.edgePreservingFilter(photo)),
}
ANCHOR_OF = {
    "PENCIL": "cv2.pencilSketch",
    "CHARCOAL": "cv2.pencilSketch",
    "INK": "cv2.pencilSketch",
    "WATERCOLOR": "cv2.stylization",
    "PASTEL": "cv2.stylization",
    "OIL": "cv2.edgePreservingFilter",
    "ACRYLIC": "cv2.edgePreservingFilter",
}


def sketch(style: str, method: str) -> Callable[[bytes], bytes]:
    return lambda data: render_sketch(data, style, method).data


VARIANTS: dict[str, Callable[[bytes], bytes]] = {
    f"{style.name} {method.name}": sketch(style.name, method.name) for style in STYLES for method in METHODS
}


def measure(data: bytes) -> dict[str, float]:
    """CPU seconds per image, the median over interleaved rounds (anchors in the first ANCHOR_ROUNDS only)."""
    everything = {**VARIANTS, **ANCHORS}
    samples: dict[str, list[float]] = {name: [] for name in everything}
    for function in VARIANTS.values():
        function(data)  # warm caches (texture tiles) and lazy imports
    for round_ in range(ROUNDS):
        for name, function in everything.items():
            if name in ANCHORS and round_ >= ANCHOR_ROUNDS:
                continue
            started = time.process_time()
            function(data)
            samples[name].append(time.process_time() - started)
    return {name: statistics.median(values) for name, values in samples.items()}


def target_of(name: str) -> float:
    return TARGET_BASIC_SECONDS if name.endswith(" basic") else TARGET_SECONDS


def main() -> None:
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    cv2.setNumThreads(1)
    report = {label: measure(data) for label, data in make_inputs().items()}
    small, large = report["1024 px"], report["12 MP"]
    print(f"\nCPU ms per image, one core, one thread, median of {ROUNDS} rounds ({ANCHOR_ROUNDS} for the anchors)")
    header = f"{'style method':22} {'1024 px':>8} {'12 MP':>8} {'target':>7}  {'verdict':8} {'anchor':25}"
    print(header + f" {'anchor 12 MP':>12} {'speed-up':>9}")
    verdicts: dict[str, bool] = {}
    for name in VARIANTS:
        anchor = ANCHOR_OF[name.split()[0]]
        verdicts[name] = large[name] < target_of(name)
        print(
            f"{name:22} {small[name] * 1000:8.0f} {large[name] * 1000:8.0f} {target_of(name) * 1000:7.0f}  "
            f"{'met' if verdicts[name] else 'NOT met':8} {anchor:25} {large[anchor] * 1000:12.0f} "
            f"{large[anchor] / large[name]:8.0f}x"
        )
    for anchor in ANCHORS:
        print(f"{anchor:22} {small[anchor] * 1000:8.0f} {large[anchor] * 1000:8.0f}  (anchor: full resolution)")
    slowest = max(VARIANTS, key=lambda name: large[name])
    slowest_basic = max((name for name in VARIANTS if name.endswith(" basic")), key=lambda name: large[name])
    missed = [name for name, met in verdicts.items() if not met]
    print(f"\nslowest at 12 MP: {slowest} {large[slowest] * 1000:.0f} ms (target < {TARGET_SECONDS * 1000:.0f})")
    print(f"slowest basic at 12 MP: {slowest_basic} {large[slowest_basic] * 1000:.0f} ms (target < 100)")
    print("every target met" if not missed else f"targets NOT met: {', '.join(missed)}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sketch.json").write_text(
        json.dumps(
            {
                "cpu_seconds_per_image": report,
                "targets_seconds": {name: target_of(name) for name in VARIANTS},
                "targets_met": verdicts,
                "all_targets_met": not missed,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
