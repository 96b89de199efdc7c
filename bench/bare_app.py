"""The baseline for bench/run.py: a bare Starlette endpoint returning a small JSON list
shaped like `GET /api/v1/screens` (no middleware, no auth, no database).

    uvicorn --app-dir bench bare_app:app
"""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SCREENS = [
    {"id": i, "name": f"bench {i}", "layout_id": None, "applied_version": 0, "last_seen": None} for i in range(1, 6)
]


async def screens(request: Request) -> JSONResponse:
    return JSONResponse(SCREENS)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/api/v1/screens", screens), Route("/healthz", healthz)])
