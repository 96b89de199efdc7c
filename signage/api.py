"""Small helpers for the JSON API, and the types its bodies share."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import operator
from collections.abc import Sequence
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, ValidationError
from sqlalchemy import Select, and_, or_
from starlette.requests import Request

from signage.auth import MAX_ID
from signage.errors import Invalid, PreconditionFailed
from signage.i18n import gettext as _

# A row's id in a body: what the database can hold (`{name:id}` is the same in paths).
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def reasonable_year(value: dt.datetime) -> dt.datetime:
    if not 1900 <= value.year <= 9000:
        raise ValueError("the year must be between 1900 and 9000")
    return value


# The years a moment or a day may have, as the document says it (a pattern beside the format).
YEARS = r"^(19[0-9]{2}|[2-8][0-9]{3}|9000)-"
# A moment: ISO 8601 with its offset, in a year a calendar can hold in any time zone.
When = Annotated[AwareDatetime, AfterValidator(reasonable_year), Field(json_schema_extra={"pattern": YEARS})]


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


def _kinds(spec: dict) -> set:
    """The JSON types a schema allows (those of its choices and list items too)."""
    found = {spec.get("type")} | {k for choice in spec.get("anyOf", []) for k in _kinds(choice)}
    return found | (_kinds(spec["items"]) if isinstance(spec.get("items"), dict) else set())


@functools.cache
def json_kinds(model: type[BaseModel]) -> dict[str, frozenset]:
    """The JSON types each field of `model` allows (its list items' too), by its JSON Schema."""
    out = {}
    for name, spec in model.model_json_schema().get("properties", {}).items():
        kinds = _kinds(spec) - {None}
        out[name] = frozenset(kinds | ({"integer"} if "number" in kinds else set()))
    return out


KIND_OF = {bool: "boolean", int: "integer", float: "number", str: "string"}


def _values(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def wrong_kind(allowed: frozenset, value: Any) -> str | None:
    """Why `value` (or an item of it) is not of a JSON type in `allowed`; None when it is."""
    for v in _values(value):
        kind = KIND_OF.get(type(v))
        if kind is None or kind in allowed:
            continue
        if "boolean" in allowed:
            return "Input should be true or false"
        if kind == "boolean":
            return "Input should be a valid number, not a boolean"
        if kind == "string":
            return "Input should be a valid number, not text"
    return None  # 1.0 is a whole number to JSON Schema too; 1.5 pydantic refuses


def parse(model: type[BaseModel], data: Any, strict: bool = True) -> BaseModel:
    """`data` checked against `model`; Invalid lists each field's problem.

    A JSON body (`strict`) is checked as JSON types it and the document says, where
    pydantic would convert: `true` is no number and `0` no boolean (Python's bool is an
    int: `{"room_id": true}` booked room 1), `"12"` no number, `"true"` no boolean. A form's fields are all text: `strict=False` lets pydantic convert them."""
    if strict and isinstance(data, dict):
        kinds = json_kinds(model)
        wrong = [
            {"field": name, "message": message}
            for name, allowed in kinds.items()
            if name in data and allowed & {"integer", "number", "boolean"}
            if (message := wrong_kind(allowed, data[name]))
        ]
        if wrong:
            raise Invalid(_("Some fields are not valid."), wrong)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        raise Invalid(_("Some fields are not valid."), fields) from None


def etag(data: Any) -> str:
    """A strong ETag of a resource as the API shows it: the same content, the same tag."""
    return '"' + hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()[:20] + '"'


def tagged(request: Request, data: Any, status_code: int = 200, headers: dict | None = None):
    """`data` as JSON with its ETag; 304 when a GET's If-None-Match already holds it."""
    from starlette.responses import Response

    from signage.responses import JSONResponse

    tag = etag(data)
    if status_code == 200 and tag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers={"ETag": tag})
    return JSONResponse(data, status_code=status_code, headers={"ETag": tag, **(headers or {})})


def if_match(request: Request) -> str | None:
    """The request's If-Match (None without one): checked with `check_match` inside the
    change's transaction, so two clients editing one resource never lose an update."""
    value = request.headers.get("if-match")
    if value is not None and not value.strip():
        raise Invalid(_("If-Match is empty: send the ETag you read, or no If-Match."), {"header": "If-Match"})
    return value.strip() if value is not None else None


def check_match(expected: str | None, current: Any) -> None:
    if expected is None:
        return
    tag = etag(current)
    if expected != "*" and tag not in [t.strip().removeprefix("W/") for t in expected.split(",")]:
        raise PreconditionFailed(
            _("It was changed meanwhile: read it again, then repeat your change."), {"etag": tag}, {"ETag": tag}
        )


LIST_LIMIT, LIST_MAX = 500, 1000


def param(description: str, **schema) -> dict:
    """A query parameter or header of `signage.openapi.add` with its JSON Schema (a bare
    description is any text): `param("at most this many", type="integer", minimum=1)`."""
    return {"description": description, "schema": schema or {"type": "string"}}


# Query parameters' schemas: an id to filter by (0 matches nothing), a day, a moment.
ID_PARAM = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
DAY = {"type": "string", "format": "date", "pattern": YEARS}
MOMENT = {"type": "string", "format": "date-time", "pattern": YEARS}
EMPTY = {"type": "string", "maxLength": 0}  # a filter given empty is a filter not given

# The query parameters of every list that pages, as the API documents them.
PAGING = {
    "limit": param(
        "at most this many (default 500); the next page is in the Link header",
        type="integer",
        minimum=1,
        maximum=LIST_MAX,
    ),
    "cursor": 'where the page starts (from the Link header\'s rel="next")',
}


def refuse_unknown(request: Request, known: set[str]) -> None:
    """A query parameter the operation does not know is a 400 naming it (not silently ignored)."""
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise Invalid(_("Unknown query parameter: %(name)s.", name=unknown[0][:60]), {"field": unknown[0][:60]})


def list_limit(request: Request) -> int:
    """`limit`: 1 to LIST_MAX, LIST_LIMIT when absent; anything else is Invalid (0 too)."""
    raw = request.query_params.get("limit", "")
    if not raw:
        return LIST_LIMIT
    if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(LIST_MAX)) and 1 <= int(raw) <= LIST_MAX):
        raise Invalid(_("limit must be a whole number from 1 to %(high)s.", high=LIST_MAX), {"field": "limit"})
    return int(raw)


def foreign_cursor() -> Invalid:
    return Invalid(_("cursor is not one this list gave."), {"field": "cursor"})


def read_cursor(request: Request) -> list | None:
    """The position a list goes on from (an opaque `cursor` made by `make_cursor`)."""
    import base64

    raw = request.query_params.get("cursor", "")
    if not raw:
        return None
    try:
        value = orjson.loads(base64.urlsafe_b64decode(raw.encode("ascii") + b"=="))
    except (ValueError, orjson.JSONDecodeError, UnicodeEncodeError):
        value = None
    if not isinstance(value, list) or not value:
        raise foreign_cursor()
    return value


def make_cursor(*values) -> str:
    import base64

    return base64.urlsafe_b64encode(orjson.dumps(list(values))).decode("ascii").rstrip("=")


def next_link(request: Request, cursor: str) -> dict:
    """The `Link: <…>; rel="next"` header of a list that goes on."""
    url = request.url.include_query_params(cursor=cursor)
    return {"Link": f'<{url.path}?{url.query}>; rel="next"'}


@dataclasses.dataclass(frozen=True)
class Keyset:
    """A list paged in a stable order: by `time` then `id` (or by `id` alone), oldest
    first unless `newest_first`. Its cursor names the list and holds the last row's keys,
    so a page goes on after that row however many rows are added meanwhile:

        PAGES = Keyset("rooms", Room.id)
        rows = (await s.scalars(PAGES.query(request, select(Room)))).all()
        rows, headers = PAGES.page(request, rows)   # headers: the Link to the next page, if any
    """

    name: str
    id: Any
    time: Any = None
    newest_first: bool = False

    def query(self, request: Request, query: Select) -> Select:
        """`query` in this order, after the request's cursor, one row more than `limit`."""
        key = (self.time, self.id) if self.time is not None else (self.id,)
        query = query.order_by(*(k.desc() if self.newest_first else k for k in key))
        if (after := self.after(request)) is not None:
            query = query.where(after)
        return query.limit(list_limit(request) + 1)

    def after(self, request: Request):
        """The condition for the rows after the request's cursor (None without one)."""
        cursor = read_cursor(request)
        if cursor is None:
            return None
        if cursor[0] != self.name or len(cursor) != (3 if self.time is not None else 2):
            raise foreign_cursor()
        last_id = cursor[-1]
        if not isinstance(last_id, int) or isinstance(last_id, bool) or not 0 <= last_id <= MAX_ID:
            raise foreign_cursor()
        beyond = operator.lt if self.newest_first else operator.gt
        if self.time is None:
            return beyond(self.id, last_id)
        try:
            last_time = dt.datetime.fromisoformat(cursor[1])
            if last_time.tzinfo is None:
                raise ValueError("a time without its offset")
            last_time = last_time.astimezone(dt.UTC)
        except (TypeError, ValueError, OverflowError):
            raise foreign_cursor() from None
        return or_(beyond(self.time, last_time), and_(self.time == last_time, beyond(self.id, last_id)))

    def page(self, request: Request, rows: Sequence) -> tuple[list, dict]:
        """The rows of this page and its headers: the Link to the next one when `rows` has more."""
        limit = list_limit(request)
        if len(rows) <= limit:
            return list(rows), {}
        rows = list(rows[:limit])
        last = rows[-1]
        keys = [getattr(last, self.id.key)]
        if self.time is not None:
            keys.insert(0, getattr(last, self.time.key).isoformat())
        return rows, next_link(request, make_cursor(self.name, *keys))
