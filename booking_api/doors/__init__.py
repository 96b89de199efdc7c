"""Door and lobby screens: the room's state and the timer that moves it
(`roomstate.py`), the live stream screens follow (`live.py`), what a door screen does
(`doors.py`: check-in, end, extend, walk-up, service call; `checkin.py`, `walkup.py`),
presence sensors (`sensors.py`), and the door-screens page with ready-made layouts
(`layouts.py`)."""
