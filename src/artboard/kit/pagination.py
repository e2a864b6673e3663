"""Page/per-page query parameters and the page envelope every list route returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

T = TypeVar("T")


@dataclass(frozen=True)
class PageParams:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


async def _page_params(
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PageParams:
    return PageParams(page, per_page)


Pagination = Annotated[PageParams, Depends(_page_params)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int
    total_pages: int

    @classmethod
    def of(cls, items: list[T], params: PageParams, total: int) -> Page[T]:
        pages = (total + params.per_page - 1) // params.per_page
        return cls(items=items, page=params.page, per_page=params.per_page, total=total, total_pages=pages)
