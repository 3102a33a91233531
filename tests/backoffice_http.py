"""Serving the back office to a test: an app as ``intake serve`` builds it, and a client
that signs in through the login form like a browser."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp

from bot.app import create_app
from bot.engine import Engine
from bot.engine.loader import FlowSet
from bot.store.store import Store
from nlu.langid import LanguageIdentifier

from .backoffice_cases import PASSWORD
from .serving import serving, services_for

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no csrf_token on the page"
    return found[1]


@contextlib.asynccontextmanager
async def backoffice(store: Store, flows: FlowSet, clock: Any) -> AsyncIterator[str]:
    engine = Engine(store, flows, clock=clock, idle_timeout=timedelta(hours=24), language_id=LanguageIdentifier())
    async with serving(create_app(services_for(engine, flows))) as base:
        yield base


@contextlib.asynccontextmanager
async def client(base: str) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def sign_in(session: aiohttp.ClientSession, email: str, password: str = PASSWORD) -> aiohttp.ClientResponse:
    async with session.get("/backoffice/login") as page:
        token = csrf_of(await page.text())
    async with session.post(
        "/backoffice/login", data={"email": email, "password": password, "csrf_token": token}, allow_redirects=False
    ) as response:
        await response.read()
        return response


async def page_csrf(session: aiohttp.ClientSession, path: str) -> str:
    async with session.get(path) as page:
        assert page.status == 200, page.status
        return csrf_of(await page.text())
