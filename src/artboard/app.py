"""The FastAPI application: every domain's router over one set of shared resources."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from artboard import __version__
from artboard.auth import admin as auth_admin
from artboard.auth import first_run_routes as auth_first_run
from artboard.auth import pocketbase as auth_pocketbase
from artboard.auth import routes as auth_routes
from artboard.auth.csrf import CsrfGuard
from artboard.auth.deps import document_bearer
from artboard.config import Settings, load_settings
from artboard.engines import routes as engines_routes
from artboard.errors import install_error_handlers
from artboard.jobs import analysis as jobs_analysis
from artboard.jobs import gateway as jobs_gateway
from artboard.jobs import generate as jobs_generate
from artboard.jobs import routes as jobs_routes
from artboard.jobs import sketches as jobs_sketches
from artboard.jobs import stream as jobs_stream
from artboard.kit.heap import settle_after_startup
from artboard.kit.limits import InputLimits, upload_limits
from artboard.library import collection as library_collection
from artboard.library import financial as library_financial
from artboard.library import folders as library_folders
from artboard.library import routes as library_routes
from artboard.logs import configure_logging
from artboard.middleware import RequestContext
from artboard.openapi import install_openapi
from artboard.resources import Resources, open_resources, running
from artboard.system import routes as system_routes
from artboard.uploads import routes as uploads_routes
from artboard.vault import routes as vault_routes
from artboard.web import routes as web_routes

ROUTERS: list[APIRouter] = [
    system_routes.router,
    auth_routes.router,
    auth_admin.router,
    auth_first_run.router,
    auth_pocketbase.router,
    library_routes.router,
    library_folders.router,
    library_collection.router,
    library_financial.router,
    uploads_routes.router,
    jobs_stream.router,  # before jobs_routes: /api/jobs/events is no job id
    jobs_routes.router,
    jobs_sketches.router,
    jobs_gateway.router,
    jobs_analysis.router,
    vault_routes.router,
    engines_routes.router,
    jobs_generate.router,
    web_routes.router,  # the studio: GET / and /studio/<file>, none of them in the OpenAPI document
]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Resources]]:
        async with open_resources(settings) as resources, running(resources.background_work()):
            yield {"resources": resources}  # lifespan state: every request sees it as request.state

    app = FastAPI(
        title="Artboard",
        version=__version__,
        lifespan=lifespan,
        description=(
            "Accounts (every seed's sign-in flow over one user base), the image gallery (uploads, derivatives, "
            "folders, collection items, trash, local or S3 storage) and image jobs for AI-image apps.\n\n"
            "Live job events also come over a WebSocket, `/ws?token=<access token>&since=<seq>`, which OpenAPI "
            'cannot list: messages `{type: "job.updated", seq, job}` and `{type: "ping"}`; closed with 4401 '
            "when the token is missing, expired or revoked. The README documents it in full."
        ),
        docs_url=None,  # served by install_openapi from local assets, not a CDN
        redoc_url=None,
        telemetry=None if settings.opentelemetry else {"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    # Innermost (added first): a cross-site refusal needs no body, and CORS headers reach the limits' refusals.
    app.add_middleware(InputLimits, limits=upload_limits(settings.max_file_size))
    app.add_middleware(CsrfGuard, allowed_origins=settings.allowed_origins, public_url=settings.public_url)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
    )
    app.add_middleware(RequestContext)
    for router in ROUTERS:
        # The routes themselves, not ``include_router``: that keeps each router as a wrapper that is matched and
        # then searched again, for every router before the one that answers (a third of a cheap request's CPU).
        # The routers have no prefix and their routes already carry their dependencies, tags and responses.
        app.router.routes.extend(router.routes)
    document_bearer(app, ROUTERS)
    install_openapi(app)
    return app


def app_from_environment() -> FastAPI:
    """The app for each process of ``artboard serve --workers N``: settings and logging from the environment."""
    settings = load_settings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    settle_after_startup()
    return app
