"""Typed dependencies: how a route gets the database session, the settings and each service.

They all come from the one ``Resources`` container the lifespan built (handed to every request as
lifespan state); nothing reads ``app.state``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.requests import HTTPConnection
from sqlalchemy.ext.asyncio import AsyncSession

from artboard.auth.service import Accounts
from artboard.config import Settings
from artboard.db import transaction
from artboard.jobs.gateway_service import Gateway
from artboard.jobs.service import Jobs
from artboard.jobs.sketch_service import Sketches
from artboard.library.maintenance import Maintenance
from artboard.library.service import Library
from artboard.library.spending import Spending
from artboard.resources import Resources
from artboard.uploads.service import DirectUploads
from artboard.vault.service import Vault


def resources_of(request: HTTPConnection) -> Resources:
    """The container, for a request or a WebSocket alike."""
    resources: Resources = request.state.resources
    return resources


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's transaction: committed when the handler returns, rolled back when it raises."""
    async with transaction(resources_of(request).sessions) as session:
        yield session


# The getters are coroutines on purpose: FastAPI runs a plain function dependency in a thread pool,
# a thread hop per dependency per request that cost more than the rest of `/health`.
async def get_settings(request: HTTPConnection) -> Settings:
    return resources_of(request).settings


async def get_accounts(request: Request) -> Accounts:
    return resources_of(request).accounts


async def get_library(request: Request) -> Library:
    return resources_of(request).library


async def get_uploads(request: Request) -> DirectUploads:
    return resources_of(request).uploads


async def get_maintenance(request: Request) -> Maintenance:
    return resources_of(request).maintenance


async def get_jobs(request: HTTPConnection) -> Jobs:
    return resources_of(request).jobs


async def get_vault(request: Request) -> Vault:
    return resources_of(request).vault


async def get_sketches(request: Request) -> Sketches:
    """Seed 004's sketches: a view over the jobs and the uploads, made per request (it holds nothing)."""
    resources = resources_of(request)
    return Sketches(resources.jobs, resources.uploads)


async def get_spending(request: Request) -> Spending:
    return resources_of(request).spending


async def get_gateway(request: Request) -> Gateway:
    """Seed 000's messages: a view over the jobs and the gallery, made per request (it holds nothing)."""
    resources = resources_of(request)
    return Gateway(resources.jobs, resources.library)


Db = Annotated[AsyncSession, Depends(get_db, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
AccountsDep = Annotated[Accounts, Depends(get_accounts)]
LibraryDep = Annotated[Library, Depends(get_library)]
UploadsDep = Annotated[DirectUploads, Depends(get_uploads)]
MaintenanceDep = Annotated[Maintenance, Depends(get_maintenance)]
JobsDep = Annotated[Jobs, Depends(get_jobs)]
SketchesDep = Annotated[Sketches, Depends(get_sketches)]
GatewayDep = Annotated[Gateway, Depends(get_gateway)]
VaultDep = Annotated[Vault, Depends(get_vault)]
SpendingDep = Annotated[Spending, Depends(get_spending)]
