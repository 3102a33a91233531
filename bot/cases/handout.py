"""What an applicant takes home from an assisted intake: a printed summary of their
request in their language (the back office prints it in the staff member's language
below). The texts are applicant texts (the ``messages`` catalogs, all 18 languages);
the back office only lays them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from babel.dates import format_date

from ..i18n import N_, current_locale, format_moment, gettext, is_rtl, use_locale
from .kinds import get as kind_of
from .references import show_link_code

NEXT_STEPS = {
    "voluntary_return": N_(
        "Fedasil will contact you about your return, using the contact details you gave. "
        "You can change your mind at any time."
    ),
    "protection_appointment": N_(
        "Come to your appointment on time, with this sheet and any identity or travel "
        "documents you have. If you cannot come, tell us as early as possible."
    ),
}
DEFAULT_NEXT = N_(
    "A staff member will handle your request and contact you, using the contact details you gave."
)


@dataclass(frozen=True, slots=True)
class Handout:
    """The summary's texts in one language."""

    language: str
    direction: str
    """``rtl`` or ``ltr``: how the block is laid out."""
    title: str
    kind: str
    reference: str
    sent_on: str
    appointment: str | None
    next_heading: str
    next_steps: str
    link_heading: str
    link_text: str | None
    link_expiry: str | None
    keep: str


def handout(
    *, language: str, kind: str, reference: str, created_at: datetime, timezone: str,
    appointment_at: datetime | None = None, place: str | None = None,
    link_code: str | None = None, link_expires: datetime | None = None,
) -> Handout:
    """The summary's texts in ``language`` (``place``: the appointment's place, already
    written in that language)."""
    with use_locale(language):
        locale = current_locale()
        return Handout(
            language=language,
            direction="rtl" if is_rtl(language) else "ltr",
            title=gettext("Your request"),
            kind=gettext(kind_of(kind).title),
            reference=gettext("Your reference: {reference}", reference=reference),
            sent_on=gettext("Sent on {date}", date=format_date(created_at.date(), format="long", locale=locale)),
            appointment=(
                gettext("Your appointment: {moment}, at {place}.",
                        moment=format_moment(appointment_at, timezone), place=place or "")
                if appointment_at is not None else None
            ),
            next_heading=gettext("What happens next"),
            next_steps=gettext(NEXT_STEPS.get(kind, DEFAULT_NEXT)),
            link_heading=gettext("Follow your request on your phone"),
            link_text=(
                gettext(
                    "Send this message to our Telegram bot or web chat: /link {code}. Then you can "
                    "see your request there and the staff can write to you there.",
                    code=show_link_code(link_code),
                )
                if link_code else None
            ),
            link_expiry=(
                gettext("This code works only once, until {date}.",
                        date=format_date(link_expires.date(), format="long", locale=locale))
                if link_code and link_expires else None
            ),
            keep=gettext("Keep this sheet. Give your reference whenever you contact us."),
        )
