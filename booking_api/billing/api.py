"""Rate cards through the API, and the price of a booking before it is made.

    PUT    /api/v1/rooms/{id}/rate-card   {"currency": "CNY", "rules": [...]} → 200 the card (a new version)
    GET    /api/v1/bookings/{id}/charges  → {"currency", "amount", "charges": [...]} (booking_api/billing/charges.py keeps them)
    GET    /api/v1/rooms/{id}/rate-card   → the card (404 when the room charges nothing)
    DELETE /api/v1/rooms/{id}/rate-card   → 204 (the room charges nothing from now on)
    POST   /api/v1/bookings/quote         the body of a booking → {"currency", "total", "lines", "rate_card"}

Room admins change the cards of their rooms (admins every room's); anyone signed in reads
them and asks for quotes.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response

from booking_api.billing import rates
from booking_api.billing.models import Charge, RateCard, RateCardVersion
from booking_api.bookings.bookings import BookingIn, site_tz, wanted_times
from booking_api.models import Booking, Room
from booking_api.rooms.rooms import get_room, may_manage
from signage import audit, openapi
from signage.api import json_body, parse, tagged
from signage.auth import SIGNED_IN, route
from signage.db import utcnow
from signage.errors import Forbidden, NotFound
from signage.i18n import gettext as _
from signage.models import User
from signage.responses import JSONResponse

HHMM = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")
MAX_PRICE = 10**10  # fen: a hundred million yuan


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    label: str = Field("", max_length=100, description="shown on the quote's line; default: its days and band")
    weekdays: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        default_factory=lambda: list(range(1, 8)), min_length=1, max_length=7, description="ISO: 1 Monday … 7 Sunday"
    )
    from_: str = Field("00:00", alias="from", description="local time of the site, HH:MM")
    to: str = Field("24:00", description="local time of the site, HH:MM; 24:00 is the end of the day")
    min_minutes: int = Field(0, ge=0, le=100_000, description="only meetings at least this long")
    max_minutes: int | None = Field(None, ge=1, le=100_000, description="only meetings at most this long")
    unit_minutes: int = Field(ge=1, le=1440, description="the length of one unit")
    unit_price: int = Field(ge=0, le=MAX_PRICE, description="the price of one unit, in fen")
    minimum: int = Field(0, ge=0, le=MAX_PRICE, description="a line of this rule costs at least this, in fen")
    rounding: Literal["up", "down", "nearest"] = Field("up", description="a part of a unit: counted, dropped, or rounded")
    who: Annotated[str, Field(min_length=1, max_length=60)] | StrictInt | None = Field(
        None, description="null: anyone; a user's billing tag; or a department id"
    )

    @field_validator("from_", "to")
    @classmethod
    def _time(cls, value: str) -> str:
        if not HHMM.match(value):
            raise ValueError("a time as HH:MM, from 00:00 to 24:00")
        return value

    @field_validator("weekdays")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("each weekday once")
        return sorted(value)

    @model_validator(mode="after")
    def _band(self) -> RuleIn:
        if rates.minutes_of(self.from_) >= rates.minutes_of(self.to):
            raise ValueError("from must be before to (a band across midnight is two rules)")
        if self.max_minutes is not None and self.max_minutes < self.min_minutes:
            raise ValueError("max_minutes must not be below min_minutes")
        return self

    def stored(self) -> dict:
        return self.model_dump(by_alias=True)


class RateCardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    currency: str = Field("CNY", pattern=r"^[A-Z]{3}$", description="ISO 4217")
    rules: list[RuleIn] = Field(max_length=1000, description="the first rule that matches a part of a meeting prices it")
    cancel_free_hours: int = Field(0, ge=0, le=24 * 365, description="a cancellation this many hours ahead is free")
    cancel_percent: int = Field(100, ge=0, le=100, description="the share of the price a later cancellation costs")


class RuleOut(BaseModel):
    label: str
    weekdays: list[int]
    from_: str = Field(alias="from")
    to: str
    min_minutes: int
    max_minutes: int | None
    unit_minutes: int
    unit_price: int
    minimum: int
    rounding: str
    who: str | int | None


class RateCardOut(BaseModel):
    id: int
    room_id: int
    version: int
    currency: str
    rules: list[RuleOut]
    cancel_free_hours: int
    cancel_percent: int
    updated_at: str


class QuoteLine(BaseModel):
    label: str
    units: int
    unit_price: int
    amount: int
    minutes: int
    rule: int


class CardRef(BaseModel):
    id: int
    version: int


class QuoteOut(BaseModel):
    currency: str
    total: int
    lines: list[QuoteLine]
    occurrences: int
    rate_card: CardRef | None


def card_json(card) -> dict:
    return {
        "id": card.id,
        "room_id": card.room_id,
        "version": card.version,
        "currency": card.currency,
        "rules": card.rules,
        "cancel_free_hours": card.cancel_free_hours,
        "cancel_percent": card.cancel_percent,
        "updated_at": card.updated_at.isoformat(),
    }


CARD = select(RateCard).where(RateCard.room_id == bindparam("room_id"))


async def api_get(request: Request) -> Response:
    room_id = request.path_params["id"]
    async with request.app.state.db.reads() as s:
        await get_room(s, room_id)
        card = await s.scalar(CARD, {"room_id": room_id})
    if card is None or not card.active:
        raise NotFound(_("This room has no rate card: it charges nothing."))
    return tagged(request, card_json(card))


async def api_put(request: Request) -> Response:
    body = parse(RateCardIn, await json_body(request))
    try:
        card = await save_card(request, body)
    except IntegrityError:  # PostgreSQL: another request made the room's first card meanwhile; now it is there to lock
        card = await save_card(request, body)
    request.state.audited = True
    return JSONResponse(card_json(card))


async def save_card(request: Request, body: RateCardIn) -> RateCard:
    room_id, user = request.path_params["id"], request.state.user
    async with request.app.state.db.begin() as s:
        await get_room(s, room_id)
        if not await may_manage(s, user, room_id):
            raise Forbidden(_("Only the room's admins may change its rate card."))
        card = await s.scalar(select(RateCard).where(RateCard.room_id == room_id).with_for_update())
        if card is None:
            card = RateCard(room_id=room_id, version=0)
            s.add(card)
        card.version += 1
        card.active = True
        card.currency, card.rules = body.currency, [rule.stored() for rule in body.rules]
        card.cancel_free_hours, card.cancel_percent = body.cancel_free_hours, body.cancel_percent
        card.updated_at, card.updated_by = utcnow(), user.id
        await s.flush()
        s.add(RateCardVersion(card_id=card.id, version=card.version, currency=card.currency, rules=card.rules,
                              cancel_free_hours=card.cancel_free_hours, cancel_percent=card.cancel_percent,
                              created_by=user.id))  # fmt: skip
        s.add(audit.entry(request, "rate_card.update", f"room:{room_id}", "success", f"version {card.version}", user))
    return card


async def api_delete(request: Request) -> Response:
    room_id = request.path_params["id"]
    user = request.state.user
    async with request.app.state.db.begin() as s:
        await get_room(s, room_id)
        if not await may_manage(s, user, room_id):
            raise Forbidden(_("Only the room's admins may change its rate card."))
        card = await s.scalar(select(RateCard).where(RateCard.room_id == room_id).with_for_update())
        if card is None or not card.active:
            raise NotFound(_("This room has no rate card: it charges nothing."))
        card.active, card.updated_at, card.updated_by = False, utcnow(), user.id  # its versions stay
        s.add(audit.entry(request, "rate_card.delete", f"room:{room_id}", "success", f"version {card.version}", user))
    request.state.audited = True
    return Response(status_code=204)


def tags_of(user: User | None) -> list:
    """What a rule's `who` can name of the one who books: their billing tag."""
    return [user.billing_tag] if user is not None and user.billing_tag else []


async def price(s, room_id: int, times, tags, tz) -> dict:
    """The price of a room's meetings at `times`, under its rate card as it is now."""
    card = await s.scalar(CARD, {"room_id": room_id})
    if card is None or not card.active:
        return {"currency": "CNY", "total": 0, "lines": [], "occurrences": len(times), "rate_card": None}
    lines = rates.combine(rates.quote(card.rules, start, end, tz, tags) for start, end in times)
    return {
        "currency": card.currency,
        "total": sum(line.amount for line in lines),
        "lines": [line.as_json() for line in lines],
        "occurrences": len(times),
        "rate_card": {"id": card.id, "version": card.version},
    }


async def price_of_change(s, last: Charge, room_id: int, times, tags, tz) -> dict:
    """What a charged booking would cost at `times` in `room_id`: by the version it was charged
    with while it stays in its room (as `charges.priced` will charge it), else the new room's card."""
    if last.kind == "cancelled" or last.room_id != room_id:
        return await price(s, room_id, times, tags, tz)
    card = await s.get(RateCardVersion, (last.card_id, last.card_version))
    lines = rates.combine(rates.quote(card.rules, start, end, tz, tags) for start, end in times)
    return {"currency": card.currency, "total": sum(x.amount for x in lines), "lines": [x.as_json() for x in lines],
            "occurrences": len(times), "rate_card": {"id": last.card_id, "version": last.card_version}}  # fmt: skip


def money(fen: int, currency: str) -> str:
    """An amount in fen as the page's language writes it: "¥100.00", "CN¥100.00"."""
    from babel.numbers import format_currency

    from signage.i18n import current_locale

    return format_currency(fen / 100, currency, locale=current_locale.get() or "en")


def describe(answer: dict) -> str:
    """A quote in one line for a page: "Price: ¥135.00 (3 × ¥45.00 Peak)"; "" when free of any card."""
    if not answer.get("rate_card"):
        return ""
    currency = answer["currency"]
    parts = "; ".join(f"{x['units']} × {money(x['unit_price'], currency)} {x['label']}" for x in answer["lines"])
    label = _("Price:")
    space = "" if label.endswith("：") else " "  # no space after a Chinese colon
    return label + space + money(answer["total"], currency) + (f" ({parts})" if parts else "")


async def api_quote(request: Request) -> Response:
    """What a booking would cost (every occurrence of a series), without booking it."""
    body = parse(BookingIn, await json_body(request))
    tz = site_tz(request)
    times = wanted_times(body, tz)
    async with request.app.state.db.reads() as s:
        room: Room = await get_room(s, body.room_id)
        answer = await price(s, room.id, times, tags_of(request.state.user), tz)
    return JSONResponse(answer)


def charge_json(c: Charge) -> dict:
    return {"kind": c.kind, "amount": c.amount, "difference": c.difference, "currency": c.currency,
            "lines": c.lines, "rate_card": {"id": c.card_id, "version": c.card_version}, "at": c.at.isoformat()}  # fmt: skip


async def charges_seen(s, user, b) -> list:
    """A booking's charges, oldest first, for its organizer and its room's admins; [] for others."""
    if user is None or not (b.organizer_id == user.id or await may_manage(s, user, b.room_id)):
        return []
    return list((await s.scalars(select(Charge).where(Charge.booking_id == b.id).order_by(Charge.id))).all())


async def api_charges(request: Request) -> Response:
    """What a booking costs now, and each change of it (its organizer, its room's admins)."""
    booking_id, user = request.path_params["id"], request.state.user
    async with request.app.state.db.reads() as s:
        b = await s.get(Booking, booking_id)
        if b is None or not (b.organizer_id == user.id or await may_manage(s, user, b.room_id)):
            raise NotFound(_("No such booking."))
        found = (await s.scalars(select(Charge).where(Charge.booking_id == booking_id).order_by(Charge.id))).all()
    return JSONResponse({
        "currency": found[-1].currency if found else "CNY",
        "amount": found[-1].amount if found else 0,
        "charges": [charge_json(c) for c in found],
    })  # fmt: skip


ERRORS = (400, 401, 403, 404)
openapi.add("get", "/api/v1/rooms/{id}/rate-card", "A room's rate card (404: it charges nothing)",
            response=RateCardOut, tag="billing", errors=(401, 404))  # fmt: skip
openapi.add("put", "/api/v1/rooms/{id}/rate-card", "Set a room's rate card (a new version; its room admins)",
            body=RateCardIn, response=RateCardOut, tag="billing", errors=ERRORS)  # fmt: skip
openapi.add("delete", "/api/v1/rooms/{id}/rate-card", "Remove a room's rate card (it charges nothing from now on)",
            status=204, tag="billing", errors=ERRORS)  # fmt: skip
openapi.add("post", "/api/v1/bookings/quote", "The price of a booking before it is made (the body of a booking)",
            body=BookingIn, response=QuoteOut, tag="billing", errors=ERRORS)  # fmt: skip

class ChargeOut(BaseModel):
    kind: Literal["booked", "changed", "cancelled", "override"]
    amount: int
    difference: int
    currency: str
    lines: list[QuoteLine]
    rate_card: CardRef
    at: str


class ChargesOut(BaseModel):
    currency: str
    amount: int = Field(description="what the booking costs now, in fen")
    charges: list[ChargeOut]


openapi.add("get", "/api/v1/bookings/{id}/charges", "What a booking costs, and each change of it (its organizer and room admins)",
            response=ChargesOut, tag="billing", errors=(401, 404))  # fmt: skip

routes = [
    route("/api/v1/bookings/{id:id}/charges", api_charges, allow=SIGNED_IN),
    route("/api/v1/rooms/{id:id}/rate-card", api_get, allow=SIGNED_IN),
    route("/api/v1/rooms/{id:id}/rate-card", api_put, methods=["PUT"], allow=("room_admin",)),
    route("/api/v1/rooms/{id:id}/rate-card", api_delete, methods=["DELETE"], allow=("room_admin",)),
    route("/api/v1/bookings/quote", api_quote, methods=["POST"], allow=SIGNED_IN),
]
