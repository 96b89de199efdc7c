"""Test helpers: claimed screens and screen groups written straight into the database."""

from __future__ import annotations

import secrets

from conftest import in_app

from player.models import Screen, ScreenGroup
from signage.auth import hash_token
from signage.db import utcnow


def make_group(client, name: str) -> int:
    async def add():
        async with client.app.state.db.begin() as s:
            group = ScreenGroup(name=name)
            s.add(group)
        return group.id

    return in_app(client, add)


def make_screen(client, name: str = "Lobby", layout_id: int | None = None, group_id: int | None = None):
    """A claimed screen; returns (its id, the headers it authenticates with)."""
    key = secrets.token_urlsafe(32)

    async def add():
        async with client.app.state.db.begin() as s:
            screen = Screen(
                name=name, key_hash=hash_token(key), claimed_at=utcnow(), layout_id=layout_id, group_id=group_id
            )
            s.add(screen)
        return screen.id

    return in_app(client, add), {"X-Screen-Key": key}


def state(client, headers) -> dict:
    r = client.get("/player/api/state", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()
