"""Image decoding in a worker process, one image at a time, its memory returned.

Decoding a 7000×7000 PNG takes ~200 MB however small the file, and a process that
grew that much rarely gives it back. So every decode (`media.images`) runs in a
child process of its own (a pool of one worker, replaced after each task): at most
one decode at a time per server process, and when it ends its memory goes with it.
Children are forked from a small fork server that has imported Pillow already
(quick to start, none of the server's state). Errors come back as raised in the
child (`Invalid` with its message in the requester's language).

    decoder = Decoder()
    info, variants = await decoder.run(images.process, tmp, folder, sha, max_pixels)
    await decoder.close()
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from signage import i18n


def _in_locale(locale: str, fn, *args) -> Any:
    i18n.current_locale.set(locale)
    return fn(*args)


class Decoder:
    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["media.images"])
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=context, max_tasks_per_child=1)
        return self._pool

    async def run(self, fn, *args) -> Any:
        """`fn(*args)` in the worker (a module-level function: it is sent by name)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor(), _in_locale, i18n.current_locale.get(), fn, *args)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await asyncio.get_running_loop().run_in_executor(None, pool.shutdown)
