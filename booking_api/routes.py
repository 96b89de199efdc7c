"""Every route of the booking system, mounted by `signage.app.all_routes`."""

from booking_api import (
    approvals,
    availability,
    bookings,
    checkin,
    doorlayouts,
    doors,
    floorplans,
    ical,
    mine,
    pages,
    rooms,
    sensors,
)

routes = [
    *rooms.routes,
    *bookings.routes,
    *availability.routes,
    *approvals.routes,
    *floorplans.routes,
    *pages.routes,
    *checkin.routes,
    *doors.routes,
    *doorlayouts.routes,
    *mine.routes,
    *ical.routes,
    *sensors.routes,
]
