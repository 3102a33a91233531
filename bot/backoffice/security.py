"""Cookies, CSRF tokens and the throttling of failed sign-ins.

The CSRF token of a form is a keyed hash of the browser's session token (or, before
signing in, of a random pre-session cookie): nothing to store, and worthless without the
cookie it is bound to, which a SameSite=Strict, HttpOnly cookie keeps from other sites.
"""

from __future__ import annotations

import hmac
import math
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

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
    window: float
    first_wait: float
    longest_wait: float


ACCOUNT_RULE = ThrottleRule(free=5, window=15 * 60, first_wait=30, longest_wait=15 * 60)
ADDRESS_RULE = ThrottleRule(free=20, window=15 * 60, first_wait=30, longest_wait=15 * 60)


class LoginThrottle:
    """Waits that grow with repeated failed sign-ins, per account and per address.

    Never a lock-out: the wait is at most ``longest_wait`` and the failures age out of
    the window, so nobody can keep a colleague out for long by typing wrong passwords.
    Kept in memory (per process); the least recently used keys go first.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 50_000) -> None:
        self._clock = clock
        self._max = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, rule: ThrottleRule) -> deque[float]:
        now = self._clock()
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and now - times[0] > rule.window:
            times.popleft()
        return times

    def _wait(self, key: str, rule: ThrottleRule) -> float:
        times = self._recent(key, rule)
        over = len(times) - rule.free
        if over < 0:
            return 0.0
        wait = min(rule.first_wait * 2**over, rule.longest_wait)
        return max(0.0, times[-1] + wait - self._clock())

    def retry_after(self, account: str, address: str) -> int:
        """Seconds to wait before another try is heard (0: go ahead)."""
        wait = max(self._wait("a:" + account, ACCOUNT_RULE), self._wait("i:" + address, ADDRESS_RULE))
        return math.ceil(wait)

    def failed(self, account: str, address: str) -> None:
        now = self._clock()
        for key in ("a:" + account, "i:" + address):
            self._failures.setdefault(key, deque(maxlen=64)).append(now)
            self._failures.move_to_end(key)
        while len(self._failures) > self._max:
            self._failures.popitem(last=False)

    def succeeded(self, account: str) -> None:
        self._failures.pop("a:" + account, None)
