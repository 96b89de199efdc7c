"""`Idempotency-Key` on every write of the API (POST, PUT, PATCH, DELETE under /api/).

A client that sends a key and retries (a timeout, a lost answer) gets the first
answer again and changes nothing twice:

    POST /api/v1/rooms   Idempotency-Key: oa-17   → 201 {...}
    the same again                                → 201 {...}, Idempotent-Replayed: true
    the same key, another request                 → 400
    the same key while the first is answered      → 409 (retry later)

The key is reserved (a row with status 0) before the endpoint runs, so two
concurrent retries never both run it; a 2xx answer is stored on the row, and any
other answer frees the key (the client may try again). A request is the same when
its method, path and JSON content are (`fingerprint`). Booking creation keeps its
own key handling inside its write transaction (`booking_api.bookings`).
"""

from __future__ import annotations

import hashlib

import orjson
from sqlalchemy import and_, delete, select, update
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response

from signage.errors import Conflict, Invalid
from signage.i18n import gettext as _
from signage.models import IdempotencyKey

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
IN_PROGRESS = 0


def fingerprint(request: Request, raw: bytes) -> str:
    """The request a key stands for: its method, path, query and JSON content (a retry that
    re-serialised the same JSON, other spacing or key order, is the same request)."""
    try:
        raw = orjson.dumps(orjson.loads(raw), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        pass  # not JSON: its bytes
    target = request.scope["path"] + "?" + request.scope.get("query_string", b"").decode("latin-1")
    return hashlib.sha256(request.method.encode() + target.encode() + b"\0" + raw).hexdigest()


def key_of(request: Request) -> str:
    key = request.headers.get("idempotency-key", "").strip()
    if len(key) > 200:
        raise Invalid(_("The Idempotency-Key is too long (at most 200 characters)."), {"header": "Idempotency-Key"})
    return key


def applies(request: Request) -> bool:
    return request.method in UNSAFE and request.url.path.startswith("/api/") and "idempotency-key" in request.headers


async def answer(request: Request, endpoint) -> Response:
    """The endpoint's answer, once per key and user (replayed after)."""
    user = request.state.user
    if user is None:
        return await endpoint(request)
    return await keyed(request, endpoint, IdempotencyKey, user_id=user.id)


async def keyed(request: Request, endpoint, model, **owner) -> Response:
    """`answer` with the keys kept in `model` for `owner` (its columns' values: a user's keys,
    or a room's for its terminals, whose requests have no user)."""
    key = key_of(request)
    if not key:
        return await endpoint(request)
    print_ = fingerprint(request, await request.body())
    db = request.app.state.db
    mine = and_(model.key == key, *(getattr(model, k) == v for k, v in owner.items()))
    try:
        async with db.begin() as s:
            found = await s.scalar(select(model).where(mine))
            if found is None:
                s.add(model(**owner, key=key, fingerprint=print_, status=IN_PROGRESS, response={}))
    except IntegrityError:  # a concurrent request with this key reserved it first
        raise Conflict(_("A request with this Idempotency-Key is still being answered; retry later.")) from None
    if found is not None:
        return replay(found, print_)
    try:
        response = await endpoint(request)
    except BaseException:
        async with db.begin() as s:
            await s.execute(delete(model).where(mine))
        raise
    async with db.begin() as s:
        if 200 <= response.status_code < 300 and hasattr(response, "body"):
            stored = {"body": response.body.decode("utf-8"), "type": response.media_type or ""}
            if "location" in response.headers:  # a replayed 201 says where, as the first did
                stored["location"] = response.headers["location"]
            await s.execute(update(model).where(mine).values(status=response.status_code, response=stored))
        else:
            await s.execute(delete(model).where(mine))
    return response


def replay(found: IdempotencyKey, print_: str) -> Response:
    if found.fingerprint != print_:
        raise Invalid(_("This Idempotency-Key was used for a different request."), {"header": "Idempotency-Key"})
    if found.status == IN_PROGRESS:
        raise Conflict(_("A request with this Idempotency-Key is still being answered; retry later."))
    stored = found.response or {}
    headers = {"Idempotent-Replayed": "true"}
    if stored.get("location"):
        headers["Location"] = stored["location"]
    media_type = stored.get("type") or None
    return Response(stored.get("body", ""), status_code=found.status, media_type=media_type, headers=headers)
