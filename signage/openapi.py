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

from signage.api import PAGING, Id, param
from signage.auth import MAX_ID, PUBLIC, route
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
    query: dict[str, str | dict] = dataclasses.field(default_factory=dict)  # name → description or `param(...)`
    errors: tuple[int, ...] = (400, 401, 403, 404)
    headers: dict[str, str | dict] = dataclasses.field(default_factory=dict)
    form: dict[str, str] = dataclasses.field(default_factory=dict)  # multipart fields: name → description
    partial: bool = False  # PATCH: the body's fields are all optional (those given change)
    optional_body: bool = False  # no body at all is the body's defaults
    deprecated: bool = False  # kept for the clients of before; the summary says what replaces it


OPERATIONS: dict[tuple[str, str], Operation] = {}


class Error(BaseModel):
    error: str = Field(description="a code: invalid, unauthorized, forbidden, not_found, conflict, too_large")
    message: str = Field(description="what went wrong, in the request's language")
    detail: Any = None


def _parameter(name: str, where: str, spec: str | dict) -> dict:
    spec = spec if isinstance(spec, dict) else param(spec)
    return {"name": name, "in": where, "required": False, **spec}


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
    if op.deprecated:
        out["deprecated"] = True
    params = [  # a row's id: anything else is no such path (404), as `{name:id}` routes it
        {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}
        for name in re.findall(r"{(\w+)}", op.path)
    ]
    params += [_parameter(n, "query", d) for n, d in op.query.items()]
    params += [_parameter(n, "header", d) for n, d in op.headers.items()]
    if params:
        out["parameters"] = params
    if op.form:
        props = {
            name: {"type": "array", "items": {"type": "string", "format": "binary"}, "description": d}
            if name == "files"
            else {"type": "string", "format": "binary", "description": d}
            if name == "file"
            else {"type": "string", "description": d}
            for name, d in op.form.items()
        }
        out["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": {"type": "object", "properties": props}}},
        }
    if op.body is not None:
        schema = _schema(op.body, components)
        if op.partial:
            name = op.body.__name__
            components[f"{name}Patch"] = {k: v for k, v in components[name].items() if k != "required"}
            components[f"{name}Patch"]["title"] = f"{name}Patch"
            schema = {"$ref": REF.format(model=f"{name}Patch")}
        out["requestBody"] = {"required": not op.optional_body, "content": {"application/json": {"schema": schema}}}
    ok: dict = {"description": "OK"}
    if op.response is not None:
        ok["content"] = {"application/json": {"schema": _schema(op.response, components)}}
    error = {"description": "error", "content": {"application/json": {"schema": _schema(Error, components)}}}
    out["responses"] = {str(op.status): ok, **{str(code): error for code in op.errors}}
    if "If-None-Match" in op.headers:
        out["responses"]["304"] = {"description": "not modified: the ETag sent is still the resource's"}
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


def type_text(spec: dict) -> str:
    """A schema's type in a few words: `integer`, `string (date-time)`, `array of Attendee`, `string or null`."""
    if "$ref" in spec:
        return spec["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in spec:
        return " or ".join(dict.fromkeys(type_text(s) for s in spec["anyOf"]))
    if "enum" in spec:
        return " | ".join(str(v) for v in spec["enum"])
    if "const" in spec:
        return str(spec["const"])
    kind = spec.get("type", "any")
    if kind == "array":
        return f"array of {type_text(spec.get('items', {}))}"
    return f"{kind} ({spec['format']})" if "format" in spec else kind


def limits_text(spec: dict) -> str:
    words = {
        "minimum": "≥ {}",
        "maximum": "≤ {}",
        "minLength": "at least {} characters",
        "maxLength": "at most {} characters",
        "maxItems": "at most {} items",
        "pattern": "matches {}",
    }
    for choice in spec.get("anyOf", []):  # an optional field: the limits of its non-null kind
        if choice.get("type") != "null":
            spec = {**choice, **spec}
    if spec.get("minLength") == 1:
        words["minLength"] = "not empty"
    return ", ".join(words[k].format(spec[k]) for k in words if k in spec)


def fields(schema: dict, components: dict) -> list[dict]:
    """The rows of a body or answer table: name, type, required, default, limits, description."""
    if "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    if schema.get("type") == "array" and "items" in schema:
        schema = schema["items"]
        if "$ref" in schema:
            schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "type": type_text(spec),
            "required": name in required,
            "default": spec.get("default"),
            "limits": limits_text(spec),
            "description": spec.get("description", ""),
        }
        for name, spec in schema.get("properties", {}).items()
    ]


ANSWERS = {
    "200": "OK",
    "201": "created",
    "202": "accepted, done in the background",
    "204": "done, no content",
    "304": "not modified",
    "400": "invalid input",
    "401": "no valid token",
    "403": "not allowed for this role",
    "404": "not found",
    "409": "conflict",
    "412": "changed meanwhile (If-Match)",
    "413": "too large",
    "429": "too many tries: wait for Retry-After",
}


async def docs_page(request: Request) -> Response:
    from signage.templating import render

    doc = document()
    components = doc["components"]["schemas"]
    tags: dict[str, list] = {}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            body = None
            for content_type, content in op.get("requestBody", {}).get("content", {}).items():
                ref = content["schema"].get("$ref", "")
                name = ref.rsplit("/", 1)[-1]
                body = {"type": content_type, "name": name, "fields": fields(content["schema"], components)}
            ok = next(iter(op["responses"].items()))
            answer = ok[1].get("content", {}).get("application/json", {}).get("schema")
            tags.setdefault(op["tags"][0], []).append(
                {
                    "method": method,
                    "path": path,
                    "op": op,
                    "body": body,
                    "answer": fields(answer, components) if answer else [],
                    "answer_type": type_text(answer) if answer else "",
                    "params": [
                        {**p, "type": ", ".join(filter(None, [type_text(p["schema"]), limits_text(p["schema"])]))}
                        for p in op.get("parameters", [])
                    ],
                }
            )
    return render(request, "api_docs.html", {"doc": doc, "tags": tags, "answers": ANSWERS})


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

    class ScreenClaim(BaseModel):  # player.screens.ClaimIn, as the document shows it
        code: str = Field(min_length=1, max_length=12)
        name: str = Field(min_length=1, max_length=200)
        layout_id: Id | None = None

    add("get", "/api/v1/me", "Who am I", response=Me, tag="account")
    add("get", "/api/v1/screens", "List paired screens", response=list[ScreenOut], tag="signage", query=dict(PAGING))
    add(
        "post",
        "/api/v1/screens/claim",
        "Pair a screen by its code",
        body=ScreenClaim,
        response=ScreenOut,
        status=201,
        tag="signage",
    )
    add("get", "/api/v1/screens/{id}", "One paired screen", response=ScreenOut, tag="signage")
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
