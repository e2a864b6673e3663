"""Folder routes: seed 001's collections (its shapes) and Artboard's `/api/folders` (paginated, null parents)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from artboard.auth.deps import CurrentUser
from artboard.deps import Db, LibraryDep
from artboard.kit.pagination import Page, Pagination
from artboard.library.replies import folder_out, seed_folder_out
from artboard.library.schemas import FolderCreate, FolderCreated, FolderList, FolderOut, FolderPatch
from artboard.openapi import BODY, errors

router = APIRouter(tags=["gallery"], responses=errors(401))
# A write names a parent folder that may not exist; cookie-authenticated writes must come from a trusted origin.
_WRITE_ERRORS = errors(*BODY, 403, 404, notes={404: "No folder of the caller's has this id (or `parent_id`)."})


@router.post("/api/custom/collections/create", response_model=FolderCreated, responses=_WRITE_ERRORS)
async def create_collection(body: FolderCreate, user: CurrentUser, db: Db, library: LibraryDep) -> FolderCreated:
    """Create a folder, optionally inside another (seed 001: a top-level folder's `parent_id` is "")."""
    folder = await library.create_folder(db, user.id, body.name, body.parent_id, body.private)
    return FolderCreated(id=folder.id, name=folder.name, parent_id=folder.parent_id or "", created=folder.created)


@router.get("/api/custom/collections", response_model=FolderList)
async def list_collections(user: CurrentUser, db: Db, library: LibraryDep) -> FolderList:
    """All the user's folders (not those in the trash), in seed 001's shape."""
    folders = await library.folders(db, user.id)
    return FolderList(collections=[seed_folder_out(f) for f in folders])


@router.get("/api/folders", response_model=Page[FolderOut])
async def list_folders(user: CurrentUser, db: Db, library: LibraryDep, pagination: Pagination) -> Page[FolderOut]:
    """The user's folders (not those in the trash), oldest first, paginated like `/api/images`."""
    folders, total = await library.folders_page(db, user.id, pagination)
    return Page.of([folder_out(f) for f in folders], pagination, total)


@router.post("/api/folders", response_model=FolderOut, status_code=status.HTTP_201_CREATED, responses=_WRITE_ERRORS)
async def create_folder(body: FolderCreate, user: CurrentUser, db: Db, library: LibraryDep) -> FolderOut:
    """Create a folder, optionally inside another."""
    return folder_out(await library.create_folder(db, user.id, body.name, body.parent_id, body.private))


@router.get("/api/folders/{folder_id}", response_model=FolderOut, responses=errors(404))
async def get_folder(folder_id: str, user: CurrentUser, db: Db, library: LibraryDep) -> FolderOut:
    """One folder."""
    return folder_out(await library.folder(db, user.id, folder_id))


@router.patch(
    "/api/folders/{folder_id}",
    response_model=FolderOut,
    responses={**_WRITE_ERRORS, **errors(409, notes={409: "A folder cannot move inside itself or a subfolder."})},
)
async def update_folder(folder_id: str, body: FolderPatch, user: CurrentUser, db: Db, library: LibraryDep) -> FolderOut:
    """Rename, move (never into itself; `parent_id: null` for the top level) or change privacy."""
    changes = body.model_dump(exclude_unset=True)
    return folder_out(await library.update_folder(db, user.id, folder_id, changes))


@router.delete("/api/folders/{folder_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(403, 404))
async def delete_folder(folder_id: str, user: CurrentUser, db: Db, library: LibraryDep) -> Response:
    """Move the folder, its subfolders and their images to the trash."""
    await library.trash_folder(db, user.id, folder_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
