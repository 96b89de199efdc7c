"""Background work on media: a table of jobs and a worker in every server process.

The worker starts in the app's lifespan. It claims a queued job atomically
(`UPDATE … WHERE id = ? AND status = 'queued'`, then checks the row count), so
several processes on one PostgreSQL database never run the same job twice. While
a job runs its heart beats every HEARTBEAT seconds. A job left "running" by a
process that died is queued again, until it has been tried MAX_ATTEMPTS times:
at once when that process ran on this machine (a restart), else once its heart
has been still for STALE_AFTER seconds.

Progress goes to the `media` events channel: `{"type": "progress", "id", "progress"}`,
then `{"type": "ready", "id"}` or `{"type": "failed", "id", "error"}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import uuid
from pathlib import Path

from sqlalchemy import select, update
from starlette.concurrency import run_in_threadpool

from media import images, videos
from media.models import Media, MediaJob
from signage import i18n, topics
from signage.db import utcnow
from signage.errors import Invalid

log = logging.getLogger("signage.media")

POLL = 2.0
HEARTBEAT = 5.0
STALE_AFTER = 30.0
MAX_ATTEMPTS = 3


def dead_here(worker: str) -> bool:
    """Whether `worker` ("host:pid:tag") was a process of this machine that no longer runs."""
    host, _sep, rest = worker.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, under another user
        return False
    return False


class Worker:
    def __init__(self, db, bus, media_dir: Path) -> None:
        self.db, self.bus, self.media_dir = db, bus, media_dir
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.wakeup = asyncio.Event()
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.run(), name="signage-media-worker")

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    def wake(self) -> None:
        self.wakeup.set()

    async def run(self) -> None:
        i18n.current_locale.set("en")  # errors are stored in English and translated where shown
        while True:
            try:
                await self.requeue_stale()
                while job_id := await self.claim():
                    await self.work(job_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("media worker")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), POLL)
            self.wakeup.clear()

    async def requeue_stale(self) -> None:
        """Queue again the running jobs whose process is gone: on this machine, a process
        that no longer exists; anywhere, a heart that has been still for STALE_AFTER seconds."""
        cutoff = utcnow() - dt.timedelta(seconds=STALE_AFTER)
        running = MediaJob.status == "running"
        async with self.db.session() as s:  # a read first: no write lock taken while all is well
            jobs = (await s.execute(select(MediaJob.id, MediaJob.worker, MediaJob.heartbeat_at).where(running))).all()
        gone = [
            job_id
            for job_id, worker, beat in jobs
            if (beat is not None and beat < cutoff) or (worker != self.name and dead_here(worker))
        ]
        if not gone:
            return
        stale = running & MediaJob.id.in_(gone)
        async with self.db.begin() as s:
            await s.execute(update(MediaJob).where(stale, MediaJob.attempts < MAX_ATTEMPTS).values(status="queued"))
            failed = (await s.scalars(select(MediaJob.media_id).where(stale))).all()
            if failed:
                reason = i18n.lazy("Processing stopped too many times.")
                await s.execute(update(MediaJob).where(stale).values(status="failed", error=reason))
                await s.execute(update(Media).where(Media.id.in_(failed)).values(status="failed", error=reason))

    async def claim(self) -> int | None:
        async with self.db.session() as s:
            ids = (await s.scalars(select(MediaJob.id).where(MediaJob.status == "queued").order_by(MediaJob.id))).all()
        for job_id in ids:
            async with self.db.begin() as s:
                claimed = await s.execute(
                    update(MediaJob)
                    .where(MediaJob.id == job_id, MediaJob.status == "queued")
                    .values(status="running", worker=self.name, attempts=MediaJob.attempts + 1, heartbeat_at=utcnow())
                )
            if claimed.rowcount == 1:
                return job_id
        return None

    async def beat(self, job_id: int, progress: int | None = None) -> None:
        values: dict = {"heartbeat_at": utcnow()}
        if progress is not None:
            values["progress"] = progress
        async with self.db.begin() as s:
            await s.execute(
                update(MediaJob).where(MediaJob.id == job_id, MediaJob.worker == self.name).values(**values)
            )

    async def work(self, job_id: int) -> None:
        async with self.db.session() as s:
            job = await s.get(MediaJob, job_id)
            media = await s.get(Media, job.media_id) if job else None
        if media is None:
            return
        heart = asyncio.create_task(self._heartbeat(job_id))
        try:
            result = await self.process(job_id, media)
        except asyncio.CancelledError:
            await asyncio.shield(self._release(job_id))
            raise
        except (Invalid, RuntimeError) as exc:  # ffmpeg's own reason: trying again will not help
            await self.finish(job_id, media.id, error=getattr(exc, "message", None) or str(exc))
        except Exception as exc:
            log.exception("media job %s", job_id)
            await self.finish(job_id, media.id, error=str(exc) or type(exc).__name__, retry=True)
        else:
            await self.finish(job_id, media.id, result=result)
        finally:
            heart.cancel()

    async def _heartbeat(self, job_id: int) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            await self.beat(job_id)

    async def _release(self, job_id: int) -> None:
        async with self.db.begin() as s:
            await s.execute(
                update(MediaJob).where(MediaJob.id == job_id, MediaJob.worker == self.name).values(status="queued")
            )

    async def process(self, job_id: int, media: Media) -> dict:
        folder = self.media_dir / media.sha256[:2]
        src = folder / media.file_name
        info = await run_in_threadpool(videos.inspect, src)
        poster = folder / f"{media.sha256}.poster.jpg"
        await videos.poster(src, poster, info)
        await run_in_threadpool(images.thumbnail, poster, folder / f"{media.sha256}.thumb.webp")
        how = videos.plan(info)
        play = media.file_name
        if how != "as_is":
            play = f"{media.sha256}.play.mp4"
            tmp = folder / f"{media.sha256}.play.part"

            async def progress(percent: int) -> None:
                await self.beat(job_id, percent)
                await self.bus.notify_many(topics.media_changed("progress", media.id, progress=percent))

            await videos.make_playable(src, tmp, info, how, progress)
            tmp.replace(folder / play)
        return {"play_file": play, "poster_file": poster.name}

    async def finish(self, job_id: int, media_id: int, result: dict | None = None, error: str = "", retry=False):
        async with self.db.begin() as s:
            job = await s.get(MediaJob, job_id)
            media = await s.get(Media, media_id)
            if job is None or media is None:
                return
            if error and retry and job.attempts < MAX_ATTEMPTS:
                job.status, job.error = "queued", error
                return
            job.status, job.error, job.heartbeat_at = ("failed" if error else "done"), error, utcnow()
            media.status, media.error = ("failed", error) if error else ("ready", "")
            if result:
                job.progress = 100
                media.play_file, media.poster_file = result["play_file"], result["poster_file"]
        extra = {"error": error} if error else {}
        await self.bus.notify_many(topics.media_changed("failed" if error else "ready", media_id, **extra))
