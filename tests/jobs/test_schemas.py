"""A job as replies and events show it is built as JSON straight from its row, without a model: it must be exactly
what the validated model makes of the same job, in every state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from artboard.jobs.schemas import JobOut, job_json
from artboard.models import Job
from artboard.models.base import utcnow

NOW = utcnow()
STATES: dict[str, tuple[dict[str, Any], int | None]] = {
    # the job's columns besides the common ones, and its queue position
    "queued, with its position": ({"status": "queued"}, 3),
    "running, with progress": ({"status": "running", "progress": 0.4, "message": "Drawing", "started": NOW}, None),
    "succeeded, with images and data": (
        {"status": "succeeded", "progress": 1.0, "result": {"images": ["img1", "img2"], "data": {"seed": 7}}},
        None,
    ),
    "failed, with its error": ({"status": "failed", "error_code": "timeout", "error_message": "Too long."}, None),
    "a retry, canceled": ({"status": "canceled", "retry_of": "job0", "finished": NOW + timedelta(seconds=2)}, None),
    "times on whole seconds": ({"status": "succeeded", "created": NOW.replace(microsecond=0)}, None),
}


@pytest.mark.parametrize(("columns", "position"), STATES.values(), ids=STATES.keys())
def test_a_job_shows_as_the_validated_model_would_show_it(columns: dict[str, Any], position: int | None) -> None:
    job = Job(
        **{
            "id": "job1",
            "owner_id": "user1",
            "kind": "sketch",
            "engine": "sketch",
            "model": "sketch:pencil",
            "input": {"parameters": {"method": "basic"}, "image_id": "img0"},
            "progress": 0.0,
            "message": None,
            "result": None,
            "error_code": None,
            "error_message": None,
            "cost": 0.25,
            "attempts": 1,
            "priority": 2,
            "retry_of": None,
            "created": NOW,
            "started": None,
            "finished": None,
            "updated": NOW,
        }
        | columns
    )
    shown = job_json(job, position)
    assert shown == JobOut.model_validate(shown).model_dump(mode="json")
    assert list(shown) == list(JobOut.model_fields)
    assert shown["queue_position"] == (position if job.status == "queued" else None)
    assert shown["created"].endswith("Z")
