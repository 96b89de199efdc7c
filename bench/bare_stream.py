"""The baseline for bench/fleet.py: a bare ASGI event stream (no framework, no auth,
no database): every connection waits on its own queue; `POST /publish` puts the
same small frame into every queue.

    uvicorn --app-dir bench bare_stream:app
"""

import asyncio

queues: set[asyncio.Queue] = set()
version = 1


async def app(scope, receive, send):
    global version
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["path"] == "/publish":
        version += 1
        frame = f'event: layout\ndata: {{"id":1,"version":{version}}}\n\n'.encode()
        for q in queues:
            q.put_nowait(frame)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": str(version).encode()})
        return
    if scope["path"] == "/healthz":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    queue: asyncio.Queue = asyncio.Queue()
    queues.add(queue)

    async def watch():
        while (await receive())["type"] != "http.disconnect":
            pass
        queue.put_nowait(None)

    watcher = asyncio.get_running_loop().create_task(watch())
    try:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        await send({"type": "http.response.body", "body": b"event: hello\ndata: {}\n\n", "more_body": True})
        while (frame := await queue.get()) is not None:
            await send({"type": "http.response.body", "body": frame, "more_body": True})
    finally:
        watcher.cancel()
        queues.discard(queue)
