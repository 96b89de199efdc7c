"""Billing of rentable rooms (SPEC B11, issue 17 points 6–8): what a booking costs.

- `rates.py`: a rate card's rules and the quote they give a meeting, without the database:
  the meeting is cut at local midnights and at every rule's time band; each piece takes the
  first rule that matches (weekdays, band, the meeting's length, who books), as Skedda does;
  consecutive pieces of one rule make one line of units × unit price (rounded up, down or to
  the nearest unit; a rule's minimum charge per line). Money is integer fen with its currency.
- `models.py`: a room's rate card (`rate_cards`), every version it had
  (`rate_card_versions`: a quote and a charge name the version they were made with), and
  bookings' charges (`booking_charges`).
- `charges.py`: the `billing` consumer of the event log: a booking charged when confirmed,
  priced again when changed (by the version it was charged with), a cancellation's fee.
- `api.py`: `GET/PUT/DELETE /api/v1/rooms/{id}/rate-card` (its room admins change it),
  `POST /api/v1/bookings/quote` (the body of a booking → its price, before booking) and
  `GET /api/v1/bookings/{id}/charges`.

Who books: a rule's `who` is null (anyone), a user's billing tag (`users.billing_tag`,
set on the Users page: "internal", "tenant", "member" …) or a department id (departments
come with the directory, issue 19; until then such a rule matches nobody).
"""
