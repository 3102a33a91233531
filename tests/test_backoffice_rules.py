"""First-answer targets and the sign-in throttle, with a clock moved by hand."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.backoffice.security import LoginThrottle, MemoryFailureLog
from bot.backoffice.targets import first_answer_due, overdue

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
ZONE = "Europe/Brussels"


def test_targets_count_hours_or_belgian_working_days() -> None:
    assert first_answer_due("urgent_safety", MONDAY, ZONE) == MONDAY + timedelta(hours=1)
    friday = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
    assert first_answer_due("human_callback", friday, ZONE) == friday + timedelta(days=3)  # the next Monday
    assert overdue("urgent_safety", "submitted", MONDAY, None, MONDAY + timedelta(hours=2), ZONE)
    assert not overdue("urgent_safety", "submitted", MONDAY, MONDAY, MONDAY + timedelta(hours=2), ZONE)
    assert not overdue("urgent_safety", "closed", MONDAY, None, MONDAY + timedelta(hours=2), ZONE)
    appointment = MONDAY + timedelta(days=1)
    assert first_answer_due("protection_appointment", MONDAY, ZONE, appointment) == appointment


async def test_failed_sign_ins_wait_longer_then_age_out() -> None:
    now = [MONDAY]
    throttle = LoginThrottle(MemoryFailureLog(), lambda *parts: "|".join(parts), lambda: now[0])
    for _ in range(5):
        assert await throttle.retry_after("a@x.org", "1.2.3.4") == 0
        await throttle.failed("a@x.org", "1.2.3.4")
    assert await throttle.retry_after("a@x.org", "1.2.3.4") == 30
    assert await throttle.retry_after("b@x.org", "5.6.7.8") == 0  # another account, another address
    now[0] = MONDAY + timedelta(seconds=31)
    await throttle.failed("a@x.org", "1.2.3.4")
    assert await throttle.retry_after("a@x.org", "9.9.9.9") == 60  # doubles, from any address
    now[0] = MONDAY + timedelta(seconds=31 + 16 * 60)
    assert await throttle.retry_after("a@x.org", "1.2.3.4") == 0  # never a lasting lock-out
