"""The baseline for bench/booking.py: a bare Starlette endpoint that reads a booking's
JSON body and answers 201 (no middleware, no auth, no database).

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


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/api/v1/bookings", create, methods=["POST"]), Route("/healthz", healthz)])
