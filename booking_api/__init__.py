"""Rooms, bookings, check-in and the OA integration API (SPEC B1–B13).

Its modules follow the shape of the others: `models.py` for tables, one module
per resource ending in `routes = [...]`, mounted by `signage.app`.
"""
