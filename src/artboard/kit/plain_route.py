"""A route answered without FastAPI's per-request machinery, for what monitors call many times a second.

FastAPI still documents the route from its endpoint and ``responses=``, but the endpoint takes the
``Request`` alone and returns a finished ``Response``: no dependency solving, no validation, no
serialisation, about half the CPU of the same answer through a usual route. The middleware (input limits,
CORS, the request log) runs as for every route. Use it with ``route_class_override=PlainRoute``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope, Send

PlainEndpoint = Callable[[Request], Awaitable[Response]]


class PlainRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        answer = cast(PlainEndpoint, endpoint)

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            response = await answer(Request(scope, receive, send))
            await response(scope, receive, send)

        self.app = app
