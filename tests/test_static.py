"""Static files of every folder are served from one /static/ namespace.

Regression: booking_api/static/live.js was hidden by signage/static/live.js (the first
package wins), so the booking pages silently ran the wrong script. Names must be unique.
"""

from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("signage", "widgets", "player", "playlists", "media", "booking_api")


def test_static_file_names_are_unique_across_folders():
    names = Counter(
        str(p.relative_to(ROOT / folder / "static"))
        for folder in FOLDERS
        if (ROOT / folder / "static").is_dir()
        for p in (ROOT / folder / "static").rglob("*")
        if p.is_file()
    )
    assert [n for n, c in names.items() if c > 1] == []


def test_every_static_folder_is_served(client):
    for folder in FOLDERS:
        static = ROOT / folder / "static"
        if static.is_dir():
            first = next(p for p in sorted(static.rglob("*")) if p.is_file())
            r = client.get("/static/" + str(first.relative_to(static)))
            assert r.status_code == 200, first
            assert r.content == first.read_bytes()
