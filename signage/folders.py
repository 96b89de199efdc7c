"""The top-level folders (the architecture) and where their packages keep files.

Every package may have a `templates/` and a `static/` folder beside its modules.
Static files are served under the package's own prefix, so two packages never hide
each other's files (a second `live.js` once silently replaced another):

    asset_dirs("static")
    → [("signage", Path(".../signage/static")), ("booking_api/rooms", Path(".../booking_api/rooms/static")), ...]
    # booking_api/rooms/static/rooms-live.js is /static/booking_api/rooms/rooms-live.js

Templates are found by name in every package's `templates/` folder; a package puts
its own in a subfolder of its name (`booking_api/doors/templates/doors/doors.html`
is "doors/doors.html"), and `tests/signage/test_static.py` checks that no name is used twice.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("signage", "media", "widgets", "playlists", "player", "booking_api")


def asset_dirs(kind: str) -> list[tuple[str, Path]]:
    """(package path, folder) of every package's `kind` folder ("static" or "templates")."""
    found = []
    for folder in FOLDERS:
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            package = init.parent
            if (package / kind).is_dir() and "migrations" not in package.parts:
                found.append((str(package.relative_to(ROOT)), package / kind))
    return found
