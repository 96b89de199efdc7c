"""OA integration (issue 18): importers that bring an OA's meetings in as bookings.

- `models.py`: import sources (an OA's HTTP API, or its database) and their runs.
- `readers.py`: the rows of a source: JSON from an HTTP API (a path to its list), or a
  read-only SELECT on a database by its SQLAlchemy URL, incremental by an updated-at column.
- `importing.py`: rows → bookings through `booking_api.bookings` (rules, approval, events,
  audit apply), idempotent by external id; dry runs; every run recorded; a task that runs
  each source every N minutes.
- `admin.py`: `/admin/imports` and `/api/v1/imports`.
"""
