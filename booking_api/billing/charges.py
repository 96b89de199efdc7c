"""The `billing` consumer of the event log: what each booking costs, kept as it changes.

    dispatcher.follow("billing", charges.consumer(settings), types=charges.FOLLOWS)

- confirmed (`booking.created` confirmed, or `booking.approved`) in a room with a rate card:
  a `booked` charge, priced by the card's version of that moment, with the organizer's
  billing tag;
- changed (`booking.updated`, `booking.extended`) while confirmed: priced again by the version
  it was first charged with (the room's card now, when it moved to another room); a
  `changed` charge with the difference, when the price moved;
- cancelled or rejected after a charge: a `cancelled` charge of the policy's fee, from the
  version it was charged with: nothing when cancelled `cancel_free_hours` or more before the
  start, else `cancel_percent` of the price (rounded to the fen).

Each charge is written in the consumer's transaction and names its event (unique), so an
event is charged once. Pending meetings cost nothing until approved; a released no-show or
a meeting ended early keeps its price (the room was held).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select

from booking_api.billing import rates
from booking_api.billing.models import Charge, RateCard, RateCardVersion
from signage.models import User

PRICED = {"booking.created", "booking.approved", "booking.updated", "booking.extended"}
ENDED = {"booking.cancelled", "booking.rejected"}
FOLLOWS = tuple(sorted(PRICED | ENDED))


def consumer(settings):
    tz = ZoneInfo(settings.timezone)

    async def handler(s, events) -> None:
        booked = [e for e in events if (e.data or {}).get("id") and (e.data or {}).get("room_id")]
        if not booked:
            return
        # two queries a batch: most bookings are in rooms without a card and were never charged
        priced_rooms = set(await s.scalars(select(RateCard.room_id).where(RateCard.active.is_(True))))
        ids = list({e.data["id"] for e in booked})
        charged = set(await s.scalars(select(Charge.booking_id).where(Charge.booking_id.in_(ids)).distinct()))
        for event in booked:
            data = event.data
            if data["id"] not in charged and data["room_id"] not in priced_rooms:
                continue  # nothing to charge, nothing charged before
            charged.add(data["id"])
            if event.type in PRICED and data.get("status") == "confirmed":
                await priced(s, event, data, tz)
            elif event.type in ENDED:
                await ended(s, event, data)

    return handler


async def last_charge(s, booking_id: int) -> Charge | None:
    return await s.scalar(select(Charge).where(Charge.booking_id == booking_id).order_by(Charge.id.desc()).limit(1))


async def priced(s, event, data: dict, tz: ZoneInfo) -> None:
    last = await last_charge(s, data["id"])
    if last is not None and last.room_id == data["room_id"] and last.kind != "cancelled":
        card = await s.get(RateCardVersion, (last.card_id, last.card_version))  # the version it was quoted with
        card_id = last.card_id
    else:
        now = await s.scalar(select(RateCard).where(RateCard.room_id == data["room_id"], RateCard.active.is_(True)))
        if now is None:  # the room charges nothing: moved here from a room that did, it costs nothing now
            if last is not None and last.kind != "cancelled" and last.amount:
                s.add(Charge(booking_id=data["id"], room_id=data["room_id"], card_id=last.card_id,
                             card_version=last.card_version, kind="changed", currency=last.currency, amount=0,
                             difference=-last.amount, lines=[], event_id=event.id, at=event.at))  # fmt: skip
            return
        card = await s.get(RateCardVersion, (now.id, now.version))
        card_id = now.id
    if card is None:
        return
    organizer = await s.get(User, data["organizer_id"]) if data.get("organizer_id") else None
    tags = [organizer.billing_tag] if organizer is not None and organizer.billing_tag else []
    start, end = dt.datetime.fromisoformat(data["start"]), dt.datetime.fromisoformat(data["end"])
    quote = rates.quote(card.rules, start, end, tz, tags)
    before = last.amount if last is not None and last.kind != "cancelled" else 0
    if last is not None and last.kind != "cancelled" and quote.total == before and last.room_id == data["room_id"]:
        return  # the price did not move (a new title, attendees …)
    s.add(Charge(booking_id=data["id"], room_id=data["room_id"], card_id=card_id, card_version=card.version,
                 kind="booked" if last is None or last.kind == "cancelled" else "changed", currency=card.currency,
                 amount=quote.total, difference=quote.total - before, lines=[x.as_json() for x in quote.lines],
                 event_id=event.id, at=event.at))  # fmt: skip


async def ended(s, event, data: dict) -> None:
    last = await last_charge(s, data["id"])
    if last is None or last.kind == "cancelled":
        return
    card = await s.get(RateCardVersion, (last.card_id, last.card_version))
    start = dt.datetime.fromisoformat(data["start"])
    free = card is None or event.type == "booking.rejected"
    if not free:
        free = (start - event.at) >= dt.timedelta(hours=card.cancel_free_hours)
    fee = 0 if free else (last.amount * card.cancel_percent + 50) // 100
    s.add(Charge(booking_id=data["id"], room_id=last.room_id, card_id=last.card_id, card_version=last.card_version,
                 kind="cancelled", currency=last.currency, amount=fee, difference=fee - last.amount,
                 lines=[], event_id=event.id, at=event.at))  # fmt: skip
