"""The event log: one record of every change (a transactional outbox).

Each change writes its domain events in its own transaction (`log.record`), one row
per event with a sequence number, a type (`booking.created` …), the time, the actor,
the subject (`booking:41`) and the subject's state after the change. A change that
rolls back leaves no event; an event is never written without its change.

- `models.py`: the `events` table and each consumer's durable position.
- `log.py`: `record(s, type, subject, data, actor)` inside the change's transaction.
- `dispatch.py`: a dispatcher in every process hands new events to the consumers that
  follow them, each from its own position, at least once, in order.
- `api.py`: `GET /api/v1/events` for OA systems: pages of events, or a live stream.
"""
