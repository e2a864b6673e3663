"""Provider benchmark: what Artboard adds to one FAL generation, beside calling FAL directly.

A local FAL stand-in (``tests/fakes/fal_server.py``, outcome ``instant``: the first status call answers
COMPLETED, the result is one 1024x1024 JPEG, a different file each time) runs in this process. Two clients
call it alternately, one generation at a time:

* anchor: plain httpx in this process speaking FAL's queue protocol: submit, one status call, the result, the
  image download;
* Artboard: ``artboard serve`` (embedded, SQLite, a temp data dir, ``FAL_KEY`` set, its own process) answering
  seed 001's ``POST /api/custom/generate/image``: the job queued, claimed, the same four FAL calls, the image
  stored with its thumbnail and square and saved to the gallery, the charge in the ledger, the reply.

Reports p50/p99 of each and generations/s, and the overhead (Artboard p50 minus anchor p50).
Target: <= 20 ms added at p50 per generation, download and thumbnails included, for a 1 MP result.
Settings: BENCH_GENERATIONS (per side, default 100), BENCH_DATABASE_URL (Artboard's database; default
SQLite). Writes bench/results/providers.json.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
from tests.fakes.fal_server import fake_fal  # noqa: E402
from tests.support import free_port, serving_process  # noqa: E402

RESULTS = Path(__file__).parent / "results"
GENERATIONS = int(os.environ.get("BENCH_GENERATIONS", "100"))
TARGET_MS = 20.0
PROMPT = {"prompt": "a lighthouse at dusk", "num_images": 1}


def direct(http: httpx.Client, base: str, key: str) -> None:
    headers = {"Authorization": f"Key {key}"}
    submitted = http.post(f"{base}/fal-ai/flux/schnell", json=PROMPT, headers=headers).json()
    status = http.get(submitted["status_url"], params={"logs": "1"}, headers=headers).json()
    assert status["status"] == "COMPLETED", status
    result = http.get(submitted["response_url"], headers=headers).json()
    image = http.get(result["images"][0]["url"])
    assert image.status_code == 200 and len(image.content) > 1000


def through_artboard(http: httpx.Client, headers: dict[str, str]) -> None:
    response = http.post(
        "/api/custom/generate/image", json={"model": "flux/schnell", **{"prompt": PROMPT["prompt"]}}, headers=headers
    )
    assert response.status_code == 200, response.text


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> int:
    with fake_fal() as fal, tempfile.TemporaryDirectory() as workdir:
        fal.reset(outcome="instant")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {"ARTBOARD_FAL_BASE_URL": fal.url, "FAL_KEY": fal.key}
        if database_url := os.environ.get("BENCH_DATABASE_URL"):
            env["ARTBOARD_DATABASE_URL"] = database_url
        artboard = str(Path(sys.executable).parent / "artboard")
        argv = [artboard, "serve", "--port", str(port), "--data-dir", f"{workdir}/data"]
        with (
            serving_process(argv, Path(workdir), f"{url}/health", env=env),
            httpx.Client(base_url=url, timeout=60) as http,
        ):
            email = "bench@example.com"
            http.post("/auth/register", json={"email": email, "password": "bench password 1"})
            token = http.post("/auth/login", json={"email": email, "password": "bench password 1"}).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            for _ in range(5):  # warm both paths
                direct(http, fal.url, fal.key)
                through_artboard(http, headers)
            anchor: list[float] = []
            artboard: list[float] = []
            for _ in range(GENERATIONS):
                started = time.perf_counter()
                direct(http, fal.url, fal.key)
                anchor.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                through_artboard(http, headers)
                artboard.append((time.perf_counter() - started) * 1000)
    report = {
        "generations": GENERATIONS,
        "anchor_ms": {"p50": statistics.median(anchor), "p99": percentile(anchor, 0.99)},
        "artboard_ms": {"p50": statistics.median(artboard), "p99": percentile(artboard, 0.99)},
        "anchor_per_s": 1000 / statistics.mean(anchor),
        "artboard_per_s": 1000 / statistics.mean(artboard),
    }
    added = report["artboard_ms"]["p50"] - report["anchor_ms"]["p50"]
    report["added_p50_ms"] = added
    print(f"{'path':<34}{'p50 ms':>9}{'p99 ms':>9}{'gen/s':>8}")
    print(
        f"{'anchor: httpx straight to FAL':<34}{report['anchor_ms']['p50']:9.1f}{report['anchor_ms']['p99']:9.1f}"
        f"{report['anchor_per_s']:8.1f}"
    )
    print(
        f"{'Artboard generate/image':<34}{report['artboard_ms']['p50']:9.1f}{report['artboard_ms']['p99']:9.1f}"
        f"{report['artboard_per_s']:8.1f}"
    )
    verdict = "met" if added <= TARGET_MS else "missed"
    print(f"added at p50: {added:.1f} ms (target <= {TARGET_MS:g} ms: {verdict})")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "providers.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
