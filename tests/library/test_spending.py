"""Spending over HTTP: seed 001's figures (`GET /api/custom/financial/stats`) read from the one cost ledger, and
monthly budgets (the server's `ARTBOARD_MONTHLY_BUDGET`, or a user's own set by an admin) checked before a paid
job is queued.

Paid jobs run on a stand-in for two providers, each charging its price per image; a job's `outcome` parameter
steers it: succeed, fail, or hold until the test releases it (or it is canceled). The queue is paused where a
test needs jobs to stay queued."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest

import artboard.resources
from artboard.engines.base import EngineError, EngineResult, JobCanceled, JobContext, ModelInfo, OutputImage, Parameter
from artboard.engines.catalog import Catalog
from artboard.library.spending import month_start
from artboard.models.base import utcnow
from tests import photos
from tests.auth.test_admin import make_admin
from tests.jobs.held_engine import eventually
from tests.jobs.test_jobs import until
from tests.support import Account, LiveServer, assert_envelope, live_server_on, register_and_login, run_sql

BUDGET = 0.05  # the server's ARTBOARD_MONTHLY_BUDGET in these tests
PRICES = {"alpha": {"alpha:fast": 0.003, "alpha:best": 0.004}, "beta": {"beta:large": 0.01}}
SETTINGS = {"job_lease_s": 1.5, "max_concurrent_tasks": 4, "max_running_per_user": 2}
ZERO = {"total_spent": 0.0, "total_images": 0, "recent_spending": 0.0, "average_cost": 0.0}


class PaidStandIn:
    """One provider's models at their prices per image (no key needed: ``provider`` is None, so the ledger
    names the engine). ``outcome`` ok | fail | hold: held jobs wait for ``release`` or a stop."""

    def __init__(self, name: str, prices: dict[str, float], release: threading.Event) -> None:
        self.name = name
        self.release = release
        parameters = {
            "num_images": Parameter("integer", "Images to make.", default=1, minimum=1, maximum=4),
            "outcome": Parameter("string", "What the stand-in does.", default="ok", options=("ok", "fail", "hold")),
        }
        self.models = tuple(
            ModelInfo(model, model, "A paid stand-in.", name, "image", price, parameters)
            for model, price in prices.items()
        )

    async def run(self, context: JobContext) -> EngineResult:
        outcome, count = context.parameters["outcome"], context.parameters["num_images"]
        if outcome == "fail":
            raise EngineError("provider_refused", "The provider refused the prompt.")
        while outcome == "hold" and not self.release.is_set():
            if context.should_stop():
                raise JobCanceled("stopped while held")
            await asyncio.sleep(0.02)
        images = [OutputImage(photos.flower(), context.model.name)] * count
        return EngineResult(images, cost=context.model.cost_per_image * count)

    async def close(self) -> None:
        """Holds nothing."""


@pytest.fixture(scope="module")
def release() -> threading.Event:
    """Lets held jobs finish; cleared by ``held`` for a test that holds jobs."""
    return threading.Event()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def paid_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, release: threading.Event
) -> Iterator[LiveServer]:
    catalog = Catalog([PaidStandIn(name, prices, release) for name, prices in PRICES.items()])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ARTBOARD_MONTHLY_BUDGET", str(BUDGET))
        patch.setattr(artboard.resources, "build_catalog", lambda _settings: catalog)
        with live_server_on(request.param, tmp_path_factory.mktemp(f"spending-{request.param}"), **SETTINGS) as server:
            yield server


@pytest.fixture
def http(paid_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=paid_server.url, timeout=30) as client:
        yield client


@pytest.fixture
def user(http: httpx.Client) -> Account:
    return register_and_login(http)


@pytest.fixture(scope="module")
def admin(paid_server: LiveServer) -> Account:
    with httpx.Client(base_url=paid_server.url, timeout=30) as client:
        return make_admin(paid_server, client)


@pytest.fixture
def held(release: threading.Event) -> Iterator[threading.Event]:
    release.clear()
    yield release
    release.set()


@pytest.fixture
def paused(http: httpx.Client, admin: Account) -> Iterator[None]:
    """No job starts until the test ends (the queue is the server's: tests here run one at a time)."""
    assert http.post("/api/admin/queue/pause", headers=admin.headers).status_code == 200
    yield
    assert http.post("/api/admin/queue/resume", headers=admin.headers).status_code == 200


def submit(http: httpx.Client, account: Account, model: str, **parameters: Any) -> httpx.Response:
    return http.post("/api/jobs", json={"model": model, "parameters": parameters}, headers=account.headers)


def queued(http: httpx.Client, account: Account, model: str, **parameters: Any) -> dict[str, Any]:
    response = submit(http, account, model, **parameters)
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    return job


def succeeded(http: httpx.Client, account: Account, model: str, **parameters: Any) -> dict[str, Any]:
    return until(http, account, queued(http, account, model, **parameters)["id"], "succeeded")


def stats(http: httpx.Client, account: Account) -> dict[str, Any]:
    response = http.get("/api/custom/financial/stats", headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ledger(server: LiveServer, account: Account) -> list[tuple[Any, ...]]:
    """The user's ledger rows: (job, provider, model, units, unit price, amount)."""
    statement = "SELECT job_id, provider, model, units, unit_price, amount FROM cost_entries WHERE owner_id = :id"
    return sorted(tuple(row) for row in run_sql(server, statement, id=account.user["id"]))


def date_charge(server: LiveServer, job_id: str, when: Any) -> None:
    """Move a charge back in time (naive UTC, as the tests of jobs age their rows)."""
    run_sql(server, "UPDATE cost_entries SET created = :when WHERE job_id = :id", when=when, id=job_id)


def set_budget(http: httpx.Client, admin: Account, account: Account, budget: float | None) -> None:
    response = http.patch(
        f"/api/admin/users/{account.user['id']}", json={"monthly_budget": budget}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["monthly_budget"] == budget


# ---- figures ---------------------------------------------------------------------------------------------------


def test_a_new_user_has_spent_nothing(http: httpx.Client, user: Account) -> None:
    assert stats(http, user) == ZERO


def test_the_figures_add_up_over_jobs_of_two_providers_and_recent_means_the_last_30_days(
    paid_server: LiveServer, http: httpx.Client, user: Account
) -> None:
    runs = [  # model, images, what the ledger says: provider, unit price, amount
        ("alpha:fast", 1, "alpha", 0.003, 0.003),
        ("alpha:fast", 2, "alpha", 0.003, 0.006),
        ("alpha:best", 3, "alpha", 0.004, 0.012),
        ("beta:large", 1, "beta", 0.01, 0.01),
    ]
    jobs = [succeeded(http, user, model, num_images=images) for model, images, *_ in runs]
    assert [job["cost"] for job in jobs] == pytest.approx([amount for *_, amount in runs])
    expected = sorted(
        (job["id"], provider, model, images, pytest.approx(price), pytest.approx(amount))
        for job, (model, images, provider, price, amount) in zip(jobs, runs, strict=True)
    )
    assert ledger(paid_server, user) == expected
    assert stats(http, user) == pytest.approx(
        {"total_spent": 0.031, "total_images": 7, "recent_spending": 0.031, "average_cost": round(0.031 / 7, 6)}
    )
    # The beta charge happened 40 days ago: still spent, no longer recent.
    date_charge(paid_server, jobs[-1]["id"], (utcnow() - timedelta(days=40)).replace(tzinfo=None))
    assert stats(http, user) == pytest.approx(
        {"total_spent": 0.031, "total_images": 7, "recent_spending": 0.021, "average_cost": round(0.031 / 7, 6)}
    )


@pytest.mark.parametrize(
    ("outcome", "cancel_while", "status"),
    [
        pytest.param("fail", None, "failed", id="the provider refuses"),
        pytest.param("hold", "running", "canceled", id="canceled while running"),
        pytest.param("ok", "queued", "canceled", id="canceled while queued"),
    ],
)
def test_a_job_that_does_not_succeed_charges_nothing(
    request: pytest.FixtureRequest,
    paid_server: LiveServer,
    http: httpx.Client,
    user: Account,
    held: threading.Event,
    outcome: str,
    cancel_while: str | None,
    status: str,
) -> None:
    if cancel_while == "queued":
        request.getfixturevalue("paused")
    job = queued(http, user, "beta:large", num_images=2, outcome=outcome)
    assert job["cost"] == pytest.approx(0.02)  # the estimate, held against the budget until the job ends
    if cancel_while is not None:
        until(http, user, job["id"], cancel_while)
        assert http.post(f"/api/jobs/{job['id']}/cancel", headers=user.headers).status_code == 200
    ended = until(http, user, job["id"], status)
    assert ended["cost"] == 0.0
    assert ledger(paid_server, user) == []
    assert stats(http, user) == ZERO


def test_a_job_run_twice_after_its_lease_ran_out_is_charged_once(
    paid_server: LiveServer, http: httpx.Client, user: Account, held: threading.Event
) -> None:
    job = queued(http, user, "alpha:best", num_images=2, outcome="hold")
    until(http, user, job["id"], "running")
    # Its worker seems gone: the lease runs out, and the job is delivered again while the first run goes on.
    run_sql(
        paid_server,
        "UPDATE jobs SET worker_id = 'vanished', lease_until = :past WHERE id = :id",
        past=(utcnow() - timedelta(minutes=1)).replace(tzinfo=None),
        id=job["id"],
    )

    def running_again() -> bool:
        again = http.get(f"/api/jobs/{job['id']}", headers=user.headers).json()
        return bool(again["status"] == "running" and again["attempts"] == 2)

    assert eventually(running_again)
    held.set()  # both runs finish
    done = until(http, user, job["id"], "succeeded")
    assert done["cost"] == pytest.approx(0.008) and len(done["result"]["images"]) == 2
    assert ledger(paid_server, user) == [(job["id"], "alpha", "alpha:best", 2, 0.004, 0.008)]
    assert stats(http, user)["total_spent"] == pytest.approx(0.008)


def test_another_users_spending_is_invisible_and_uses_none_of_their_budget(
    http: httpx.Client, user: Account, admin: Account
) -> None:
    succeeded(http, user, "beta:large", num_images=4)
    other = register_and_login(http)
    assert stats(http, other) == ZERO
    assert submit(http, other, "beta:large", num_images=4).status_code == 202
    assert stats(http, user)["total_spent"] == pytest.approx(0.04)


# ---- budgets ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("budgets", "fits", "named"),
    [
        pytest.param([], 3, "$0.05", id="the server's ARTBOARD_MONTHLY_BUDGET"),
        pytest.param([0.02], 1, "$0.02", id="the user's own, set by an admin"),
        pytest.param([0.1], 6, "$0.10", id="the user's own, above the server's"),
        pytest.param([0.02, None], 3, "$0.05", id="null: the server's again"),
        pytest.param([0], 7, None, id="0: no budget for this user"),
    ],
)
def test_a_paid_submit_that_would_pass_the_monthly_budget_is_refused_counting_jobs_already_queued(
    http: httpx.Client,
    user: Account,
    admin: Account,
    paused: None,
    budgets: list[float | None],
    fits: int,
    named: str | None,
) -> None:
    for budget in budgets:
        set_budget(http, admin, user, budget)
    for _ in range(fits):  # $0.016 each, all still queued
        queued(http, user, "alpha:best", num_images=4)
    one_more = submit(http, user, "alpha:best", num_images=4)
    if named is None:
        assert one_more.status_code == 202, one_more.text
        return
    message = assert_envelope(one_more, 402, "budget_exceeded")["message"]
    assert f"your monthly budget of {named}" in message
    assert f"${0.016 * fits:.3f} in jobs not yet finished" in message


@pytest.mark.parametrize("budget", ["-0.01", '"lots"', "1e400"])
def test_a_budget_is_a_number_of_at_least_zero_or_null(
    http: httpx.Client, user: Account, admin: Account, budget: str
) -> None:
    response = http.patch(
        f"/api/admin/users/{user.user['id']}",
        content=f'{{"monthly_budget": {budget}}}',
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    assert_envelope(response, 422, "validation_error")


def test_canceling_a_queued_job_gives_its_share_of_the_budget_back(
    http: httpx.Client, user: Account, paused: None
) -> None:
    jobs = [queued(http, user, "alpha:best", num_images=4) for _ in range(3)]
    assert_envelope(submit(http, user, "alpha:best", num_images=4), 402, "budget_exceeded")
    assert http.post(f"/api/jobs/{jobs[0]['id']}/cancel", headers=user.headers).json()["status"] == "canceled"
    assert submit(http, user, "alpha:best", num_images=4).status_code == 202


@pytest.mark.parametrize(("charged", "refused"), [("this month", True), ("last month", False)])
def test_only_this_months_charges_count_against_the_budget(
    paid_server: LiveServer, http: httpx.Client, user: Account, charged: str, refused: bool
) -> None:
    job = succeeded(http, user, "beta:large", num_images=4)  # $0.04 of $0.05
    if charged == "last month":
        date_charge(paid_server, job["id"], (month_start(utcnow()) - timedelta(seconds=1)).replace(tzinfo=None))
    response = submit(http, user, "alpha:best", num_images=4)  # $0.016 more
    if refused:
        assert "$0.04 spent this month" in assert_envelope(response, 402, "budget_exceeded")["message"]
    else:
        assert response.status_code == 202, response.text


def test_paid_submits_at_the_same_moment_cannot_together_pass_the_budget(
    paid_server: LiveServer, user: Account, paused: None
) -> None:
    def one(_: int) -> int:
        with httpx.Client(base_url=paid_server.url, timeout=30) as client:
            return submit(client, user, "alpha:best", num_images=4).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(one, range(8)))
    assert statuses == [202] * 3 + [402] * 5  # $0.016 each: three fit in $0.05
