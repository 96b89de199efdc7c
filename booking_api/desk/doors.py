""""Open door" on the desk's room tiles (service staff and admins): the room's doors opened
through their controllers (booking_api.integrations.access), audited, and each door's answer
shown on the tile.

    POST /desk/rooms/{id}/doors/open   (CSRF; htmx: the board again, with the answers)
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from booking_api.desk import tasks
from booking_api.integrations import access
from signage.auth import route
from signage.errors import NotFound


async def open_doors(request: Request) -> Response:
    from booking_api.desk.board import desk_page

    room_id = request.path_params["id"]
    try:
        answers = await access.open_by_hand(request, room_id, "at the service desk")
    except NotFound as exc:
        return await desk_page(request, exc, exc.status)
    return await desk_page(request, opened={"room_id": room_id, "doors": answers})


routes = [route("/desk/rooms/{id:id}/doors/open", open_doors, methods=["POST"], allow=tasks.DESK)]
