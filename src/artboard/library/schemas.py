"""Request and response models of the gallery: images, folders, collection items, trash, preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from artboard.kit.body import CleanText, JsonObject
from artboard.kit.jsonresponse import StoredJson
from artboard.models.base import ID_PATTERN

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), CleanText]
Title = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300), CleanText]
EntityId = Annotated[str, StringConstraints(pattern=f"^{ID_PATTERN}$")]
ModelName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), CleanText]


class FolderCreate(BaseModel):
    name: Name
    parent_id: EntityId | None = None
    private: bool = False


class FolderPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    parent_id: EntityId | None = None
    private: bool | None = None


class FolderOut(BaseModel):
    """Artboard's folder: `parent_id` is null for a top-level folder."""

    id: str
    user_id: str
    name: str
    parent_id: str | None
    private: bool
    created: datetime
    updated: datetime


class SeedFolderOut(FolderOut):
    """Seed 001's folder shape: `parent_id` is "" for a top-level folder."""

    parent_id: str


class FolderCreated(BaseModel):
    id: str
    name: str
    parent_id: str
    created: datetime


class FolderList(BaseModel):
    collections: list[SeedFolderOut]


class ImageUploadFields(BaseModel):
    """The text fields of an upload's form, held to the same rules as a JSON body's (a title PATCH would refuse
    is refused here too, not cut short)."""

    title: Title | None = None


class ImagePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    folder_id: EntityId | None = None


class Lineage(BaseModel):
    job_id: str | None
    source_image_id: str | None
    engine: str | None = None
    model: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    cost: float | None = None


class ImageOut(BaseModel):
    id: str
    title: str
    folder_id: str | None
    source: str
    content_type: str
    width: int
    height: int
    size: int
    sha256: str
    metadata: StoredJson
    lineage: Lineage | None = Field(description="For an image a job made: where it came from and how.")
    thumbnail_url: str
    square_url: str
    original_url: str
    created: datetime
    updated: datetime


class CollectionItemJson(BaseModel):
    title: Title
    image_base64: Annotated[str, Field(min_length=1)]
    metadata: JsonObject = Field(default_factory=dict)


class CollectionItemOut(BaseModel):
    id: str
    title: str
    metadata: StoredJson
    content_type: str
    width: int
    height: int
    thumbnail_url: str
    image_url: str
    created: datetime


class CollectionImage(BaseModel):
    image: str
    content_type: str


class TrashItem(BaseModel):
    id: str
    type: Literal["image", "folder"]
    name: str
    deleted_at: datetime
    purge_after: datetime


class TrashList(BaseModel):
    items: list[TrashItem]


class PreferencesQuery(BaseModel):
    model_name: ModelName


class PreferencesSave(BaseModel):
    model_name: ModelName
    preferences: JsonObject


class PreferencesOut(BaseModel):
    model_name: str
    has_preferences: bool
    preferences: StoredJson


class Saved(BaseModel):
    success: bool = True
    message: str


class SpendingStatsOut(BaseModel):
    """Seed 001's spending figures, in the ledger's currency (USD), read from the cost ledger."""

    total_spent: float = Field(description="Every charge so far.")
    total_images: int = Field(description="Images those charges paid for.")
    recent_spending: float = Field(description="Charges of the last 30 days.")
    average_cost: float = Field(description="Per image; 0 before the first charge.")
