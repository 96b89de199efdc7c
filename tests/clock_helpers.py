"""Several server processes' booking clocks moved at once (SIGNAGE_TEST_CLOCK), and their
room timers watched until idle (the multi-process tests of door screens and the desk)."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
from fixtures import run_sync


def shift_all_to(urls: list[str], headers: dict, target: dt.datetime) -> list[dt.datetime]:
    """Every process's booking clock to `target`, all at once; each one's time right after."""

    async def shift():
        async with httpx.AsyncClient(timeout=30) as c:

            async def one(url):
                now = await c.post(url + "/api/v1/clock", json={"shift_seconds": 0}, headers=headers)
                by = (target - dt.datetime.fromisoformat(now.json()["now"])).total_seconds()
                return await c.post(url + "/api/v1/clock", json={"shift_seconds": by}, headers=headers)

            return await asyncio.gather(*(one(url) for url in urls))

    return [dt.datetime.fromisoformat(r.json()["now"]) for r in run_sync(shift())]


def timers_idle_since(urls: list[str], shifted: list[dt.datetime]) -> bool:
    """Each process's room timer has ticked at or after its shift, and sleeps with no change waiting."""
    for url, since in zip(urls, shifted, strict=True):
        timer = httpx.get(url + "/healthz", timeout=5).json()["room_timer"]
        if not (timer["idle"] and timer["ticked_at"] and dt.datetime.fromisoformat(timer["ticked_at"]) >= since):
            return False
    return True
