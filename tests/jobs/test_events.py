"""Live job events that lose nothing, over a real WebSocket (`/ws`) and real Server-Sent Events
(`/api/jobs/events`, `/api/jobs/{id}/events`): every event of the user's jobs once, in `seq` order, a replay of
what a client missed when it reconnects with `since` (or `Last-Event-ID`), nobody else's events, and the socket
closed with 4401 or 4403 when the caller may not listen. The sketch engine is held at progress checkpoints the
test releases, so a client can leave and come back mid-job on purpose."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from artboard.engines.base import EngineResult, JobCanceled, JobContext
from artboard.engines.sketch_engine import SketchEngine
from artboard.jobs import stream
from artboard.kit.pubsub import Subscription
from tests.jobs.held_engine import REAL_RUN, poll, upload
from tests.support import REDIS_URL, Account, LiveServer, assert_envelope, live_server, register_and_login

# How long a test waits for the next message before it fails (a bound, not a timing assertion).
WAIT_S = 30
EVIL = "https://evil.example"
Event = dict[str, Any]
Items = Iterator[Event | None]  # what a client receives: job events, None for a keep-alive


class Held:
    """Stands in for the sketch engine: reports each step's progress and waits there until the test lets the
    step pass, then draws the real sketch (``HeldEngine`` holds a job at its start, before any progress)."""

    STEPS = (0.25, 0.5)

    def __init__(self) -> None:
        self.passes = [threading.Event() for _ in self.STEPS]

    def let_pass(self, step: int) -> None:
        self.passes[step].set()

    def release(self) -> None:
        for gate in self.passes:
            gate.set()

    async def run(self, engine: SketchEngine, context: JobContext) -> EngineResult:
        for fraction, gate in zip(self.STEPS, self.passes, strict=True):
            context.progress(fraction, f"Held at {fraction:.0%}")
            while not gate.is_set():
                if context.should_stop():
                    raise JobCanceled("stopped while held")
                await asyncio.sleep(0.02)
        return await REAL_RUN(engine, context)


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[Held]:
    held = Held()

    async def run(engine: SketchEngine, context: JobContext) -> EngineResult:
        return await held.run(engine, context)

    monkeypatch.setattr(SketchEngine, "run", run)
    yield held
    held.release()


# ---- clients ------------------------------------------------------------------------------------------------


def open_socket(server: LiveServer, query: dict[str, Any] | None = None, **options: Any) -> ClientConnection:
    url = server.url.replace("http://", "ws://", 1) + "/ws" + (f"?{urlencode(query)}" if query else "")
    return connect(url, open_timeout=WAIT_S, close_timeout=5, proxy=None, **options)


def socket_items(connection: ClientConnection) -> Items:
    while True:
        message = json.loads(connection.recv(timeout=WAIT_S))
        yield None if message == {"type": "ping"} else message


def closed_with(connection: ClientConnection) -> tuple[int, str]:
    """The code and reason the server closed the socket with (after any messages before it)."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            connection.recv(timeout=WAIT_S)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


def sse_items(response: httpx.Response) -> Items:
    """Server-Sent Events as a browser's EventSource reads them; each event's id and type checked."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line.startswith(":"):
            yield None
        elif line:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        elif fields:
            event = json.loads(fields["data"])
            assert fields["id"] == str(event["seq"]) and fields["event"] == event["type"] == "job.updated", fields
            yield event
            fields = {}


@contextmanager
def websocket(server: LiveServer, account: Account, since: int | None) -> Iterator[Items]:
    query = {"token": account.access_token} | ({"since": since} if since is not None else {})
    with open_socket(server, query) as connection:
        yield socket_items(connection)


@contextmanager
def event_source(
    server: LiveServer, account: Account, since: int | None, path: str = "/api/jobs/events", *, resume: str = "header"
) -> Iterator[Items]:
    """An SSE stream; ``since`` goes as ``Last-Event-ID`` (how EventSource resumes) or as ``?since=``."""
    headers = dict(account.headers)
    params = {}
    if since is not None and resume == "header":
        headers["Last-Event-ID"] = str(since)
    elif since is not None:
        params["since"] = since
    with (
        httpx.Client(base_url=server.url, timeout=WAIT_S) as http,
        http.stream("GET", path, params=params, headers=headers) as response,
    ):
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield sse_items(response)


def sse_with_query(server: LiveServer, account: Account, since: int | None) -> AbstractContextManager[Items]:
    return event_source(server, account, since, resume="query")


Transport = Callable[[LiveServer, Account, int | None], AbstractContextManager[Items]]
TRANSPORTS: dict[str, Transport] = {"websocket": websocket, "sse": event_source, "sse ?since=": sse_with_query}
BOTH = pytest.mark.parametrize("transport", [websocket, event_source], ids=["websocket", "sse"])


def until_live(items: Items) -> list[Event]:
    """The replay: the events before the first keep-alive, which comes once the stream is live."""
    replayed = []
    while (item := next(items)) is not None:
        replayed.append(item)
    return replayed


def take_until(items: Items, done: Callable[[Event], bool]) -> list[Event]:
    """Events up to and including the first that is ``done``; keep-alives skipped."""
    taken = []
    for item in items:
        if item is not None:
            taken.append(item)
            if done(item):
                return taken
    raise AssertionError(f"the stream ended before the awaited event; got {taken}")


def succeeded(event: Event) -> bool:
    return bool(event["job"]["status"] == "succeeded")


def at(fraction: float) -> Callable[[Event], bool]:
    return lambda event: bool(event["job"]["progress"] == fraction)


def numbered_from_one(events: list[Event]) -> bool:
    """No gap and no duplicate: a user's events are numbered 1, 2, 3, ..."""
    return [event["seq"] for event in events] == list(range(1, len(events) + 1))


# ---- the API ------------------------------------------------------------------------------------------------


def photo(http: httpx.Client, account: Account) -> str:
    """A real photograph in the account's gallery: its id."""
    return str(upload(http, account)["id"])


def submit(http: httpx.Client, account: Account, image_id: str) -> str:
    body = {"model": "sketch:charcoal", "image_id": image_id}
    response = http.post("/api/jobs", json=body, headers=account.headers)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def until_job(http: httpx.Client, account: Account, job_id: str, done: Callable[[dict[str, Any]], bool]) -> None:
    job = poll(lambda: http.get(f"/api/jobs/{job_id}", headers=account.headers), lambda r: done(r.json()), WAIT_S)
    assert done(job.json()), job.json()


# ---- tests --------------------------------------------------------------------------------------------------


@BOTH
def test_a_sketch_job_is_reported_queued_then_running_with_progress_then_succeeded(
    transport: Transport, server: LiveServer, client: httpx.Client, account: Account, held: Held
) -> None:
    image_id = photo(client, account)
    with transport(server, account, 0) as items:
        assert until_live(items) == []  # nothing happened yet
        job_id = submit(client, account, image_id)
        events = take_until(items, at(0.25))
        held.release()
        events += take_until(items, succeeded)
    assert numbered_from_one(events)
    assert {event["job"]["id"] for event in events} == {job_id}
    statuses = [event["job"]["status"] for event in events]
    assert statuses[0] == "queued" and set(statuses[1:-1]) == {"running"} and statuses[-1] == "succeeded"
    progress = [event["job"]["progress"] for event in events[1:]]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert len(events[-1]["job"]["result"]["images"]) == 1
    with transport(server, account, 0) as items:
        assert until_live(items) == events  # read back from the table, each is what went out live


@pytest.mark.parametrize("transport", TRANSPORTS.values(), ids=TRANSPORTS.keys())
def test_a_client_back_mid_job_gets_what_it_missed_then_the_rest_live_without_gap_or_duplicate(
    transport: Transport, server: LiveServer, client: httpx.Client, account: Account, held: Held
) -> None:
    image_id = photo(client, account)
    with transport(server, account, 0) as items:
        until_live(items)
        job_id = submit(client, account, image_id)
        before = take_until(items, at(0.25))
    held.let_pass(0)  # progress while nobody listens ...
    until_job(client, account, job_id, lambda job: job["progress"] == 0.5)
    with transport(server, account, before[-1]["seq"]) as items:
        missed = until_live(items)  # ... comes back from the table
        held.let_pass(1)
        after = take_until(items, succeeded)  # and the rest arrives live
    assert missed and missed[-1]["job"]["progress"] == 0.5
    assert numbered_from_one(before + missed + after)


@pytest.mark.parametrize("loss", ["subscription lost", "message dropped"])
def test_events_the_pubsub_loses_are_read_back_from_the_table(
    loss: str, server: LiveServer, client: httpx.Client, account: Account, held: Held, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis may drop messages (a reconnect, a subscriber too far behind): the subscription then ends as lost, or
    the next event's number jumps. Either way the stream reads the missing events back."""
    deliver, lost = Subscription.deliver, []

    def lossy(subscription: Subscription, message: str) -> None:
        if subscription.channel == f"user:{account.user['id']}" and not lost and '"status": "running"' in message:
            lost.append(message)
            if loss == "subscription lost":
                subscription.interrupt()
            return
        deliver(subscription, message)

    monkeypatch.setattr(Subscription, "deliver", lossy)
    image_id = photo(client, account)
    with websocket(server, account, 0) as items:
        until_live(items)
        submit(client, account, image_id)
        held.release()
        events = take_until(items, succeeded)
    assert lost and numbered_from_one(events)


@BOTH
def test_a_user_never_sees_another_users_events(
    transport: Transport, server: LiveServer, client: httpx.Client, account: Account, held: Held
) -> None:
    other = register_and_login(client, "other")
    held.release()
    mine, theirs = photo(client, account), photo(client, other)
    with transport(server, other, 0) as items:
        until_live(items)
        job_id = submit(client, account, mine)
        until_job(client, account, job_id, lambda job: job["status"] == "succeeded")
        their_job = submit(client, other, theirs)
        seen = take_until(items, succeeded)
    assert {event["job"]["id"] for event in seen} == {their_job}
    assert numbered_from_one(seen)


def test_without_since_only_what_happens_from_now_on_arrives(
    server: LiveServer, client: httpx.Client, account: Account, held: Held
) -> None:
    held.release()
    image_id = photo(client, account)
    earlier = submit(client, account, image_id)
    until_job(client, account, earlier, lambda job: job["status"] == "succeeded")
    with websocket(server, account, None) as items:
        assert until_live(items) == []
        later = submit(client, account, image_id)
        first = take_until(items, lambda event: True)
    assert [(event["job"]["id"], event["job"]["status"]) for event in first] == [(later, "queued")]


def test_one_jobs_stream_ends_after_its_final_event_and_then_answers_204(
    server: LiveServer, client: httpx.Client, account: Account, held: Held
) -> None:
    image_id = photo(client, account)
    job_id = submit(client, account, image_id)
    submit(client, account, image_id)  # another job of the same user's, running beside it
    path = f"/api/jobs/{job_id}/events"
    with event_source(server, account, 0, path) as items:
        events = take_until(items, at(0.25))
        held.release()
        events += [item for item in items if item is not None]  # the stream ends by itself
    assert {event["job"]["id"] for event in events} == {job_id}
    assert events[-1]["job"]["status"] == "succeeded"
    seqs = [event["seq"] for event in events]
    assert seqs == sorted(set(seqs))
    resumed = client.get(path, headers={**account.headers, "Last-Event-ID": str(seqs[-1])})
    assert resumed.status_code == 204  # EventSource stops reconnecting
    with event_source(server, account, seqs[-2], path) as items:
        assert [item["seq"] for item in items if item is not None] == seqs[-1:]


def test_a_stream_is_for_a_signed_in_caller_and_their_own_jobs(
    server: LiveServer, client: httpx.Client, account: Account
) -> None:
    job_id = submit(client, account, photo(client, account))
    other = register_and_login(client, "other")
    assert_envelope(client.get("/api/jobs/events"), 401, "authentication_error")
    assert_envelope(client.get(f"/api/jobs/{job_id}/events", headers=other.headers), 404, "not_found")
    assert_envelope(client.get("/api/jobs/events?since=x", headers=account.headers), 422, "validation_error")


@pytest.mark.parametrize(
    ("token", "since", "code"),
    [
        (None, None, 4401),
        ("not-a-token", None, 4401),
        ("signed out", None, 4401),
        ("valid", "-1", 4400),
        ("valid", "seven", 4400),
    ],
)
def test_a_socket_without_a_valid_token_or_since_is_closed_with_4401_or_4400(
    token: str | None, since: str | None, code: int, server: LiveServer, client: httpx.Client, account: Account
) -> None:
    if token == "signed out":
        assert client.post("/auth/logout", json={"refresh_token": account.refresh_token}).status_code == 204
    query = {"since": since} if since is not None else {}
    if token is not None:
        query["token"] = account.access_token if token in ("valid", "signed out") else token
    with open_socket(server, query) as connection:
        closed = closed_with(connection)
    assert closed[0] == code and closed[1], closed


def test_a_token_revoked_mid_connection_ends_the_socket_with_4401_and_the_event_stream(
    server: LiveServer, client: httpx.Client, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "KEEPALIVE_S", 0.1)
    with open_socket(server, {"token": account.access_token}) as connection, event_source(server, account, None) as sse:
        assert json.loads(connection.recv(timeout=WAIT_S)) == {"type": "ping"}
        assert next(sse) is None
        assert client.post("/auth/logout", json={"refresh_token": account.refresh_token}).status_code == 204
        assert closed_with(connection) == (4401, stream.SIGN_IN)
        assert set(sse) <= {None}  # keep-alives until the stream ends
    assert_envelope(client.get("/api/jobs/events", headers=account.headers), 401, "authentication_error")


@pytest.mark.parametrize(
    ("credentials", "origin", "code"),
    [
        ("cookie", EVIL, 4403),
        ("cookie", "own", None),
        ("cookie", None, None),  # a program, not a page
        ("query", EVIL, None),
        ("header", EVIL, None),
    ],
)
def test_a_cookie_socket_from_a_foreign_page_is_refused(
    credentials: str, origin: str | None, code: int | None, server: LiveServer, account: Account
) -> None:
    """A page elsewhere could open a socket that the browser signs with the cookie; a token it has to name
    itself (in the query or a header) is no ambient authority."""
    query = {"token": account.access_token} if credentials == "query" else {}
    headers = {
        "cookie": {"Cookie": f"access_token={account.access_token}"},
        "header": account.headers,
        "query": {},
    }[credentials]
    page = server.url if origin == "own" else origin
    with open_socket(server, query, additional_headers=headers, origin=page) as connection:
        if code is None:
            assert json.loads(connection.recv(timeout=WAIT_S)) == {"type": "ping"}
        else:
            assert closed_with(connection)[0] == code


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp("events-redis")
    with live_server(data_dir, redis_url=REDIS_URL) as running:
        yield running


@BOTH
def test_events_arrive_over_redis_pubsub(transport: Transport, redis_server: LiveServer, held: Held) -> None:
    with httpx.Client(base_url=redis_server.url, timeout=WAIT_S) as http:
        account = register_and_login(http)
        image_id = photo(http, account)
        with transport(redis_server, account, None) as items:
            until_live(items)
            job_id = submit(http, account, image_id)
            events = take_until(items, at(0.25))
            held.release()
            events += take_until(items, succeeded)
    assert numbered_from_one(events) and {event["job"]["id"] for event in events} == {job_id}
