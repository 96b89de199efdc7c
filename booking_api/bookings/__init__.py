"""Bookings: the API and its operations (`bookings.py`), the rules a booking must
respect (`rules.py`), series (`recurrence.py`), the fast writer of single bookings
(`writer.py`), a booking's own page (`pages.py`) and approvals (`approvals.py`)."""
