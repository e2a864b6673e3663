"""SQLAlchemy models, one table per file, imported here so Alembic and the app see every table."""

from artboard.models.auth_session import AuthSession, RefreshToken
from artboard.models.base import Base
from artboard.models.job import EventCounter, Job, JobEvent, QueueFlag, WorkerRow
from artboard.models.ledger import CostEntry
from artboard.models.library import Blob, Folder, Image, Preference
from artboard.models.user import User
from artboard.models.vault import VaultKey

__all__ = [
    "AuthSession",
    "Base",
    "Blob",
    "CostEntry",
    "EventCounter",
    "Folder",
    "Image",
    "Job",
    "JobEvent",
    "Preference",
    "QueueFlag",
    "RefreshToken",
    "User",
    "VaultKey",
    "WorkerRow",
]
