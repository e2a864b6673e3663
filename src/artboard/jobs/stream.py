"""Live job events as a WebSocket (``/ws``) and as Server-Sent Events (``/api/jobs/events``, one job's at
``/api/jobs/{job_id}/events``): thin transports over ``EventLog.follow``, which replays what a client missed
after ``since`` and then goes live, every event once and in ``seq`` order.

Both send a keep-alive every ``KEEPALIVE_S`` and re-check the caller's token with it, so a connection outlives
neither an expired nor a revoked token. A WebSocket cannot be refused with an HTTP status a browser could read:
it is accepted, then closed with ``4000 + status`` and a reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, WebSocket
from fastapi.requests import HTTPConnection
from fastapi.sse import EventSourceResponse, format_sse_event
from starlette.websockets import WebSocketDisconnect

from artboard.auth.csrf import foreign_origin, trusted_origins
from artboard.auth.deps import CurrentUser, read_socket_token, read_token, resolve_token
from artboard.deps import Db, JobsDep, SettingsDep
from artboard.errors import Unavailable
from artboard.jobs.schemas import JobEventOut
from artboard.openapi import errors

# Seconds between keep-alives: well under common proxies' idle timeouts (60 s), and how soon a connection
# notices that its token expired or was revoked.
KEEPALIVE_S = 20.0
# WebSocket close codes: 4000 + the HTTP status each stands for.
BAD_REQUEST, UNAUTHORIZED, FORBIDDEN = 4400, 4401, 4403
TRY_AGAIN_LATER = 1013
SIGN_IN = "Sign in first: the token is missing, expired or revoked."
PING = json.dumps({"type": "ping"})
KEEPALIVE = format_sse_event(comment="keep-alive")
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy buffers or caches it

router = APIRouter(tags=["jobs"], responses=errors(401))
Events = AsyncGenerator[dict[str, Any] | None, None]  # what EventLog.follow yields: events, None for a keep-alive

Since = Annotated[
    int | None,
    Query(ge=0, description="Replay the events after this `seq` first (0: all that are kept); omitted: live only."),
]
LastEventId = Annotated[
    int | None,
    Header(ge=0, description="What EventSource sends when it reconnects: the last `id` it got. Wins over `since`."),
]


def _event_data_schema() -> dict[str, Any]:
    """``JobEventOut``, whose nested models are components already (the job routes answer with them)."""
    schema = JobEventOut.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return schema


EVENT_STREAM: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: `id: <seq>`, `event: job.updated` and `data:` the event as JSON, "
        f"oldest first; a `: keep-alive` comment once the replay is done and every {KEEPALIVE_S:g} s after.",
        "content": {
            "text/event-stream": {
                "schema": {"type": "string"},
                "itemSchema": {
                    "type": "object",
                    "required": ["id", "event", "data"],
                    "properties": {
                        "id": {"type": "string"},
                        "event": {"const": "job.updated"},
                        "data": {
                            "type": "string",
                            "contentMediaType": "application/json",
                            "contentSchema": _event_data_schema(),
                        },
                    },
                },
            }
        },
    }
}
ALL_SENT: dict[int | str, dict[str, Any]] = {
    204: {
        "description": "The job has finished and its events after `since` were sent: nothing more will come "
        "(EventSource stops reconnecting)."
    }
}


@router.websocket("/ws")
async def job_socket(websocket: WebSocket, jobs: JobsDep, settings: SettingsDep) -> None:
    """Seed 004's live events of the caller's jobs; see the README for the messages and close codes."""
    await websocket.accept()
    token, via_cookie = read_socket_token(websocket)
    if via_cookie and foreign_origin(websocket.scope, trusted_origins(settings.allowed_origins, settings.public_url)):
        await websocket.close(FORBIDDEN, "Cross-site WebSocket refused: add the page's origin to ALLOWED_ORIGINS.")
        return
    try:
        resolved = await resolve_token(websocket, token) if token else None
    except Unavailable as exc:  # the identity provider did not answer: the client may try again
        await websocket.close(TRY_AGAIN_LATER, exc.message[:120])
        return
    if token is None or resolved is None:
        await websocket.close(UNAUTHORIZED, SIGN_IN)
        return
    try:
        since = _since(websocket.query_params.get("since"))
    except ValueError:
        await websocket.close(BAD_REQUEST, "since must be a whole number: the seq of the last event you got, or 0.")
        return
    events = jobs.events.follow(resolved[0].id, since, keepalive_s=KEEPALIVE_S)
    await _first_of(_forward(websocket, token, events), _until_disconnect(websocket))


@router.get("/api/jobs/events", response_class=Response, responses={**EVENT_STREAM, **errors(422)})
async def job_events(
    request: Request, user: CurrentUser, jobs: JobsDep, since: Since = None, last_event_id: LastEventId = None
) -> Response:
    """Server-Sent Events of all the caller's jobs, resuming after `Last-Event-ID` (or `since`)."""
    start = last_event_id if last_event_id is not None else since
    return await _event_stream(request, jobs.events.follow(user.id, start, keepalive_s=KEEPALIVE_S))


@router.get(
    "/api/jobs/{job_id}/events",
    response_class=Response,
    responses={**EVENT_STREAM, **ALL_SENT, **errors(404, 422)},
)
async def one_job_events(
    job_id: str,
    request: Request,
    user: CurrentUser,
    db: Db,
    jobs: JobsDep,
    since: Since = None,
    last_event_id: LastEventId = None,
) -> Response:
    """Server-Sent Events of one job, resuming after `Last-Event-ID` (or `since`); the stream ends after the
    job's final state."""
    await jobs.get(db, user.id, job_id)  # the caller's own, or 404
    start = last_event_id if last_event_id is not None else since
    return await _event_stream(request, jobs.events.follow(user.id, start, job_id=job_id, keepalive_s=KEEPALIVE_S))


def _since(text: str | None) -> int | None:
    """A WebSocket's ``?since=`` (FastAPI's validation would refuse it with an HTTP status a socket never reads)."""
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()):
        raise ValueError(text)
    return int(text)


async def _signed_in(connection: HTTPConnection, token: str | None) -> bool:
    return token is not None and await resolve_token(connection, token) is not None


async def _forward(websocket: WebSocket, token: str, events: Events) -> None:
    async with contextlib.aclosing(events):
        async for item in events:
            if item is not None:
                await websocket.send_text(json.dumps(item))
            elif await _signed_in(websocket, token):
                await websocket.send_text(PING)
            else:
                await websocket.close(UNAUTHORIZED, SIGN_IN)
                return


async def _until_disconnect(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends until it leaves: how a quiet connection notices it is gone."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


async def _first_of(*work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` side by side until one part ends, then stop the rest. A client gone mid-send is no error."""
    tasks = [asyncio.create_task(part) for part in work]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        with contextlib.suppress(WebSocketDisconnect):
            task.result()


async def _event_stream(request: Request, events: Events) -> Response:
    """The events as Server-Sent Events; 204 when nothing is left to send and nothing more will come."""
    try:
        first = await anext(events)
    except StopAsyncIteration:
        return Response(status_code=204)
    token, _ = read_token(request)
    return EventSourceResponse(_frames(request, token, first, events), headers=STREAM_HEADERS)


async def _frames(
    request: Request, token: str | None, first: dict[str, Any] | None, events: Events
) -> AsyncIterator[bytes]:
    async with contextlib.aclosing(events):
        item = first
        while True:
            if item is not None:
                yield format_sse_event(data_str=json.dumps(item), event=item["type"], id=str(item["seq"]))
            elif await _signed_in(request, token):
                yield KEEPALIVE
            else:
                return  # signed out meanwhile: an EventSource that reconnects now gets 401 and stops
            try:
                item = await anext(events)
            except StopAsyncIteration:
                return
