"""What every submit route shares: the `Idempotency-Key` and `Prefer: wait=N` headers, and a reply that
waits for the job after the request's transaction has committed (a worker cannot see the job before)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from artboard.errors import ValidationFailed
from artboard.jobs.service import Jobs, Submitted
from artboard.models import Job
from artboard.models.job import FINISHED

# Longest a submit may hold its request open with `Prefer: wait=N`.
MAX_WAIT_S = 60
_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class SubmitOptions:
    idempotency_key: str | None
    wait_s: int  # 0: answer at once
    session_id: str | None  # the key session a paid model runs with (seed 001's X-Session-ID)


async def submit_options(
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=200,
            description="Submitting again with the same key and body gives the same job; another body, 409.",
        ),
    ] = None,
    prefer: Annotated[
        str | None,
        Header(description=f"`wait=N` (N <= {MAX_WAIT_S}): answer with the finished job if it ends within N s."),
    ] = None,
    x_session_id: Annotated[
        str | None,
        Header(
            max_length=128,
            description="A key session (`POST /api/custom/auth/create-session`): paid models run with its key.",
        ),
    ] = None,
) -> SubmitOptions:
    if idempotency_key is not None and not idempotency_key.strip():
        raise ValidationFailed("Idempotency-Key must not be empty.")
    match = _WAIT.search(prefer or "")
    wait_s = min(int(match.group(1)), MAX_WAIT_S) if match else 0
    return SubmitOptions(idempotency_key, wait_s, x_session_id or None)


SubmitOptionsDep = Annotated[SubmitOptions, Depends(submit_options)]


def finished_in_time(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry every submit route declares for the 200 a `Prefer: wait=N` may bring."""
    return {200: {"model": model, "description": "Finished within `Prefer: wait=N`."}}


class SubmitReply(JSONResponse):
    """202 with the job as submitted; with `Prefer: wait=N`, once the transaction has committed, waits up to
    N seconds and answers 200 with the finished job instead (`Preference-Applied` says so). A subclass
    changes what a finished job answers by overriding ``finished``."""

    def __init__(
        self,
        jobs: Jobs,
        submitted: Submitted,
        options: SubmitOptions,
        render: Callable[[Job, int | None], dict[str, Any]],
    ) -> None:
        job = submitted.job
        self._jobs, self._job, self._render = jobs, job, render
        done = job.status in FINISHED
        status_code, content = self.finished(job) if done else (202, render(job, submitted.queue_position))
        super().__init__(content, status_code=status_code)
        self._wait_s = 0 if done else options.wait_s

    def finished(self, job: Job) -> tuple[int, Any]:
        """The status and body a finished job answers with."""
        return 200, self._render(job, None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._wait_s:
            finished = await self._jobs.wait(self._job.owner_id, self._job.id, self._wait_s)
            if finished is not None:
                self.status_code, content = self.finished(finished)
                self.body = self.render(content)
                self.headers["content-length"] = str(len(self.body))
                self.headers["preference-applied"] = f"wait={self._wait_s}"
        await super().__call__(scope, receive, send)
