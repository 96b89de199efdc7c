"""Rooms and bookings (SPEC B1-B13), one subpackage per capability a user names:

- `rooms/`: rooms and their rules (Manage rooms, `/api/v1/rooms`), the availability
  grid (`/rooms`, `/api/v1/availability`), floor plans (`/floorplans`).
- `bookings/`: booking (single and series, `/api/v1/bookings`): the rules a booking
  must respect, recurrence, the batching writer of single bookings, a booking's own
  page (`/bookings/{id}`), approvals (`/approvals`).
- `doors/`: door and lobby screens: the room's state and its timer, the live stream
  the room-status widget follows (`/player/api/live`), check-in, end, extend, walk-up,
  sensors, the door-screens page and ready-made door layouts (`/rooms/doors`).
- `mine/`: what is mine: my bookings (`/bookings`), the phone pages (`/m/...`), and
  the iCalendar feeds (`/ical/...`).

`models.py` holds the tables all of them share; `routes.py` mounts them. The widgets
that show rooms on screens (room status, meeting list) are widget types like any
other, in `widgets/`.
"""
