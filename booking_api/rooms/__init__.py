"""Rooms: managing them and their rules (`rooms.py`), who is free when on the grid
(`availability.py`), and floor plans in the rooms' live colours (`floorplans.py`)."""
