"""What is mine: my bookings on the desktop (`bookings.py`), my meetings on a phone
(`phone.py`, under `/m`), and iCalendar feeds of my meetings or a room's (`ical.py`)."""
