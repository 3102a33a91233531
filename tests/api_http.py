"""Serving the staff API to a test: the app as ``intake serve`` builds it, tokens made
through the store as ``intake tokens create`` makes them, and calls with a bearer token."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp

from bot.app import create_app
from bot.engine import Engine
from bot.engine.loader import FlowSet
from bot.store.store import Store
from bot.store.tokens import TokenStore
from nlu.langid import LanguageIdentifier

from .serving import services_for, serving


@contextlib.asynccontextmanager
async def api_server(store: Store, flows: FlowSet, clock: Any) -> AsyncIterator[str]:
    engine = Engine(store, flows, clock=clock, idle_timeout=timedelta(hours=24), language_id=LanguageIdentifier())
    async with serving(create_app(services_for(engine, flows))) as base:
        yield base


async def make_token(store: Store, name: str, role: str, org: str, now: Any, days: int | None = None) -> str:
    _, token = await TokenStore(store).create(name, role, org, now, created_by="test", days=days)
    return token


@contextlib.asynccontextmanager
async def api_client(base: str, token: str | None) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession(base, headers=headers) as session:
        yield session


async def call(session: aiohttp.ClientSession, method: str, path: str, **kwargs: Any) -> tuple[int, str, Any]:
    """(status, content type, JSON body or text)."""
    async with session.request(method, path, **kwargs) as response:
        text = await response.text()
        kind = response.content_type
        body: Any = text
        if kind in ("application/json", "application/problem+json"):
            import json

            body = json.loads(text)
        return response.status, kind, body
