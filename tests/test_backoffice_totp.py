"""The admins' optional second factor (TOTP): enrolment from the profile (otpauth URI and
a server-drawn SVG QR code, on only once confirmed), then a sign-in that asks for the code
after the password, in the same browser; wrong and replayed codes are refused and count
in the throttle; ``intake users reset-totp`` takes it away."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import aiohttp
import pyotp
import pytest
from sqlalchemy import select

from bot.engine.loader import FlowSet
from bot.store.crypto import generate_key
from bot.store.models import StaffUser
from bot.store.staff import StaffDirectory
from bot.store.store import Store

from .backoffice_cases import make_user
from .backoffice_http import backoffice, client, csrf_of, page_csrf, sign_in
from .conftest import START, Clock

ADMIN = "admin@example.org"


@pytest.fixture
async def site(store: Store, flows: FlowSet, clock: Clock) -> AsyncIterator[str]:
    d = StaffDirectory(store)
    await make_user(d, ADMIN, "admin", "immigration-office", START)
    await make_user(d, "io@example.org", "caseworker", "immigration-office", START)
    async with backoffice(store, flows, clock) as base:
        yield base


async def _post(session: aiohttp.ClientSession, path: str, data: dict[str, str], page: str = "/backoffice/profile"):  # type: ignore[no-untyped-def]
    token = await page_csrf(session, page)
    async with session.post(path, data={**data, "csrf_token": token}, allow_redirects=False) as response:
        return response.status, response.headers.get("Location", ""), await response.text()


async def _enrol(session: aiohttp.ClientSession, clock: Clock) -> pyotp.TOTP:
    """Enrol the signed-in admin through the profile page; the app's TOTP."""
    assert (await _post(session, "/backoffice/profile/totp/start", {}))[0] == 303
    async with session.get("/backoffice/profile") as page:
        html = await page.text()
        csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp  # the QR code needs no exception
    uri = re.search(r"<code>(otpauth://totp/[^<]+)</code>", html)
    assert uri and "issuer=Intake" in uri[1] and re.search(r"<svg[^>]*>.*</svg>", html, re.DOTALL)
    totp = pyotp.parse_uri(unquote(uri[1].replace("&amp;", "&")))
    return totp  # type: ignore[return-value]


def _wrong(totp: pyotp.TOTP, now: datetime) -> str:
    """A code that is none of those accepted at ``now`` (the window is one step each side)."""
    right = {totp.at(now + timedelta(seconds=s)) for s in (-30, 0, 30)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in right)


async def _code_step(base: str) -> aiohttp.ClientSession:
    session = aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True))
    response = await sign_in(session, ADMIN)
    assert (response.status, response.headers.get("Location")) == (303, "/backoffice/login/code")
    return session


async def test_enrolment_is_on_only_once_confirmed_with_a_code(site: str, store: Store, clock: Clock) -> None:
    d = StaffDirectory(store)
    async with client(site) as session:
        await sign_in(session, ADMIN)
        totp = await _enrol(session, clock)
        assert (await d.user(ADMIN)).totp == "pending"  # type: ignore[union-attr]
        async with store.engine.connect() as conn:
            stored = await conn.scalar(select(StaffUser.totp_secret_enc).where(StaffUser.email == ADMIN))
        assert stored and totp.secret.encode() not in stored  # encrypted at rest
        _, location, _ = await _post(session, "/backoffice/profile/totp/confirm", {"code": _wrong(totp, START)})
        assert location == "/backoffice/profile?error=wrong"
        async with session.get(location) as page:
            assert "Wrong code" in await page.text()
        assert (await d.user(ADMIN)).totp == "pending"  # type: ignore[union-attr]
        _, location, _ = await _post(session, "/backoffice/profile/totp/confirm", {"code": totp.at(START)})
        assert location == "/backoffice/profile?totp=on"
        assert (await d.user(ADMIN)).totp == "on"  # type: ignore[union-attr]
        # The code that confirmed the enrolment is spent: it cannot also turn it off.
        assert (await _post(session, "/backoffice/profile/totp/off", {"code": totp.at(START)}))[1].endswith("error=wrong")
    lines, _ = await d.audit_log()
    assert {"totp_enrol", "totp_on"} <= {line.action for line in lines}


async def test_sign_in_asks_for_the_code_and_refuses_wrong_and_replayed_codes(
    site: str, store: Store, clock: Clock
) -> None:
    async with client(site) as session:
        await sign_in(session, ADMIN)
        totp = await _enrol(session, clock)
        await _post(session, "/backoffice/profile/totp/confirm", {"code": totp.at(START)})
    clock.advance(seconds=30)
    session = await _code_step(site)
    try:
        async with session.get("/backoffice/cases", allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/backoffice/login"  # no session yet
        status, _, html = await _post(session, "/backoffice/login/code", {"code": _wrong(totp, clock())}, "/backoffice/login/code")
        assert status == 401 and "Wrong code" in html
        code = totp.at(clock())
        async with client(site) as stranger:  # another browser cannot answer this step
            await stranger.get("/backoffice/login")
            status, location, _ = await _post(stranger, "/backoffice/login/code", {"code": code}, "/backoffice/login")
            assert (status, location) == (303, "/backoffice/login")
        status, location, _ = await _post(session, "/backoffice/login/code", {"code": code}, "/backoffice/login/code")
        assert (status, location) == (303, "/backoffice/")
        async with session.get("/backoffice/cases", allow_redirects=False) as response:
            assert response.status == 200
    finally:
        await session.close()

    replay = await _code_step(site)
    try:
        status, _, html = await _post(replay, "/backoffice/login/code", {"code": code}, "/backoffice/login/code")
        assert status == 401, "a code is accepted once, in its whole window"
        clock.advance(seconds=30)
        status, location, _ = await _post(
            replay, "/backoffice/login/code", {"code": totp.at(clock())}, "/backoffice/login/code"
        )
        assert (status, location) == (303, "/backoffice/")
    finally:
        await replay.close()
    lines, _ = await StaffDirectory(store).audit_log()
    assert [line.action for line in lines].count("login_code_failed") == 2


async def test_wrong_codes_count_in_the_sign_in_throttle(site: str, clock: Clock) -> None:
    async with client(site) as session:
        await sign_in(session, ADMIN)
        totp = await _enrol(session, clock)
        await _post(session, "/backoffice/profile/totp/confirm", {"code": totp.at(START)})
    clock.advance(seconds=60)
    session = await _code_step(site)
    try:
        for _ in range(5):
            status, _, _ = await _post(session, "/backoffice/login/code", {"code": _wrong(totp, clock())}, "/backoffice/login/code")
            assert status == 401
        async with session.get("/backoffice/login/code") as page:
            token = csrf_of(await page.text())
        async with session.post(
            "/backoffice/login/code", data={"code": totp.at(clock()), "csrf_token": token}, allow_redirects=False
        ) as response:
            assert response.status == 429 and int(response.headers["Retry-After"]) > 0
    finally:
        await session.close()
    async with client(site) as session:  # and the password form is throttled for this account too
        assert (await sign_in(session, ADMIN)).status == 429


async def test_only_admins_enrol(site: str) -> None:
    async with client(site) as session:
        await sign_in(session, "io@example.org")
        async with session.get("/backoffice/profile") as page:
            assert page.status == 200 and "totp/start" not in await page.text()
        assert (await _post(session, "/backoffice/profile/totp/start", {}))[0] == 403


def test_intake_users_reset_totp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    from bot.cli import main
    from bot.store.crypto import Cipher

    key = generate_key()
    url = f"sqlite+aiosqlite:///{tmp_path / 'staff.db'}"
    monkeypatch.setenv("INTAKE_DATABASE_URL", url)
    monkeypatch.setenv("INTAKE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INTAKE_SECRET_KEYS", key)
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(["users", "add", ADMIN, "--role", "admin", "--org", "iom", "--password-stdin"]) == 0

    async def enrol_then(read: bool) -> tuple[str, list[str]]:
        store = Store.connect(url, Cipher([key]))
        try:
            d = StaffDirectory(store)
            user = await d.user(ADMIN)
            assert user is not None
            if not read:
                secret = await d.start_totp(user.id)
                assert await d.confirm_totp(user.id, pyotp.TOTP(secret).at(START), START)
            user = await d.user(ADMIN)
            lines, _ = await d.audit_log()
            return user.totp, [f"{line.actor} {line.action} {line.detail}" for line in lines]  # type: ignore[union-attr]
        finally:
            await store.close()

    assert asyncio.run(enrol_then(read=False))[0] == "on"
    assert main(["users", "reset-totp", ADMIN]) == 0
    state, audit = asyncio.run(enrol_then(read=True))
    assert state == "off" and audit[0].startswith("cli totp_reset user=")
    assert main(["users", "reset-totp", "nobody@example.org"]) == 2
