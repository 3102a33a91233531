"""A staff member changes their own password on the profile: the current one is needed
(wrong ones count in the sign-in throttle), the new one needs 12 characters and must be
typed twice, and every other session of the account ends; ``intake users set-password``
resets a forgotten one and ends every session."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.engine.loader import FlowSet
from bot.store.crypto import generate_key
from bot.store.staff import StaffDirectory
from bot.store.store import Store

from .backoffice_cases import PASSWORD, make_user
from .backoffice_http import backoffice, client, page_csrf, sign_in
from .conftest import START, Clock

ME = "agent@fedasil.example"
NEW = "a new and longer pass phrase"


@pytest.fixture
async def site(store: Store, flows: FlowSet, clock: Clock) -> AsyncIterator[str]:
    await make_user(StaffDirectory(store), ME, "caseworker", "fedasil", START)
    async with backoffice(store, flows, clock) as base:
        yield base


async def _change(session: aiohttp.ClientSession, current: str, new: str, repeat: str | None = None):  # type: ignore[no-untyped-def]
    token = await page_csrf(session, "/backoffice/profile")
    data = {"csrf_token": token, "current": current, "new": new, "repeat": new if repeat is None else repeat}
    async with session.post("/backoffice/profile/password", data=data, allow_redirects=False) as response:
        return response.status, response.headers.get("Location", ""), await response.text()


async def _signs_in(base: str, password: str) -> bool:
    async with client(base) as session:
        return (await sign_in(session, ME, password)).status == 303


async def _profile_status(session: aiohttp.ClientSession) -> int:
    async with session.get("/backoffice/profile", allow_redirects=False) as page:
        return page.status


async def test_a_change_needs_the_current_password_and_ends_the_other_sessions(site: str, store: Store) -> None:
    async with client(site) as here, client(site) as elsewhere:
        await sign_in(here, ME)
        await sign_in(elsewhere, ME)
        assert await _profile_status(elsewhere) == 200

        status, _, html = await _change(here, "not my password at all", NEW)
        assert status == 400 and "Your current password is not right." in html
        status, _, html = await _change(here, PASSWORD, "short")
        assert status == 400 and "at least 12 characters" in html
        status, _, html = await _change(here, PASSWORD, NEW, repeat=NEW + "!")
        assert status == 400 and "The two new passwords are not the same." in html
        assert await _profile_status(elsewhere) == 200  # refused changes end nothing

        status, location, _ = await _change(here, PASSWORD, NEW)
        assert (status, location) == (303, "/backoffice/profile?password=changed")
        async with here.get(location) as page:
            assert page.status == 200 and "Your other sessions were signed out." in await page.text()
        assert await _profile_status(elsewhere) == 303  # to the sign-in page
    assert not await _signs_in(site, PASSWORD)
    assert await _signs_in(site, NEW)
    lines, _ = await StaffDirectory(store).audit_log()
    actions = [line.action for line in lines]
    assert "password_changed" in actions and "password_change_failed" in actions
    assert not any(NEW in (line.detail or "") or PASSWORD in (line.detail or "") for line in lines)


async def test_wrong_current_passwords_are_throttled_like_sign_ins(site: str) -> None:
    async with client(site) as session:
        await sign_in(session, ME)
        statuses = [(await _change(session, f"wrong password {i}", NEW))[0] for i in range(7)]
        assert statuses[:5] == [400] * 5 and statuses[-1] == 429
        assert (await _change(session, PASSWORD, NEW))[0] == 429  # even the right one waits
    assert not await _signs_in(site, PASSWORD)  # the account's sign-in waits too


def test_the_cli_resets_a_forgotten_password_and_ends_every_session(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from bot.cli import main
    from bot.store.crypto import Cipher

    key = generate_key()
    url = f"sqlite+aiosqlite:///{tmp_path / 'staff.db'}"
    monkeypatch.setenv("INTAKE_DATABASE_URL", url)
    monkeypatch.setenv("INTAKE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INTAKE_SECRET_KEYS", key)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["users", "add", ME, "--role", "caseworker", "--org", "fedasil", "--password-stdin"]) == 0

    async def session_then(check: str | None) -> tuple[bool, bool, list[str]]:
        store = Store.connect(url, Cipher([key]))
        try:
            d = StaffDirectory(store)
            user = await d.user(ME)
            assert user is not None
            if check is None:
                token = await d.open_session(user, START)
                return True, True, [token]
            alive = await d.session_user(check, START) is not None
            lines, _ = await d.audit_log()
            return alive, await d.authenticate(ME, NEW) is not None, [f"{x.actor} {x.action}" for x in lines]
        finally:
            await store.close()

    token = asyncio.run(session_then(None))[2][0]
    monkeypatch.setattr("sys.stdin", io.StringIO("too short\n"))
    assert main(["users", "set-password", ME, "--password-stdin"]) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO(NEW + "\n"))
    assert main(["users", "set-password", ME, "--password-stdin"]) == 0
    alive, new_works, audit = asyncio.run(session_then(token))
    assert not alive and new_works and audit[0] == "cli password_reset"
    monkeypatch.setattr("sys.stdin", io.StringIO(NEW + "\n"))
    assert main(["users", "set-password", "nobody@example.org", "--password-stdin"]) == 2
