"""The baseline for bench/booking.py and bench/heartbeats.py: bare Starlette endpoints that
read the JSON body and answer (no middleware, no auth, no database).

    uvicorn --app-dir bench bare_booking:app
"""

import itertools
import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ids = itertools.count(1)


async def create(request: Request) -> JSONResponse:
    body = json.loads(await request.body())
    return JSONResponse({"id": next(ids), "room_id": body["room_id"], "status": "confirmed"}, status_code=201)


async def report(request: Request) -> JSONResponse:
    json.loads(await request.body())
    return JSONResponse({"ok": True})


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/api/v1/bookings", create, methods=["POST"]),
        Route("/player/api/heartbeat", report, methods=["POST"]),
        Route("/healthz", healthz),
    ]
)
