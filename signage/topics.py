"""Every live channel, named once, with its payload.

    await bus.notify_many(topics.rooms_changed([3, 7], "booking"))
    await bus.notify_many(topics.media_changed("progress", 12, progress=40))

Each function returns the messages to send: a list of `(channel, data)`. Whoever
publishes builds its messages here and nowhere else, so a channel's payload cannot
drift between publishers, and `grep topics.` finds every publisher of a change.

Who listens:

| channel        | payload                                   | followed by                                   |
|----------------|-------------------------------------------|-----------------------------------------------|
| `room:{id}`    | `{"type", "room_id"}`                     | the room's door screens (`/player/api/live`)  |
| `rooms`        | `{"type", "rooms"}`                       | lobby screens (rooms' status moved on)        |
| `bookings`     | `{"type", "rooms"}`                       | availability pages, the room timer, lobbies   |
| `clock`        | `{"type": "clock", "now"}`                | door screens, the room timer (test clock set) |
| `screen:{id}`  | `{"type": "layout"|"claimed"|…, …}`       | that screen's player stream                   |
| `screens`      | `{"type", "screen_id" or "screen_ids"}`   | the screens page                              |
| `media`        | `{"type", "id", …}` (`progress` with %)   | the media pages                               |
| `meetings`     | `{"type", "booking_id", "series_id"}` (`service`: `room_id`) | meeting pages (materials, minutes, answers, the desk's tasks) |
| `audit`, `schedules`, `emergency` | `{"type"}`             | their admin pages                             |
| `service`      | `{"type": "created"|"accepted"|"done", "id", "room_id", "room", "kind", …}` | the service desks (`/desk`) |
| `replies`      | `{"type": "reply", "bookings"}`           | bookings' pages (attendees' answers)          |
| `inbox:{user}` | `{"type": "inbox"}`                       | that user's bell and notices page             |
| `events`       | `{"first", "last", "count", "types"}`     | `GET /api/v1/events` streams                  |

Pages follow a channel through `GET /events/{topic}` (signage/live.py lists which, and
who may); screens follow theirs through the player's own stream.

What the event log records (bookings, rooms) is published by its `live` consumer
(`changes_logged`, signage/eventlog/dispatch.py), never by the request that made the
change: a crash between the commit and the publish loses no live update.
"""

from __future__ import annotations

from collections.abc import Iterable

Message = tuple[str, dict]


def rooms_changed(room_ids: Iterable[int], why: str = "booking") -> list[Message]:
    """Bookings of these rooms, or the rooms themselves, changed: each room's channel and
    `bookings`. `why`: booking, room, presence (a sensor's)."""
    ids = sorted(set(room_ids))
    if not ids:
        return []
    return [*((f"room:{i}", {"type": why, "room_id": i}) for i in ids), ("bookings", {"type": why, "rooms": ids})]


def rooms_ticked(room_ids: Iterable[int]) -> list[Message]:
    """The rooms' status moved on with the clock (a meeting began or ended)."""
    ids = sorted(set(room_ids))
    if not ids:
        return []
    return [*((f"room:{i}", {"type": "tick", "room_id": i}) for i in ids), ("rooms", {"type": "tick", "rooms": ids})]


def clock_set(now_iso: str) -> list[Message]:
    return [("clock", {"type": "clock", "now": now_iso})]


def screens_told(screen_ids: Iterable[int], why: str, **data) -> list[Message]:
    """Each screen's own stream: layout (look again), claimed, assigned, revoked, reload, identify."""
    return [(f"screen:{i}", {"type": why, **data}) for i in sorted(set(screen_ids))]


def screens_changed(why: str, **data) -> list[Message]:
    """The screens page: a screen claimed, edited, unpaired; groups; screens reporting in."""
    return [("screens", {"type": why, **data})]


def media_changed(why: str, media_id: int, **extra) -> list[Message]:
    """The media pages: added, changed, deleted, progress (with `progress`), ready, failed."""
    return [("media", {"type": why, "id": media_id, **extra})]


def meeting_changed(why: str, booking_id: int, series_id: int | None = None) -> list[Message]:
    """A meeting's page: materials or minutes added or removed (for one occurrence, or for the
    series when `why` is about the series' files), an attendee's answer. Ids only: the page
    asks for its fresh fragment with the viewer's own rights."""
    return [("meetings", {"type": why, "booking_id": booking_id, "series_id": series_id})]


def page_changed(topic: str) -> list[Message]:
    """An admin page's list changed: audit, schedules, emergency."""
    assert topic in ("audit", "schedules", "emergency"), topic
    return [(topic, {"type": topic})]


def service_changed(what: str, task: dict) -> list[Message]:
    """A service call or cleaning task was made, accepted or done (`what`): the desks (with
    what they announce: the room, the kind, the status; no note), the room's door screens, and
    the pages of meetings (those of this room look again, and the meeting's a call is for)."""
    brief = {k: task.get(k) for k in ("id", "room_id", "room", "kind", "status", "origin", "accepted_by")}
    room_id = task["room_id"]
    out = [
        ("service", {"type": what, **brief}),
        (f"room:{room_id}", {"type": "service", "room_id": room_id}),
        ("meetings", {"type": "service", "booking_id": None, "series_id": None, "room_id": room_id}),
    ]
    if task.get("before_booking_id"):  # the meeting's page shows its calls
        out += meeting_changed("service", task["before_booking_id"])
    return out


def called_in(room_id: int) -> list[Message]:
    """The desk called a meeting of this room in: lobby and waiting-room screens look again."""
    return [("rooms", {"type": "call_in", "rooms": [room_id]})]


def replies_changed(booking_ids: Iterable[int]) -> list[Message]:
    """Attendees answered invitations to these bookings (accepted, declined)."""
    ids = sorted(set(booking_ids))
    return [("replies", {"type": "reply", "bookings": ids})] if ids else []


def inbox_changed(user_ids: Iterable[int]) -> list[Message]:
    """These users got notices, or read them: their bells count again."""
    return [(f"inbox:{i}", {"type": "inbox"}) for i in sorted(set(user_ids))]


BOOKING_CHANGES = {  # the booking events that change what a room shows (not its minutes)
    *("booking.created", "booking.updated", "booking.cancelled", "booking.approved", "booking.rejected"),
    *("booking.checked_in", "booking.ended", "booking.extended", "booking.no_show"),
}


def changes_logged(events) -> list[Message]:
    """What a batch of the event log tells pages and screens (the dispatcher's `live`
    consumer, at least once): the rooms whose bookings changed (those a booking left too,
    `moved_from`) and the audit page (their audit entry committed with them), the rooms that
    changed themselves (`room.*`), and the batch itself on `events`."""
    booked: set[int] = set()
    rooms: set[int] = set()
    for e in events:
        if e.type in BOOKING_CHANGES:
            booked.update(r for r in (e.data.get("room_id"), *e.data.get("moved_from", ())) if isinstance(r, int))
        elif e.type.startswith("room."):
            rooms.add(int(e.subject.partition(":")[2]))
    audit = page_changed("audit") if booked else []
    return [*rooms_changed(booked), *rooms_changed(rooms, "room"), *audit, *events_appended(events)]


def events_appended(events) -> list[Message]:
    """A batch of the event log delivered: its first and last id and its count, so a follower
    sees a repeat or a gap (the batches of a consumer cover the log exactly)."""
    types = sorted({e.type for e in events})
    return [("events", {"first": events[0].id, "last": events[-1].id, "count": len(events), "types": types})]
