"""Thumbnails and squares: right size, upright, 8-bit, re-encoded without the upload's metadata or payload."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image, ImageChops, ImageStat

from artboard.media.derivatives import encode_jpeg, make_square, make_thumbnail
from tests import photos
from tests.media.test_validation import upload
from tests.support import Account


def fetch(client: httpx.Client, account: Account, image_id: str, variant: str) -> Image.Image:
    response = client.get(f"/api/images/{image_id}/file", params={"variant": variant}, headers=account.headers)
    assert response.status_code == 200, response.text
    return photos.decode(response.content)


def difference(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


def test_thumbnail_fits_inside_128_keeping_the_aspect_ratio(client: httpx.Client, account: Account) -> None:
    created = upload(client, account, photos.flower()).json()
    assert (created["width"], created["height"]) == (480, 360)
    thumb = fetch(client, account, created["id"], "thumb")
    assert thumb.size == (128, 96) and thumb.format == "JPEG"


def test_square_is_512_letterboxed_on_black(client: httpx.Client, account: Account) -> None:
    created = upload(client, account, photos.flower()).json()
    square = fetch(client, account, created["id"], "square").convert("RGB")
    assert square.size == (512, 512)
    bars = [square.crop((0, 0, 512, 40)), square.crop((0, 472, 512, 512))]  # 480x360 -> 512x384, 64 px bars
    assert all(max(ImageStat.Stat(bar).extrema[c][1] for c in range(3)) < 16 for bar in bars)
    assert ImageStat.Stat(square.crop((0, 100, 512, 400))).mean[0] > 30


def test_small_images_are_enlarged_into_the_square(client: httpx.Client, account: Account) -> None:
    created = upload(client, account, photos.photo("flower2.jpg")).json()  # 300x225
    square = fetch(client, account, created["id"], "square").convert("RGB")
    assert square.getbbox() is not None and square.getbbox()[2] - square.getbbox()[0] >= 500  # type: ignore[index]


def test_exif_rotated_photo_comes_out_upright(client: httpx.Client, account: Account) -> None:
    upright = fetch(client, account, upload(client, account, photos.photo("hopper.jpg")).json()["id"], "thumb")
    rotated_upload = upload(client, account, photos.photo("hopper_orientation_6.jpg")).json()
    thumb = fetch(client, account, rotated_upload["id"], "thumb")
    stored_sideways = photos.decode(photos.photo("hopper_orientation_6.jpg")).resize(thumb.size)
    assert difference(thumb, upright) < 10
    assert difference(stored_sideways, upright) > 3 * difference(thumb, upright)


def test_animated_gif_gives_its_first_frame(client: httpx.Client, account: Account) -> None:
    created = upload(client, account, photos.photo("dispose_bgnd.gif"), "anim.gif", "image/gif").json()
    assert created["content_type"] == "image/gif"
    assert fetch(client, account, created["id"], "thumb").size == (100, 100)


def test_cmyk_jpeg_is_converted_to_rgb(client: httpx.Client, account: Account) -> None:
    created = upload(client, account, photos.cmyk_jpeg()).json()
    thumb = fetch(client, account, created["id"], "thumb")
    reference = photos.decode(photos.flower()).resize(thumb.size)
    assert thumb.mode == "RGB" and difference(thumb, reference) < 25


def test_16bit_png_keeps_its_tones(client: httpx.Client, account: Account) -> None:
    created = upload(client, account, photos.png_16bit(), "deep.png", "image/png").json()
    thumb = fetch(client, account, created["id"], "thumb").convert("L")
    low, high = thumb.getextrema()  # type: ignore[misc]
    assert high - low > 100  # not clipped to white


def test_derivatives_carry_no_metadata_or_payload(client: httpx.Client, account: Account) -> None:
    gps = upload(client, account, photos.photo("exif_gps.jpg")).json()
    for variant in ("thumb", "square"):
        assert not fetch(client, account, gps["id"], variant).getexif()
    polyglot = upload(client, account, photos.polyglot_jpeg()).json()
    for variant in ("thumb", "square"):
        response = client.get(
            f"/api/images/{polyglot['id']}/file", params={"variant": variant}, headers=account.headers
        )
        assert b"<?php" not in response.content


def test_the_original_is_kept_byte_for_byte_and_served_with_nosniff(client: httpx.Client, account: Account) -> None:
    created = upload(client, account, photos.photo("frozenpond.mpo")).json()
    response = client.get(f"/api/images/{created['id']}/file", headers=account.headers)
    assert response.content == photos.photo("frozenpond.mpo")
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["x-content-type-options"] == "nosniff"
    again = client.get(
        f"/api/images/{created['id']}/file", headers={**account.headers, "If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304


@pytest.mark.parametrize("make", [make_thumbnail, make_square])
def test_jpeg_is_decoded_shrunk_not_at_full_size(make: object, monkeypatch: pytest.MonkeyPatch) -> None:
    big = io.BytesIO()
    photos.decode(photos.flower()).resize((3840, 2880)).save(big, "JPEG", quality=90)
    decoded_sizes: list[tuple[int, int]] = []
    original_load = Image.Image.load

    def spy(self: Image.Image) -> object:
        result = original_load(self)
        decoded_sizes.append(self.size)
        return result

    monkeypatch.setattr(Image.Image, "load", spy)
    make(io.BytesIO(big.getvalue()))  # type: ignore[operator]
    assert decoded_sizes and max(w for w, _ in decoded_sizes[:1]) <= 3840 // 4


def test_shrunk_decoding_looks_like_a_full_size_lanczos_resize() -> None:
    """The fast path (DCT-scaled decode, box reduce, a stretch of at most 5%) keeps the picture: it adds less
    than 1.5/255 of average error to what JPEG encoding of a full-size LANCZOS resize costs anyway."""
    full = photos.decode(photos.photo("frozenpond.mpo")).convert("RGB").resize((4000, 3000), Image.Resampling.LANCZOS)
    encoded = io.BytesIO()
    full.save(encoded, "JPEG", quality=92)
    reference = Image.new("RGB", (512, 512))
    reference.paste(full.resize((512, 384), Image.Resampling.LANCZOS), (0, 64))
    jpeg_only = difference(photos.decode(encode_jpeg(reference)), reference)
    square = photos.decode(make_square(io.BytesIO(encoded.getvalue())))
    assert difference(square, reference) < jpeg_only + 1.5
    thumb_reference = full.resize((128, 96), Image.Resampling.LANCZOS)
    thumb = photos.decode(make_thumbnail(io.BytesIO(encoded.getvalue())))
    thumb_jpeg_only = difference(photos.decode(encode_jpeg(thumb_reference)), thumb_reference)
    assert difference(thumb, thumb_reference) < thumb_jpeg_only + 1.5
