"""Statistics of rooms (SPEC B10, issue 17): how rooms are booked, used and wasted.

- `figures.py`: the report's figures by SQL aggregates (a constant number of queries),
  grouped by room, floor, building, department, day or weekday × hour; `sql.py` the
  few expressions SQLite and PostgreSQL spell differently.
- `api.py`: `GET /api/v1/stats/rooms` as JSON, CSV (UTF-8 with a BOM) or a workbook.
- `page.py`: the page `/stats` (presets, a custom range, a heat map, bars, a line, each
  also a table), drawn by Apache ECharts (`static/echarts-<version>.min.js`) from the API's JSON.

What a meeting's life leaves for them (ended early, released, cancelled) is kept on the
booking by the write paths (`Booking.planned_end_at`, `released_at`, `cancelled_at`).
"""
