"""Cookies, CSRF tokens and the throttling of failed sign-ins (shared by every worker).

The CSRF token of a form is a keyed hash of the browser's session token (or, before
signing in, of a random pre-session cookie): nothing to store, and worthless without the
cookie it is bound to, which a SameSite=Strict, HttpOnly cookie keeps from other sites.
"""

from __future__ import annotations

import hmac
import math
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from aiohttp import web

SESSION_COOKIE = "bo_session"
PRE_SESSION_COOKIE = "bo_pre"
COOKIE_PATH = "/backoffice"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; connect-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def csrf_token(hasher: Callable[..., str], bound_to: str) -> str:
    return hasher("backoffice-csrf", bound_to)


def csrf_ok(hasher: Callable[..., str], bound_to: str | None, given: object) -> bool:
    if not bound_to or not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(csrf_token(hasher, bound_to), given)


def new_pre_session() -> str:
    return secrets.token_urlsafe(24)


def set_cookie(response: web.StreamResponse, name: str, value: str, *, secure: bool, max_age: int | None = None) -> None:
    response.set_cookie(
        name, value, path=COOKIE_PATH, httponly=True, samesite="Strict", secure=secure, max_age=max_age
    )


@dataclass(frozen=True)
class ThrottleRule:
    free: int
    """Failures allowed in the window before waits begin."""
    window: timedelta
    first_wait: float
    longest_wait: float


ACCOUNT_RULE = ThrottleRule(free=5, window=timedelta(minutes=15), first_wait=30, longest_wait=15 * 60)
ADDRESS_RULE = ThrottleRule(free=20, window=timedelta(minutes=15), first_wait=30, longest_wait=15 * 60)
LONGEST_WINDOW = max(ACCOUNT_RULE.window, ADDRESS_RULE.window)


class FailureLog(Protocol):
    """Where failures are kept: ``StaffDirectory`` (the database, shared by every worker)
    or ``MemoryFailureLog``. Keys arrive already hashed."""

    async def login_failures(self, keys: Iterable[str], since: datetime) -> dict[str, list[datetime]]: ...

    async def record_login_failure(self, keys: Iterable[str], now: datetime, forget_before: datetime) -> None: ...

    async def clear_login_failures(self, key: str) -> None: ...


class MemoryFailureLog:
    """Failures in this process only (for a single process, and for tests)."""

    def __init__(self) -> None:
        self._times: dict[str, list[datetime]] = {}

    async def login_failures(self, keys: Iterable[str], since: datetime) -> dict[str, list[datetime]]:
        return {key: [t for t in self._times.get(key, []) if t > since] for key in keys}

    async def record_login_failure(self, keys: Iterable[str], now: datetime, forget_before: datetime) -> None:
        for key in keys:
            self._times[key] = [t for t in self._times.get(key, []) if t >= forget_before] + [now]

    async def clear_login_failures(self, key: str) -> None:
        self._times.pop(key, None)


class LoginThrottle:
    """Waits that grow with repeated failed sign-ins, per account and per address.

    Never a lock-out: the wait is at most ``longest_wait`` and the failures age out of
    the window, so nobody can keep a colleague out for long by typing wrong passwords.
    The failures are kept in ``log`` under keyed hashes of the e-mail address and of the
    IP address; with the database as the log, every worker sees the same count.
    """

    def __init__(self, log: FailureLog, hasher: Callable[..., str], clock: Callable[[], datetime]) -> None:
        self._log = log
        self._hasher = hasher
        self._clock = clock

    def _keys(self, account: str, address: str) -> tuple[str, str]:
        return (
            self._hasher("login-throttle", "account", account),
            self._hasher("login-throttle", "address", address),
        )

    def _wait(self, times: list[datetime], rule: ThrottleRule, now: datetime) -> float:
        recent = [t for t in times if now - t <= rule.window]
        over = len(recent) - rule.free
        if over < 0:
            return 0.0
        wait = min(rule.first_wait * 2**over, rule.longest_wait)
        return max(0.0, (recent[-1] - now).total_seconds() + wait)

    async def retry_after(self, account: str, address: str) -> int:
        """Seconds to wait before another try is heard (0: go ahead)."""
        now = self._clock()
        by_account, by_address = self._keys(account, address)
        found = await self._log.login_failures((by_account, by_address), now - LONGEST_WINDOW)
        wait = max(
            self._wait(found.get(by_account, []), ACCOUNT_RULE, now),
            self._wait(found.get(by_address, []), ADDRESS_RULE, now),
        )
        return math.ceil(wait)

    async def failed(self, account: str, address: str) -> None:
        now = self._clock()
        await self._log.record_login_failure(self._keys(account, address), now, now - LONGEST_WINDOW)

    async def succeeded(self, account: str) -> None:
        await self._log.clear_login_failures(self._keys(account, "")[0])
