"""Static files: each package's under its own prefix (`signage.folders.asset_dirs`).

Regression: with one flat /static/ namespace, booking_api/static/live.js was hidden by
signage/static/live.js (the first package wins), so the booking pages silently ran the
wrong script. Each package now has its own prefix, so same names cannot clash; and
template names, still one namespace, must be unique.
"""

from collections import Counter

from signage.folders import FOLDERS, ROOT, asset_dirs


def test_template_names_are_unique_across_packages():
    names = Counter(
        str(p.relative_to(folder)) for _package, folder in asset_dirs("templates") for p in folder.rglob("*.html")
    )
    assert [n for n, c in names.items() if c > 1] == []


def test_every_static_file_is_served_under_its_package(client):
    served = asset_dirs("static")
    assert {package.split("/")[0] for package, _ in served} == set(FOLDERS)
    for package, folder in served:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            r = client.get(f"/static/{package}/{path.relative_to(folder)}")
            assert r.status_code == 200, path
            assert r.content == path.read_bytes()


def test_every_static_folder_belongs_to_a_package():
    """A `static/` folder outside a package would be silently not served."""
    packages = {folder for _package, folder in asset_dirs("static")}
    for top in FOLDERS:
        for folder in (ROOT / top).rglob("static"):
            if folder.is_dir() and folder.parent.name != "static" and "vendor" not in folder.parts:
                assert folder in packages, folder


def test_pages_link_only_files_that_exist(client):
    """Every /static/ link written in templates, scripts and code names a served file."""
    import re

    linked = set()
    for top in FOLDERS:
        for path in (ROOT / top).rglob("*"):
            if path.suffix in (".html", ".js", ".css", ".py") and "vendor" not in path.parts and path.is_file():
                linked |= set(re.findall(r"(?<![\w/])/static/[A-Za-z0-9_./-]+\.(?:js|css)", path.read_text()))
    assert len(linked) > 10
    for url in sorted(linked):
        assert client.get(url).status_code == 200, url


def test_every_live_part_of_a_page_follows_a_known_topic():
    """Regression: `/media` and `/screens` marked parts `data-live` (no topic, or a URL), so
    static/live.js opened `GET /events/` and `/events/%2Fscreens%2Fevents`: 404, retried forever."""
    import re

    from signage.live import TOPICS

    found = []
    for _package, folder in asset_dirs("templates"):
        for path in folder.rglob("*.html"):
            found += [(path.name, m) for m in re.findall(r"\bdata-live(?:=\"([^\"]*)\")?[\s>]", path.read_text())]
    assert found and all(topic in TOPICS for _name, topic in found), found


def test_the_folders_are_listed_once():
    """`signage.folders.FOLDERS` is the list of top-level packages: the wheel's include list
    (TOML, which cannot import it) must name the same, and scripts/i18n reads it."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = project["tool"]["setuptools"]["packages"]["find"]["include"]
    assert sorted(include) == sorted(f"{top}*" for top in FOLDERS)
    assert "signage.folders import FOLDERS" in (ROOT / "scripts" / "i18n").read_text()


def test_every_htmx_ajax_call_catches_its_promise():
    """htmx 2 rejects `htmx.ajax`'s promise with no reason when the request is aborted
    (`hx-sync` replace) or fails: uncaught, Chromium logs an `undefined` page error (the
    desk's CI failure of stop 27, reproduced in tests/browser/test_desk.py)."""
    import re

    calls = []
    for _package, folder in asset_dirs("static"):
        for path in folder.rglob("*.js"):
            if "vendor" in path.parts:
                continue
            for line in path.read_text().splitlines():
                if "htmx.ajax(" in line:
                    calls.append((path.name, bool(re.search(r"htmx\.ajax\(.*\)\.catch\(", line))))
    assert calls and all(caught for _name, caught in calls), calls
