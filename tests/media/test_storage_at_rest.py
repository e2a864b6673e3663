"""Files under DATA_DIR/files are users' images: other local users can neither list nor read them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from artboard.kit.signing import UrlSigner
from artboard.media.storage import LocalStorage
from tests.support import modes, umask


def test_local_storage_makes_its_directories_0700_and_files_0600_whatever_the_umask(tmp_path: Path) -> None:
    root = tmp_path / "files"
    storage = LocalStorage(root, UrlSigner("secret", "storage"))
    with umask(0o022):
        asyncio.run(storage.put("users/u1/originals/a.zip", b"original", "application/zip"))
        asyncio.run(storage.put("users/u1/thumbs/a.jpg", b"thumbnail", "image/jpeg"))
    assert modes(root) == {
        "files": 0o700,
        "files/users": 0o700,
        "files/users/u1": 0o700,
        "files/users/u1/originals": 0o700,
        "files/users/u1/originals/a.zip": 0o600,
        "files/users/u1/thumbs": 0o700,
        "files/users/u1/thumbs/a.jpg": 0o600,
    }
