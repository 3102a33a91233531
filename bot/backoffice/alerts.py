"""E-mail alerts of urgent cases to the on-duty staff who may see them.

The alerts themselves are written with the case (bot/store/alerts.py explains how they
are neither lost nor sent twice across restarts and workers). ``AlertSender`` runs in
every worker (started by bot/app.py): every ``INTAKE_ALERT_INTERVAL_SECONDS`` it works out
the recipients of new alerts with the one access check (``policy.can_see`` per on-duty
staff member) and sends each recipient one e-mail through SMTP (aiosmtplib), retrying
with backoff while the server is down.

An alert e-mail carries the case's reference, its kind and a link to it, in the
recipient's language: never the applicant's name, answers or anything else personal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Protocol

import aiosmtplib

from ..cases.kinds import KINDS
from ..i18n import S_
from ..store.alerts import FAILED, PENDING, SENT, Alerts, DeliveryView
from ..store.models import CaseRow
from ..store.staff import Staff
from . import policy
from .framework import PREFIX
from .i18n import STAFF_LOCALES, staff_translations

log = logging.getLogger(__name__)

SUBJECTS = {
    "created": S_("Urgent case {reference}"),
    "escalated": S_("Case {reference} is now urgent"),
}
OPENINGS = {
    "created": S_("A new urgent case needs an answer: {reference} ({kind})."),
    "escalated": S_("A case was made urgent and needs an answer: {reference} ({kind})."),
}


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class PermanentFailure(Exception):
    """The server refused the message for good (a 5xx answer): not tried again."""


class SmtpMailer:
    """Sends through the SMTP server of the settings (aiosmtplib), one connection a message."""

    def __init__(self, settings: Any) -> None:
        self.sender = settings.smtp_from
        self._host = settings.smtp_host
        self._port = settings.smtp_port_in_use()
        self._security = settings.smtp_security
        self._username = settings.smtp_username or None
        self._password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        self._timeout = settings.smtp_timeout_seconds

    async def send(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(
                message,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                use_tls=self._security == "tls",
                start_tls=True if self._security == "starttls" else False,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            if all(500 <= refusal.code < 600 for refusal in error.recipients):
                raise PermanentFailure("recipient refused") from None
            raise
        except aiosmtplib.SMTPResponseException as error:
            if 500 <= error.code < 600:
                raise PermanentFailure(f"SMTP {error.code}") from None
            raise


def recipients(on_duty: Sequence[Staff], case: CaseRow) -> list[Staff]:
    """The on-duty staff who may see ``case`` (the back office's one access check)."""
    return [user for user in on_duty if policy.can_see(user, case)]


def case_link(public_url: str, reference: str) -> str:
    return f"{public_url.strip().rstrip('/')}{PREFIX}/cases/{reference}"


def compose(delivery: DeliveryView, sender: str, public_url: str, now: datetime) -> EmailMessage:
    """The alert e-mail: reference, kind and link, in the recipient's language."""
    language = delivery.language if delivery.language in STAFF_LOCALES else "en"
    _ = staff_translations(language).gettext
    kind = KINDS.get(delivery.kind)
    kind_title = _(kind.staff_title) if kind else delivery.kind
    reason = delivery.reason if delivery.reason in SUBJECTS else "created"
    link = case_link(public_url, delivery.reference)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = delivery.email
    message["Subject"] = _(SUBJECTS[reason]).format(reference=delivery.reference)
    message["Date"] = formatdate(now.timestamp(), usegmt=True)
    # The same id on every attempt: a mail system that got a message twice (a retry after
    # an answer that was lost) can tell it is one message.
    domain = sender.rpartition("@")[2] or "intake.invalid"
    message["Message-ID"] = f"<alert-{delivery.id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    lines = [
        _(OPENINGS[reason]).format(reference=delivery.reference, kind=kind_title),
        "",
        _("Open it in the back office: {link}").format(link=link),
        "",
        _("This e-mail holds no personal data: sign in to see the case."),
        _("You receive it because you are on duty; untick “I am on duty” in the back office to stop."),
    ]
    if not public_url.strip():
        lines.append(_("(INTAKE_PUBLIC_URL is not set: the link lacks the server's address.)"))
    message.set_content("\n".join(lines) + "\n")
    return message


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class AlertSender:
    """Works out new alerts' recipients and sends their e-mails; one per worker."""

    def __init__(
        self,
        alerts: Alerts,
        mailer: Mailer,
        *,
        sender: str,
        public_url: str,
        clock: Callable[[], datetime] = utcnow,
        lease: timedelta = timedelta(seconds=60),
        batch: int = 20,
        max_attempts: int = 12,
        backoff: timedelta = timedelta(seconds=15),
        max_backoff: timedelta = timedelta(minutes=10),
    ) -> None:
        self.alerts = alerts
        self.mailer = mailer
        self.sender = sender
        self.public_url = public_url
        self.clock = clock
        self.lease = lease
        self.batch = batch
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff

    def retry_delay(self, attempt: int) -> timedelta:
        return min(self.backoff * (2 ** (attempt - 1)), self.max_backoff)

    async def run_once(self) -> int:
        """Work out new alerts, then send the due e-mails; returns how many were sent."""
        await self.alerts.expand(self.clock(), recipients)
        due = await self.alerts.claim_deliveries(
            self.clock(), lease=self.lease, limit=self.batch, max_attempts=self.max_attempts
        )
        if not due:
            return 0
        return sum(await asyncio.gather(*(self._send(delivery) for delivery in due)))

    async def _send(self, delivery: DeliveryView) -> bool:
        status, retry_at = SENT, None
        try:
            message = compose(delivery, self.sender, self.public_url, self.clock())
            # Half the lease: the outcome must be recorded while the claim is still ours.
            await asyncio.wait_for(self.mailer.send(message), timeout=self.lease.total_seconds() / 2)
        except asyncio.CancelledError:
            raise
        except PermanentFailure as error:
            log.error("alert e-mail %s about %s refused: %s", delivery.id, delivery.reference, error)
            status = FAILED
        except Exception as error:  # the server is down or slow: try again later
            if delivery.attempt >= self.max_attempts:
                log.error("alert e-mail %s about %s failed after %s attempts (%s)",
                          delivery.id, delivery.reference, delivery.attempt, type(error).__name__)
                status = FAILED
            else:
                log.warning("alert e-mail %s about %s: attempt %s failed (%s), trying again",
                            delivery.id, delivery.reference, delivery.attempt, type(error).__name__)
                status, retry_at = PENDING, self.clock() + self.retry_delay(delivery.attempt)
        now = self.clock()
        if not await self.alerts.finish_delivery(delivery.id, delivery.attempt, now, status, retry_at=retry_at):
            log.warning("alert e-mail %s: lease lost before its outcome was recorded", delivery.id)
        return status == SENT

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        """Every ``interval`` seconds until ``stop`` is set; the round in flight is finished."""
        while not stop.is_set():
            sent = 0
            try:
                sent = await self.run_once()
            except Exception:  # the database may be away for a moment: next round
                log.exception("alert round failed")
            if sent >= self.batch:
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)


def alert_sender(store: Any, settings: Any, clock: Callable[[], datetime] = utcnow) -> AlertSender | None:
    """The sender the settings ask for, or None (and a log line saying so) without SMTP."""
    if not settings.smtp_configured():
        log.warning(
            "e-mail alerts are off: INTAKE_SMTP_HOST is not set; urgent cases still show "
            "in the back office (banner and dashboard)"
        )
        return None
    log.info("e-mail alerts of urgent cases go through %s:%s (%s) to the on-duty staff",
             settings.smtp_host, settings.smtp_port_in_use(), settings.smtp_security)
    return AlertSender(
        Alerts(store), SmtpMailer(settings), sender=settings.smtp_from, public_url=settings.public_url, clock=clock
    )
