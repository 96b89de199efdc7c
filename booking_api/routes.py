"""Every route of the booking system, by capability, mounted by `signage.app.all_routes`."""

from booking_api.billing import api as billing
from booking_api.billing import report as billing_report
from booking_api.bookings import approvals, bookings, leavers, pages
from booking_api.desk import board, callin, care, tasks
from booking_api.desk import doors as desk_doors
from booking_api.doors import checkin, doors, layouts, live, sensors
from booking_api.integrations import access, terminals
from booking_api.integrations import admin as imports
from booking_api.meetings import materials
from booking_api.meetings import page as meeting_page
from booking_api.mine import bookings as my_bookings
from booking_api.mine import ical, phone
from booking_api.rooms import availability, floorplans, rooms
from booking_api.stats import api as stats_api
from booking_api.stats import ghosts
from booking_api.stats import page as stats_page

routes = [
    *rooms.routes,
    *billing.routes,  # before bookings: /api/v1/bookings/quote
    *billing_report.routes,
    *bookings.routes,
    *availability.routes,
    *approvals.routes,
    *leavers.routes,
    *floorplans.routes,
    *my_bookings.routes,
    *pages.routes,
    *materials.routes,
    *meeting_page.routes,
    *checkin.routes,
    *live.routes,
    *doors.routes,
    *layouts.routes,
    *phone.routes,
    *ical.routes,
    *sensors.routes,
    *imports.routes,
    *access.routes,
    *terminals.routes,
    *tasks.routes,
    *care.routes,
    *board.routes,
    *callin.routes,
    *desk_doors.routes,
    *stats_api.routes,
    *ghosts.routes,
    *stats_page.routes,
]
