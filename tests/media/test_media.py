"""The media library: uploads checked by content, images with variants, serving, pages, API."""

import datetime as dt

import pytest
from fixtures import api_token, csrf, in_app, login, pages, refuses_bad_paging, rows
from images import SVG, SVG_PLAIN, bomb, gzip_archive, jpeg_rotated, png, png_with_script, sized, zip_archive
from sqlalchemy import select

from media.models import Media, MediaJob
from playlists.models import Layout, LayoutVersion
from signage.api import make_cursor
from signage.models import AuditEntry

pytestmark = pytest.mark.one_database  # not about the database: SQLite only (tests/conftest.py)


def upload(client, *files, folder=None):
    data = {"csrf_token": csrf(client)}
    if folder is not None:
        data["folder"] = folder
    return client.post("/media", data=data, files=[("files", f) for f in files], follow_redirects=False)


def api_upload(client, headers, *files, folder=None):
    data = {"folder": folder} if folder else {}
    return client.post("/api/v1/media", headers=headers, data=data, files=[("files", f) for f in files])


def stored_files(client):
    media_dir = client.app.state.settings.media_dir
    return sorted(p.name for p in media_dir.rglob("*") if p.is_file())


def nothing_stored(client):
    assert rows(client, select(Media)) == []
    assert rows(client, select(MediaJob)) == []
    assert stored_files(client) == []
    tmp = client.app.state.settings.data_dir / "tmp"
    assert not tmp.exists() or not any(tmp.iterdir())


def test_upload_stores_image_and_thumbnail(client):
    login(client, "editor")
    r = upload(client, ("red.png", png(), "image/png"))
    assert r.status_code == 303
    [item] = rows(client, select(Media))
    assert (item.name, item.kind, item.width, item.height, item.mime) == ("red.png", "image", 64, 48, "image/png")
    assert item.status == "ready" and item.variants == []  # smaller than every screen size: no variants
    assert stored_files(client) == sorted([f"{item.sha256}.png", f"{item.sha256}.thumb.webp"])
    assert client.get(item.url).content == png()
    assert client.get(item.thumb_url).headers["content-type"] == "image/webp"
    assert "red.png" in client.get("/media").text


def test_large_image_gets_screen_size_variants_and_keeps_its_original(client):
    import io

    from PIL import Image

    login(client, "editor")
    original = sized(2400, 1350)
    upload(client, ("wide.jpg", original, "image/jpeg"))
    [item] = rows(client, select(Media))
    assert [(v["width"], v["height"]) for v in item.variants] == [(1920, 1080), (1280, 720)]
    for v in item.variants:
        r = client.get(f"/media/files/{v['file']}")
        assert r.headers["content-type"] == "image/webp"
        assert Image.open(io.BytesIO(r.content)).size == (v["width"], v["height"])
    assert client.get(item.original_url).content == original


def test_exif_orientation_is_applied(client):
    import io

    from PIL import Image

    login(client, "editor")
    upload(client, ("photo.jpg", jpeg_rotated(2000, 1000), "image/jpeg"))
    [item] = rows(client, select(Media))
    assert (item.width, item.height) == (1000, 2000)
    thumb = Image.open(io.BytesIO(client.get(item.thumb_url).content))
    assert thumb.size == (240, 480)  # upright: taller than wide
    assert [(v["width"], v["height"]) for v in item.variants] == []  # 1000 wide: no smaller screen width


def test_same_content_is_stored_once(client):
    login(client, "editor")
    upload(client, ("a.png", png(), "image/png"))
    upload(client, ("b.png", png(), "image/png"))
    assert len(rows(client, select(Media))) == 1
    headers = api_token(client, "editor")
    r = api_upload(client, headers, ("c.png", png(), "image/png"))
    assert r.status_code == 201
    [body] = r.json()["items"]
    assert body["duplicate"] is True and body["name"] == "a.png"
    assert len(rows(client, select(Media))) == 1


def test_several_files_at_once(client):
    login(client, "editor")
    r = upload(client, ("a.png", png(color="red"), "image/png"), ("b.png", png(color="blue"), "image/png"))
    assert r.status_code == 303
    assert len(rows(client, select(Media))) == 2


BAD = [
    ("empty.png", b"", 400, "The file is empty."),
    ("notes.png", b"this is plain text, not a picture", 400, "This file is not an image or a video."),
    ("report.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\n", 400, "This file is not an image or a video."),
    ("cut.png", png(400, 300)[:200], 400, "The image is damaged or incomplete."),
    ("bomb.png", bomb(), 400, "The image is too large"),
    ("logo.svg", SVG, 400, "SVG and web pages are not accepted"),
    ("plain.svg", SVG_PLAIN, 400, "SVG and web pages are not accepted"),
    ("page.jpg", b"<!DOCTYPE html><html><script>alert(1)</script></html>", 400, "SVG and web pages are not accepted"),
    ("poly.png", png_with_script(), 400, "The file carries script or markup"),
    ("photos.zip", zip_archive(), 400, "Archives are not accepted"),
    ("photos.png", gzip_archive(), 400, "Archives are not accepted"),
]


@pytest.mark.parametrize("name, content, status, message", BAD, ids=[b[0] for b in BAD])
def test_bad_files_are_refused_and_nothing_is_left(client, name, content, status, message):
    """Through the page's form (the message in the page) and the API (a JSON error)."""
    login(client, "editor")
    r = upload(client, (name, content, "image/png"))
    assert r.status_code == status
    assert message in r.text
    nothing_stored(client)
    [entry] = rows(client, select(AuditEntry).where(AuditEntry.action == "media.upload"))
    assert entry.result == "failure" and message in entry.reason

    r = api_upload(client, api_token(client, "editor"), (name, content, "image/png"))
    assert r.status_code == status
    body = r.json()
    assert body["error"] == "invalid" and message in body["message"]
    assert body["detail"]["refused"][0]["file"] == name and body["detail"]["items"] == []
    nothing_stored(client)


def test_truncated_and_fake_videos_are_refused(client, videos, tmp_path):
    headers = api_token(client, "editor")
    for name in ("h264.mp4", "h264.mkv", "mpeg4.avi"):
        data = videos[name].read_bytes()
        r = api_upload(client, headers, (name, data[: len(data) * 6 // 10], "video/mp4"))
        assert r.status_code == 400, name
        assert r.json()["message"] == "The video is damaged or incomplete.", name
    fake = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 2000  # an MP4 header and nothing playable
    r = api_upload(client, headers, ("fake.mp4", fake, "video/mp4"))
    assert r.status_code == 400 and r.json()["message"] in (
        "The video is damaged or incomplete.",
        "This file is not an image or a video.",
    )
    nothing_stored(client)


def test_oversized_upload_is_413(make_client):
    client = make_client(max_upload_mb=1)
    login(client, "editor")
    r = upload(client, ("big.png", b"\x89PNG" + b"0" * (2 * 1024 * 1024), "image/png"))
    assert r.status_code == 413
    assert "larger than 1 MB" in r.text
    nothing_stored(client)
    headers = api_token(client, "editor")
    r = api_upload(client, headers, ("big.png", b"\x89PNG" + b"0" * (2 * 1024 * 1024), "image/png"))
    assert r.status_code == 413 and r.json()["error"] == "too_large" and "larger than 1 MB" in r.json()["message"]
    nothing_stored(client)


def test_one_bad_file_among_good_ones(client):
    headers = api_token(client, "editor")
    r = api_upload(client, headers, ("ok.png", png(), "image/png"), ("bad.png", b"nope", "image/png"))
    assert r.status_code == 400
    detail = r.json()["detail"]
    assert [i["name"] for i in detail["items"]] == ["ok.png"]
    assert detail["refused"] == [
        {"file": "bad.png", "error": "invalid", "message": "This file is not an image or a video."}
    ]
    assert [m.name for m in rows(client, select(Media))] == ["ok.png"]


def test_media_files_cannot_escape_the_media_dir(client):
    assert client.get("/media/files/..%2Fsecret_key").status_code == 404
    assert client.get("/media/files/.hidden").status_code == 404


def test_files_are_served_with_ranges_etags_and_long_caching(client):
    login(client, "editor")
    data = sized(300, 200, fmt="PNG")
    upload(client, ("p.png", data, "image/png"))
    [item] = rows(client, select(Media))
    r = client.get(item.url)
    assert r.status_code == 200 and r.content == data
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.headers["accept-ranges"] == "bytes" and r.headers["x-content-type-options"] == "nosniff"
    etag = r.headers["etag"]
    assert client.get(item.url, headers={"If-None-Match": etag}).status_code == 304
    r = client.get(item.url, headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20]
    assert r.headers["content-range"] == f"bytes 10-19/{len(data)}"
    r = client.get(item.url, headers={"Range": "bytes=-5"})
    assert r.status_code == 206 and r.content == data[-5:]
    r = client.get(item.url, headers={"Range": f"bytes={len(data)}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(data)}"
    r = client.get(item.url, headers={"Range": "bytes=5-", "If-Range": '"other"'})
    assert r.status_code == 200 and r.content == data
    head = client.head(item.url)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(data)) and head.content == b""


def test_library_search_filter_and_folders(client, videos):
    login(client, "editor")
    upload(client, ("spring sale.png", png(color="red"), "image/png"), folder="Campaigns")
    upload(client, ("logo.png", png(color="blue"), "image/png"))
    upload(client, ("intro.mp4", videos["h264.mp4"].read_bytes(), "video/mp4"), folder="Campaigns")

    def names(query):
        html = client.get("/media" + query, headers={"HX-Request": "true"}).text
        return sorted(m.name for m in rows(client, select(Media)) if f">{m.name}</a>" in html)

    assert names("") == ["intro.mp4", "logo.png", "spring sale.png"]
    assert names("?q=SALE") == ["spring sale.png"]
    assert names("?kind=video") == ["intro.mp4"]
    assert names("?kind=image&folder=Campaigns") == ["spring sale.png"]
    assert "Nothing matches." in client.get("/media?q=zzz").text
    assert '<option value="Campaigns"' in client.get("/media").text


def test_api_lists_and_describes_items(client):
    headers = api_token(client, "editor")
    r = api_upload(client, headers, ("wide.jpg", sized(2000, 1000), "image/jpeg"), folder="Lobby")
    assert r.status_code == 201
    [created] = r.json()["items"]
    assert created["status"] == "ready" and created["duplicate"] is False
    item = client.get(f"/api/v1/media/{created['id']}", headers=headers).json()
    assert item["kind"] == "image" and item["folder"] == "Lobby" and (item["width"], item["height"]) == (2000, 1000)
    assert set(item["variants"]) == {"1920", "1280"} and item["used_by"] == []
    assert client.get(item["variants"]["1920"]).status_code == 200
    listed = client.get("/api/v1/media?folder=Lobby", headers=headers).json()["items"]
    assert [i["id"] for i in listed] == [created["id"]]
    assert client.get("/api/v1/media?folder=Other", headers=headers).json()["items"] == []
    assert client.get("/api/v1/media/folders", headers=headers).json() == {"folders": ["Lobby"]}
    r = client.get("/api/v1/media/9999", headers=headers)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = client.post("/api/v1/media", headers=headers, json={"files": []})
    assert r.status_code == 400 and "multipart/form-data" in r.json()["message"]


def test_the_media_list_pages_newest_first_with_its_filters(client):
    """Issue 13 point 7: all the items (the list stopped at 200), newest first (by upload time,
    then id: items of the same moment too), `limit` and `cursor` with the next page in `Link`;
    an item uploaded while paging comes before the first page, so no page repeats or skips one."""
    start = dt.datetime(2026, 1, 1, 8, 0, 0, 123457, tzinfo=dt.UTC)

    async def add(n):
        async with client.app.state.db.begin() as s:
            for i in range(n):  # three at each moment, and ids not in the order of time
                at = start + dt.timedelta(seconds=(i * 7) % n // 3)
                s.add(Media(name=f"m{i}.png", kind="image", sha256=f"{i:064x}", ext="png", mime="image/png", size=1,
                            folder="A" if i % 2 else "", created_at=at))  # fmt: skip

    in_app(client, add, 230)
    newest = sorted(rows(client, select(Media)), key=lambda m: (m.created_at, m.id), reverse=True)
    headers = api_token(client, "editor")
    assert [i["id"] for i in client.get("/api/v1/media", headers=headers).json()["items"]] == [m.id for m in newest]

    got = pages(client, "/api/v1/media?limit=50", headers, items="items")
    assert [len(p) for p in got] == [50, 50, 50, 50, 30]
    assert [i["id"] for p in got for i in p] == [m.id for m in newest]
    got = pages(client, "/api/v1/media?limit=40&folder=A&kind=image&q=m", headers, items="items")
    assert [i["id"] for p in got for i in p] == [m.id for m in newest if m.folder == "A"]
    assert pages(client, "/api/v1/media?limit=40&kind=video", headers, items="items") == [[]]

    r = client.get("/api/v1/media?limit=100", headers=headers)
    uploaded = api_upload(client, headers, ("new.png", png(color="green"), "image/png")).json()["items"][0]
    rest = pages(client, r.headers["link"][1 : r.headers["link"].index(">")], headers, items="items")
    assert [i["id"] for i in r.json()["items"]] + [i["id"] for p in rest for i in p] == [m.id for m in newest]
    assert client.get("/api/v1/media?limit=1", headers=headers).json()["items"][0]["id"] == uploaded["id"]

    forged = [make_cursor("rooms", 1), make_cursor("media", "2026-01-01T08:00:00", 1), make_cursor("media", 1, 1)]
    forged += [make_cursor("media", "2026-13-01T08:00:00+00:00", 1), make_cursor("media", "0001-01-01T00:00+08:00", 1)]
    refuses_bad_paging(client, "/api/v1/media", headers, forged)


def test_rename_and_move_to_a_folder(client):
    login(client, "editor")
    upload(client, ("a.png", png(), "image/png"))
    [item] = rows(client, select(Media))
    r = client.post(
        f"/media/{item.id}/rename",
        data={"name": "Front door", "folder": "Doors", "csrf_token": csrf(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    [item] = rows(client, select(Media))
    assert (item.name, item.folder) == ("Front door", "Doors")
    r = client.post(f"/media/{item.id}/rename", data={"name": "  ", "csrf_token": csrf(client)})
    assert r.status_code == 400 and "Give the item a name" in r.text
    assert rows(client, select(Media))[0].name == "Front door"


def publish_with(client, media_id, name="Lobby"):
    r = client.post(
        "/layouts", data={"name": name, "size": "1920x1080", "csrf_token": csrf(client)}, follow_redirects=False
    )
    lid = int(r.headers["location"].rsplit("/", 1)[1])
    client.post(
        f"/layouts/{lid}/regions",
        data={"widget": "image", "x": 0, "y": 0, "w": 100, "h": 100, "csrf_token": csrf(client)},
    )
    client.post(
        f"/layouts/{lid}/regions",
        data={"widget": "clock", "x": 100, "y": 0, "w": 100, "h": 100, "csrf_token": csrf(client)},
    )
    [region, _clock] = rows(client, select(Layout).where(Layout.id == lid))[0].regions
    client.post(
        f"/layouts/{lid}/regions/{region['id']}",
        data={"x": 0, "y": 0, "w": 100, "h": 100, "z": 0, "o.media_id": media_id, "csrf_token": csrf(client)},
    )
    client.post(f"/layouts/{lid}/publish", data={"csrf_token": csrf(client)})
    return lid


def test_where_used_and_safe_delete(client):
    login(client, "editor")
    upload(client, ("a.png", png(), "image/png"))
    [item] = rows(client, select(Media))
    lid = publish_with(client, item.id)
    page = client.get(f"/media/{item.id}").text
    assert f'data-use="layout:{lid}"' in page and "published" in page

    r = client.post(f"/media/{item.id}/delete", data={"csrf_token": csrf(client)})
    assert r.status_code == 409 and "Published layouts use this item: Lobby" in r.text
    assert len(rows(client, select(Media))) == 1 and len(stored_files(client)) == 2

    headers = api_token(client, "editor")
    r = client.delete(f"/api/v1/media/{item.id}", headers=headers)
    assert r.status_code == 409 and r.json()["detail"]["used_by"][0]["id"] == lid

    r = client.post(
        f"/media/{item.id}/delete", data={"confirm": "yes", "csrf_token": csrf(client)}, follow_redirects=False
    )
    assert r.status_code == 303
    assert rows(client, select(Media)) == [] and stored_files(client) == []
    [layout] = rows(client, select(Layout))
    assert [r["widget"] for r in layout.regions] == ["clock"] and layout.published_version == 2
    v2 = rows(client, select(LayoutVersion).where(LayoutVersion.version == 2))[0]
    assert [r["widget"] for r in v2.content["regions"]] == ["clock"]
    failed = rows(client, select(AuditEntry).where(AuditEntry.action == "media.delete", AuditEntry.result == "failure"))
    assert len(failed) == 2


def test_unused_item_deletes_through_the_api(client):
    headers = api_token(client, "editor")
    [item] = api_upload(client, headers, ("a.png", png(), "image/png")).json()["items"]
    assert client.delete(f"/api/v1/media/{item['id']}", headers=headers).status_code == 204
    assert rows(client, select(Media)) == [] and stored_files(client) == []
    assert client.delete(f"/api/v1/media/{item['id']}", headers=headers).status_code == 404


def test_members_may_not_use_the_library(client):
    headers = api_token(client, "member")
    r = api_upload(client, headers, ("a.png", png(), "image/png"))
    assert r.status_code == 403
    assert rows(client, select(Media)) == []


def test_item_in_a_published_playlist_is_protected_then_taken_out(client):
    """A media item in a playlist shown by a published layout blocks a delete; confirmed,
    it leaves the playlist, its published version, and the layout's snapshot of it."""
    from playlists.models import Playlist, PlaylistVersion

    headers = api_token(client, "editor")
    [a] = api_upload(client, headers, ("a.png", png(color="red"), "image/png")).json()["items"]
    [b] = api_upload(client, headers, ("b.png", png(color="blue"), "image/png")).json()["items"]
    items = [{"widget": "image", "options": {"media_id": m["id"]}, "duration": 5} for m in (a, b)]
    playlist = client.post("/api/v1/playlists", headers=headers, json={"name": "Loop", "items": items}).json()
    assert client.post(f"/api/v1/playlists/{playlist['id']}/publish", headers=headers).status_code == 201
    region = {"x": 0, "y": 0, "w": 100, "h": 100, "widget": "playlist", "options": {"playlist_id": playlist["id"]}}
    layout = client.post("/api/v1/layouts", headers=headers, json={"name": "L", "regions": [region]}).json()
    assert client.post(f"/api/v1/layouts/{layout['id']}/publish", headers=headers).status_code == 201

    used = client.get(f"/api/v1/media/{a['id']}", headers=headers).json()["used_by"]
    assert {(u["kind"], u["published"]) for u in used} == {("playlist", True), ("layout", True)}
    r = client.delete(f"/api/v1/media/{a['id']}", headers=headers)
    assert r.status_code == 409
    assert client.delete(f"/api/v1/media/{a['id']}?confirm=yes", headers=headers).status_code == 204

    [pl] = rows(client, select(Playlist))
    assert [i["options"]["media_id"] for i in pl.items] == [b["id"]]
    newest = rows(client, select(PlaylistVersion).where(PlaylistVersion.version == pl.published_version))[0]
    assert [i["options"]["media_id"] for i in newest.items] == [b["id"]]
    [lo] = rows(client, select(Layout))
    snapshot = rows(client, select(LayoutVersion).where(LayoutVersion.version == lo.published_version))[0]
    assert [i["options"]["media_id"] for i in snapshot.content["regions"][0]["items"]] == [b["id"]]
    assert client.get(f"/api/v1/media/{b['id']}", headers=headers).json()["used_by"]
