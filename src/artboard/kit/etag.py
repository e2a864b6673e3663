"""Conditional GETs: whether a client's ``If-None-Match`` names the file it already has."""

from __future__ import annotations


def unchanged(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110's weak comparison: ``*`` matches any current file, else any listed tag equal to ``etag`` with
    ``W/`` ignored on either side."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    current = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == current for tag in if_none_match.split(","))
