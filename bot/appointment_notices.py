"""What the applicant is told when the registration desk changes their appointment
(a slot offered from the waiting list, a booking cancelled), in the applicant's language.

The back office sends these through ``ApplicantMessenger``; they live here, outside
bot/backoffice, because applicant texts belong to the ``messages`` catalogs (babel.cfg
leaves the back office to the staff's ``backoffice`` domain).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from .i18n import format_moment, gettext, use_locale


def slot_offered(
    language: str, starts_at: datetime, zone: str, place: str, place_name: Callable[[str], str] = str
) -> str:
    with use_locale(language):
        return gettext(
            "An appointment for your registration is booked: {moment}, at {place}. Bring any "
            "identity or travel documents you have (none is fine too), your medicines, and "
            "everyone who applies with you. You will get a reminder the day before. To see, "
            "change or cancel it, type /appointment_manage.",
            moment=format_moment(starts_at, zone),
            place=place_name(place),
        )


def booking_cancelled(
    language: str, starts_at: datetime, zone: str, place: str, place_name: Callable[[str], str] = str
) -> str:
    with use_locale(language):
        return gettext(
            "We are sorry: your registration appointment on {moment} had to be cancelled. A "
            "person will offer you a new time here. You can also go to the registration centre "
            "at {place} without an appointment, or type /human.",
            moment=format_moment(starts_at, zone),
            place=place_name(place),
        )
