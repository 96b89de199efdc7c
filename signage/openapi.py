"""The OpenAPI 3.1 document of `/api/v1`, built from what modules register.

    openapi.add("post", "/api/v1/rooms", "Create a room", body=RoomIn, response=RoomOut, status=201)

Bodies and answers are pydantic models (or `list[Model]`); their JSON Schemas go
into `components.schemas`. Served at `/api/v1/openapi.json`, readable at `/api/v1/docs`.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter
from starlette.requests import Request
from starlette.responses import Response

from signage.auth import PUBLIC, route
from signage.responses import JSONResponse

REF = "#/components/schemas/{model}"


@dataclasses.dataclass
class Operation:
    method: str
    path: str
    summary: str
    body: Any = None
    response: Any = None
    status: int = 200
    tag: str = "api"
    query: dict[str, str] = dataclasses.field(default_factory=dict)  # name → description
    errors: tuple[int, ...] = (400, 401, 403, 404)
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    form: dict[str, str] = dataclasses.field(default_factory=dict)  # multipart fields: name → description


OPERATIONS: dict[tuple[str, str], Operation] = {}


class Error(BaseModel):
    error: str = Field(description="a code: invalid, unauthorized, forbidden, not_found, conflict, too_large")
    message: str = Field(description="what went wrong, in the request's language")
    detail: Any = None


def add(method: str, path: str, summary: str, **kwargs) -> None:
    OPERATIONS[(method.lower(), path)] = Operation(method.lower(), path, summary, **kwargs)


def _schema(model: Any, components: dict) -> dict:
    schema = TypeAdapter(model).json_schema(ref_template=REF)
    components.update(schema.pop("$defs", {}))
    if isinstance(model, type) and issubclass(model, BaseModel):
        components[model.__name__] = schema
        return {"$ref": REF.format(model=model.__name__)}
    return schema


def _operation(op: Operation, components: dict) -> dict:
    op_id = op.method + re.sub(r"\W+", "_", op.path)
    out: dict = {"summary": op.summary, "tags": [op.tag], "operationId": op_id}
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}
        for name in re.findall(r"{(\w+)}", op.path)
    ]
    params += [
        {"name": n, "in": "query", "required": False, "schema": {"type": "string"}, "description": d}
        for n, d in op.query.items()
    ]
    params += [
        {"name": n, "in": "header", "required": False, "schema": {"type": "string"}, "description": d}
        for n, d in op.headers.items()
    ]
    if params:
        out["parameters"] = params
    if op.form:
        props = {
            name: {"type": "array", "items": {"type": "string", "format": "binary"}, "description": d}
            if name == "files"
            else {"type": "string", "description": d}
            for name, d in op.form.items()
        }
        out["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": {"type": "object", "properties": props}}},
        }
    if op.body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema(op.body, components)}},
        }
    ok: dict = {"description": "OK"}
    if op.response is not None:
        ok["content"] = {"application/json": {"schema": _schema(op.response, components)}}
    error = {"description": "error", "content": {"application/json": {"schema": _schema(Error, components)}}}
    out["responses"] = {str(op.status): ok, **{str(code): error for code in op.errors}}
    return out


def document() -> dict:
    components: dict = {}
    paths: dict = {}
    for (method, path), op in sorted(OPERATIONS.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        paths.setdefault(path, {})[method] = _operation(op, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Signage API",
            "version": "1",
            "description": "Rooms, bookings and screens. Send `Authorization: Bearer <token>` "
            "(make one with `signage token create --email E`). Times are ISO 8601 with an offset.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


async def openapi_json(request: Request) -> Response:
    return JSONResponse(document())


async def docs_page(request: Request) -> Response:
    from signage.templating import render

    doc = document()
    return render(request, "api_docs.html", {"doc": doc})


def _register_platform() -> None:
    """The API operations of the signage side, described here to keep their modules small."""

    class Me(BaseModel):
        id: int
        email: str
        name: str
        role: str
        locale: str | None

    class ScreenOut(BaseModel):
        id: int
        name: str
        kind: str = Field(description="door_sign, lobby_board, waiting_room, service or in_room")
        location: str
        room_id: int | None
        group_id: int | None
        layout_id: int | None = Field(description="its default layout (schedules may show others)")
        resolution: str
        player_version: str
        address: str
        online: bool = Field(description="a heartbeat arrived recently")
        last_seen: str | None
        received_version: int
        applied_version: int = Field(description="the newest version the screen has applied")
        applied_layout: str

    class ScreenClaim(BaseModel):
        code: str
        name: str
        layout_id: int | None = None

    add("get", "/api/v1/me", "Who am I", response=Me, tag="account")
    add("get", "/api/v1/screens", "List paired screens", response=list[ScreenOut], tag="signage")
    add(
        "post",
        "/api/v1/screens/claim",
        "Pair a screen by its code",
        body=ScreenClaim,
        response=ScreenOut,
        status=201,
        tag="signage",
    )
    add(
        "delete",
        "/api/v1/screens/{id}",
        "Unpair a screen (it returns to its pairing page)",
        status=204,
        tag="signage",
        errors=(401, 403, 404),
    )


_register_platform()


routes = [
    route("/api/v1/openapi.json", openapi_json, allow=PUBLIC),
    route("/api/v1/docs", docs_page, allow=PUBLIC),
]
