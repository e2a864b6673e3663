"""Seed 002's collection items (multipart or JSON with base64) and seed 001's per-model preferences."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Request, Response, status

from artboard.auth.deps import CurrentUser
from artboard.deps import Db, LibraryDep, SettingsDep
from artboard.errors import NotFound, ValidationFailed
from artboard.kit.pagination import Page, Pagination
from artboard.library.replies import base_url, item_out
from artboard.library.schemas import (
    CollectionImage,
    CollectionItemJson,
    CollectionItemOut,
    PreferencesOut,
    PreferencesQuery,
    PreferencesSave,
    Saved,
)
from artboard.library.service import item_from_form, item_from_json
from artboard.media.upload import read_upload_form
from artboard.openapi import BODY, FILE, TEXT, errors, model_schema, object_schema, request_body

router = APIRouter(tags=["gallery"], responses=errors(401))
_ITEM_FORM = object_schema(
    {
        "image": FILE,
        "title": {**TEXT, "maxLength": 300},
        "metadata": {**TEXT, "description": "A JSON object, as text."},
    },
    ["image", "title"],
)
_NEW_ITEM = request_body({"multipart/form-data": _ITEM_FORM, "application/json": model_schema(CollectionItemJson)})


@router.get("/collection/items", response_model=Page[CollectionItemOut])
async def list_items(
    request: Request, user: CurrentUser, db: Db, library: LibraryDep, settings: SettingsDep, pagination: Pagination
) -> Page[CollectionItemOut]:
    """The user's collection, newest first."""
    rows, total = await library.images_page(db, user.id, pagination, source="collection")
    base = base_url(request, settings)
    return Page.of([item_out(i, b, base) for i, b in rows], pagination, total)


@router.post(
    "/collection/items",
    response_model=CollectionItemOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_NEW_ITEM,
    responses=errors(*BODY, 403, notes={400: "Unreadable, not valid base64, or not an accepted image."}),
)
async def add_item(
    request: Request, user: CurrentUser, db: Db, library: LibraryDep, settings: SettingsDep
) -> CollectionItemOut:
    """Add an item: multipart (`image`, `title`, optional `metadata` JSON) or JSON `{title, image_base64}`."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await read_upload_form(request, "image", settings.max_file_size)
        if form.file is None:
            raise ValidationFailed("The form has no `image` field.")
        item = item_from_form(form.fields, form.file)
    else:
        raw = await request.body()  # at most the route's limit (kit/limits.py)
        item = item_from_json(raw, settings.max_file_size)
    image, blob = await library.add_image(
        db, user.id, item.data, title=item.title, source="collection", details=item.metadata
    )
    return item_out(image, blob, base_url(request, settings))


@router.delete("/collection/items/{item_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(403, 404))
async def delete_item(item_id: str, user: CurrentUser, db: Db, library: LibraryDep) -> Response:
    """Remove an item and its files for good."""
    await library.remove_image(db, user.id, item_id, source="collection")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/collection/items/{item_id}/image", response_model=CollectionImage, responses=errors(404))
async def item_image(item_id: str, user: CurrentUser, db: Db, library: LibraryDep) -> CollectionImage:
    """The item's original image, base64-encoded."""
    image, blob = await library.image(db, user.id, item_id)
    if image.source != "collection":
        raise NotFound("No collection item with this id.")
    content = await library.blob_file(blob, "original")
    return CollectionImage(image=base64.b64encode(content.data).decode(), content_type=content.content_type)


@router.post("/api/custom/preferences/get", response_model=PreferencesOut, responses=errors(*BODY, 403))
async def get_preferences(body: PreferencesQuery, user: CurrentUser, db: Db, library: LibraryDep) -> PreferencesOut:
    """Saved preferences for one model."""
    found = await library.preferences(db, user.id, body.model_name)
    return PreferencesOut(model_name=body.model_name, has_preferences=found is not None, preferences=found or {})


@router.post("/api/custom/preferences/save", response_model=Saved, responses=errors(*BODY, 403))
async def save_preferences(body: PreferencesSave, user: CurrentUser, db: Db, library: LibraryDep) -> Saved:
    """Save (replace) preferences for one model."""
    await library.save_preferences(db, user.id, body.model_name, body.preferences)
    return Saved(message="Preferences saved successfully")
