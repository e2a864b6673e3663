"""Declarative base and the column helpers every table shares."""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

_ID_ALPHABET = string.ascii_lowercase + string.digits


# What ``new_id`` makes, for validating ids that arrive in requests.
ID_PATTERN = "[a-z0-9]{15}"


def new_id() -> str:
    """15 lowercase alphanumerics, the shape PocketBase record ids have, so one id serves every API.

    One read of the system's randomness per id (``secrets.choice`` made one per character: 40 µs an id against
    4 µs). Bytes from 252 up (252 is the largest multiple of 36 a byte holds) are skipped, so every character
    stays equally likely."""
    chars: list[str] = []
    while len(chars) < 15:
        chars += [_ID_ALPHABET[byte % 36] for byte in secrets.token_bytes(20) if byte < 252]
    return "".join(chars[:15])


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Always aware UTC in Python; SQLite keeps no zone, so one type keeps both databases alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and dialect.name == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value  # type: ignore[no-any-return]


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


def id_column() -> Mapped[str]:
    return mapped_column(String(15), primary_key=True, default=new_id)


def timestamp_column(*, onupdate: bool = False) -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow if onupdate else None)
