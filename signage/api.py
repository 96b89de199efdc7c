"""Small helpers for the JSON API."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from signage.errors import Invalid
from signage.i18n import gettext as _


async def json_body(request: Request) -> dict:
    """The request's JSON object, or Invalid with a message saying what is wrong."""
    raw = await request.body()
    try:
        data = orjson.loads(raw)  # strict UTF-8: no lone surrogates to fail later in the database
    except orjson.JSONDecodeError as exc:
        raise Invalid(_("The request body is not valid JSON."), str(exc)) from None
    if not isinstance(data, dict):
        raise Invalid(_("The request body must be a JSON object."))
    return data


def parse(model: type[BaseModel], data: Any) -> BaseModel:
    """`data` checked against `model`; Invalid lists each field's problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        raise Invalid(_("Some fields are not valid."), fields) from None
