"""An appointment as an iCalendar file (RFC 5545), for the applicant's calendar app."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event

PRODID = "-//Belgian Immigration Office//Intake bot//EN"


def appointment_ics(
    *,
    uid: str,
    starts_at: datetime,
    duration: timedelta,
    summary: str,
    location: str,
    description: str,
    tz: str | None = None,
    sequence: int = 0,
    stamp: datetime | None = None,
    alarm_before: timedelta | None = None,
) -> bytes:
    """One VEVENT in a VCALENDAR, as bytes (CRLF lines, folded at 75 octets).

    Times are UTC (``…Z``) by default, which every calendar shows in its own zone; with
    ``tz`` (e.g. ``"Europe/Brussels"``) they carry that TZID and the calendar includes its
    VTIMEZONE. Keep ``uid`` stable for one appointment and raise ``sequence`` when it
    moves, so that calendar apps update the event instead of adding a second one.
    ``alarm_before`` adds a display alarm that long before the start.
    """
    if starts_at.tzinfo is None:
        raise ValueError("starts_at must be aware")
    if duration <= timedelta(0):
        raise ValueError("duration must be positive")
    zone = ZoneInfo(tz) if tz else timezone.utc
    start = starts_at.astimezone(zone)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", (stamp or datetime.now(timezone.utc)).astimezone(timezone.utc))
    event.add("dtstart", start)
    event.add("dtend", (starts_at.astimezone(timezone.utc) + duration).astimezone(zone))  # elapsed time, across DST too
    event.add("sequence", sequence)
    event.add("summary", summary)
    event.add("location", location)
    event.add("description", description)
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    if alarm_before is not None:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", summary)
        alarm.add("trigger", -alarm_before)
        event.add_component(alarm)
    calendar.add_component(event)
    if tz:
        # Only the transitions around the appointment, not decades of them.
        year = timedelta(days=366)
        calendar.add_missing_timezones(first_date=(start - year).date(), last_date=(start + year).date())
    return calendar.to_ical()
