"""Uploading an image: checked by Pillow, stored once, with a thumbnail."""

import pytest
from conftest import csrf, login, rows
from images import bomb, jpeg_rotated, png
from sqlalchemy import select

from media.models import Media


def upload(client, *files):
    return client.post(
        "/media", data={"csrf_token": csrf(client)}, files=[("files", f) for f in files], follow_redirects=False
    )


def stored_files(client):
    media_dir = client.app.state.settings.media_dir
    return sorted(p.name for p in media_dir.rglob("*") if p.is_file())


def test_upload_stores_image_and_thumbnail(client):
    login(client, "editor")
    r = upload(client, ("red.png", png(), "image/png"))
    assert r.status_code == 303
    [item] = rows(client, select(Media))
    assert (item.name, item.kind, item.width, item.height, item.mime) == ("red.png", "image", 64, 48, "image/png")
    assert stored_files(client) == sorted([f"{item.sha256}.png", f"{item.sha256}.thumb.webp"])
    assert client.get(item.url).content == png()
    assert client.get(item.thumb_url).headers["content-type"] == "image/webp"
    assert "red.png" in client.get("/media").text


def test_exif_orientation_is_applied(client):
    login(client, "editor")
    upload(client, ("photo.jpg", jpeg_rotated(), "image/jpeg"))
    [item] = rows(client, select(Media))
    assert (item.width, item.height) == (40, 80)


def test_same_content_is_stored_once(client):
    login(client, "editor")
    upload(client, ("a.png", png(), "image/png"))
    upload(client, ("b.png", png(), "image/png"))
    assert len(rows(client, select(Media))) == 1


def test_several_files_at_once(client):
    login(client, "editor")
    r = upload(client, ("a.png", png(color="red"), "image/png"), ("b.png", png(color="blue"), "image/png"))
    assert r.status_code == 303
    assert len(rows(client, select(Media))) == 2


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.png", b"", "The file is empty."),
        ("notes.png", b"this is plain text, not a picture", "This file is not an image."),
        ("cut.png", png(400, 300)[:200], "The image is damaged or incomplete."),
        ("bomb.png", bomb(), "The image is too large"),
    ],
)
def test_bad_files_are_refused_and_nothing_is_left(client, name, content, message):
    login(client, "editor")
    r = upload(client, (name, content, "image/png"))
    assert r.status_code == 400
    assert message in r.text
    assert rows(client, select(Media)) == []
    assert stored_files(client) == []
    assert not any((client.app.state.settings.data_dir / "tmp").iterdir())


def test_oversized_upload_is_413(make_client):
    client = make_client(max_upload_mb=1)
    login(client, "editor")
    r = upload(client, ("big.png", b"\x89PNG" + b"0" * (2 * 1024 * 1024), "image/png"))
    assert r.status_code == 413
    assert "larger than 1 MB" in r.text
    assert rows(client, select(Media)) == []


def test_media_files_cannot_escape_the_media_dir(client):
    assert client.get("/media/files/..%2Fsecret_key").status_code == 404
    assert client.get("/media/files/.hidden").status_code == 404
