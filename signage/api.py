"""Small helpers for the JSON API, and the types its bodies share."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, ValidationError
from starlette.requests import Request

from signage.auth import MAX_ID
from signage.errors import Invalid
from signage.i18n import gettext as _

# A row's id in a body: what the database can hold (`{name:id}` is the same in paths).
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def reasonable_year(value: dt.datetime) -> dt.datetime:
    if not 1900 <= value.year <= 9000:
        raise ValueError("the year must be between 1900 and 9000")
    return value


# A moment: ISO 8601 with its offset, in a year a calendar can hold in any time zone.
When = Annotated[AwareDatetime, AfterValidator(reasonable_year)]


def has_nul(data: Any) -> bool:
    """Whether a text anywhere in `data` holds a NUL character (PostgreSQL stores none)."""
    if isinstance(data, str):
        return "\x00" in data
    if isinstance(data, dict):
        return any(has_nul(k) or has_nul(v) for k, v in data.items())
    if isinstance(data, list | tuple):
        return any(has_nul(v) for v in data)
    return False


def nul_refused() -> Invalid:
    return Invalid(_("Text may not contain the NUL character (\\u0000)."))


def int_param(request: Request, name: str, high: int = MAX_ID) -> int | None:
    """A whole-number query parameter from 0 to `high`: None when absent, else Invalid."""
    raw = request.query_params.get(name, "")
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(high)) and int(raw) <= high):
        raise Invalid(_("%(name)s must be a whole number from 0 to %(high)s.", name=name, high=high), {"field": name})
    return int(raw)


async def json_body(request: Request) -> dict:
    """The request's JSON object, or Invalid with a message saying what is wrong."""
    raw = await request.body()
    try:
        data = orjson.loads(raw)  # strict UTF-8: no lone surrogates to fail later in the database
    except orjson.JSONDecodeError as exc:
        raise Invalid(_("The request body is not valid JSON."), str(exc)) from None
    if not isinstance(data, dict):
        raise Invalid(_("The request body must be a JSON object."))
    if b"\\u0000" in raw and has_nul(data):
        raise nul_refused()
    return data


def parse(model: type[BaseModel], data: Any) -> BaseModel:
    """`data` checked against `model`; Invalid lists each field's problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        raise Invalid(_("Some fields are not valid."), fields) from None
