"""What the scripted applicants answer, by the field each question names in expects."""

from __future__ import annotations

from datetime import date, timedelta

DEPARTURE_IN = timedelta(days=60)
"""The departure date is this far from today: the question takes dates from today to two years on."""

ANSWERS = {
    "consent.data_processing": "yes", "destination_country": "Georgia", "applicant.nationality": "GE",
    "admin_status": "asylum_rejected", "in_reception": "yes", "reception_centre": "Petit-Château",
    "unaccompanied_minor": "no", "household.adults": "2", "household.children": "1",
    "travel_document": "valid", "assisted_return_last_5y": "no", "health_needs": "no",
    "reintegration_interest": "2, 3", "departure_from": (date.today() + DEPARTURE_IN).strftime("%d/%m/%Y"),
    "applicant.name": "Nino Beridze", "applicant.preferred_contact": "phone", "applicant.phone": "0470 12 34 56",
    "consent.share_fedasil": "yes", "consent.share_iom": "yes", "consent.share_caritas": "no",
}


class Stuck(RuntimeError):
    """A scripted journey that does not advance: the bot asked again what it was just told."""


def answer(field: str, previous: str | None) -> str:
    """The answer to the question on ``field``, the question after the one on ``previous``.

    Raises :class:`Stuck` when it is the same question again (its answer was refused, so
    the journey would loop for ever), KeyError for a question the script does not know."""
    if field == previous:
        raise Stuck(f"the answer to {field!r} ({ANSWERS.get(field)!r}) was refused; the journey does not advance")
    return ANSWERS[field]
